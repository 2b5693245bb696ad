"""The app as a server runs it: `streamlit run streamlit_app.py` (Streamlit hosts' default).

app.py holds the pages; this runs them with the public demo's server settings
(deploy/public.toml) in an `st.App` (Streamlit's ASGI entry point) that loads the model
and the data in the background as soon as the server starts, so no visitor waits for
TensorFlow, and answers `GET /api/ready` (503 while loading, then 200) without a browser
session. See fashion/ui/warmup.py and README, "Host it".
"""

import streamlit as st

from fashion.ui import warmup

warmup.apply_public_settings()  # deploy/public.toml: no file watcher, headless, ...
app = st.App("app.py", lifespan=warmup.lifespan, routes=warmup.routes())
