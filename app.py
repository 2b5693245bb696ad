"""Fashion-MNIST demo: `streamlit run app.py`.

Only layout lives here; each page is a module in fashion/ui/pages (listed in its
__init__) and the model picker in the sidebar is shared by all of them through
st.session_state.
"""

import streamlit as st

from fashion.ui import links, pages, state, style
from fashion.ui.images import favicon

# The icon is drawn by the project (a :material/...: icon is fetched from a font CDN).
st.set_page_config(page_title="Fashion-MNIST classifier", page_icon=favicon(), layout="wide")
style.apply()

# File pages (not callables) so AppTest.switch_page can open each one in tests.
page = st.navigation(
    [
        st.Page(p.path, title=p.title, icon=p.icon, url_path=p.slug, default=p.default)
        for p in pages.PAGES
    ]
)
links.restore()  # what the URL asks for (model, input, test image): a link opens that view
if requested := links.take(links.MODEL):
    st.session_state[state.MODEL_KEY] = requested  # the picker falls back if it is unknown
with st.sidebar:
    with state.friendly_errors("the model list"):
        state.model_picker()
    st.caption("Fashion-MNIST · Keras · Streamlit")
page.run()
links.sync(state.current_model())
