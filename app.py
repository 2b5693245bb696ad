"""Fashion-MNIST demo: `streamlit run app.py`.

Only layout lives here; each page is a module in fashion/ui and the model picker in
the sidebar is shared by all of them through st.session_state.
"""

import streamlit as st

from fashion.ui import links, state, style
from fashion.ui.images import favicon

# The icon is drawn by the project (a :material/...: icon is fetched from a font CDN).
st.set_page_config(page_title="Fashion-MNIST classifier", page_icon=favicon(), layout="wide")
style.apply()

# File pages (not callables) so AppTest.switch_page can open each one in tests.
PAGES = [
    st.Page(
        "fashion/ui/classify.py",
        title="Classify",
        icon=":material/checkroom:",
        url_path="classify",
        default=True,
    ),
    st.Page(
        "fashion/ui/confusion.py",
        title="Confusion matrix",
        icon=":material/grid_on:",
        url_path="confusion",
    ),
    st.Page(
        "fashion/ui/mistakes.py",
        title="Mistakes explorer",
        icon=":material/search:",
        url_path="mistakes",
    ),
    st.Page("fashion/ui/map.py", title="Map", icon=":material/scatter_plot:", url_path="map"),
    st.Page(
        "fashion/ui/compare.py",
        title="Model vs model",
        icon=":material/compare_arrows:",
        url_path="compare",
    ),
    st.Page(
        "fashion/ui/models.py", title="Models", icon=":material/monitoring:", url_path="models"
    ),
    st.Page(
        "fashion/ui/playground.py",
        title="Playground",
        icon=":material/model_training:",
        url_path="playground",
    ),
    st.Page(
        "fashion/ui/dataset.py", title="Dataset", icon=":material/dataset:", url_path="dataset"
    ),
]

page = st.navigation(PAGES)
links.restore()  # what the URL asks for (model, input, test image): a link opens that view
if requested := links.take(links.MODEL):
    st.session_state[state.MODEL_KEY] = requested  # the picker falls back if it is unknown
with st.sidebar:
    with state.friendly_errors("the model list"):
        state.model_picker()
    st.caption("Fashion-MNIST · Keras · Streamlit")
page.run()
links.sync(state.current_model())
