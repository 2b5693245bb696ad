"""Classify page: an example, photos, the camera, a sketch or a test image -> the prediction.

The page opens on an example already classified, so there is an answer before the first
click. Each input mode is a tab; only the open tab runs. What the user chose (mode,
example, uploads, camera photo, test image) is kept in session state under keys no
widget owns, so it is still there after a visit to another page, and the mode, example
and test image are in the URL (fashion.ui.links), so a link opens the same view.
"""

from __future__ import annotations

import streamlit as st

from fashion.ui import links, state
from fashion.ui.inputs import drawing, gallery, photos, sample

# Input modes: the key (in the URL) -> the tab's label.
MODES = {
    "examples": ":material/auto_awesome: Examples",
    "upload": ":material/upload: Upload",
    "camera": ":material/photo_camera: Camera",
    "sketch": ":material/draw: Sketch",
    "sample": ":material/casino: Test sample",
}


# session_state keys. The *_KEY ones belong to widgets (Streamlit drops them when the
# widget is not drawn, e.g. on another page); the stores keep the user's choice.
TABS_KEY = "classify_tabs"


MODE_STORE = "classify_mode"


def render() -> None:
    st.title("What's this garment?")
    st.caption(
        "A classifier trained on Fashion-MNIST: 70,000 28×28 grayscale images of ten kinds "
        "of clothing. Try an example, upload photos, take one, draw one, or pick one of "
        "the 10,000 test images."
    )
    name = state.current_model()
    if name is None:
        st.error("No trained model is available, so nothing can be classified yet.")
        return
    _follow_link()
    mode = _mode_tabs()
    links.page_params(mode=mode)
    # Last: on a phone, nothing may push the input and its answer down.
    _use_via_api(name)


def _use_via_api(model: str) -> None:
    """How to get the same answers from code: this server's own HTTP API (README, "Use
    it from code"; fashion.serving.api)."""
    base = server_url(st.context.url)
    with st.popover("Use via API", icon=":material/code:"):
        st.markdown(
            "The same answers from code, on this server: `POST` an image to "
            "`/api/predict` (a batch of up to 16 as multipart fields named `file`)."
        )
        st.code(
            f'curl -s --data-binary @shirt.jpg -H "Content-Type: image/jpeg" \\\n'
            f'  "{base}/api/predict?model={model}"',
            language="bash",
        )
        st.markdown(
            f"Options `model=` and `input=photo|sketch|dataset`; the models are listed at "
            f"[/api/models]({base}/api/models), the whole description at "
            f"[/api/openapi.json]({base}/api/openapi.json). The README's *Use it from code* "
            "has a Python example and the limits."
        )


def server_url(page_url: str | None) -> str:
    """The server's root URL from the page's (scheme and host only); a default when the
    page has none (e.g. under AppTest)."""
    from urllib.parse import urlsplit

    parts = urlsplit(page_url or "")
    if not (parts.scheme and parts.netloc):
        return "http://localhost:8501"
    return f"{parts.scheme}://{parts.netloc}"


def _follow_link() -> None:
    """Seed the stores from the URL the session was opened with (once)."""
    example, index, mode = (
        links.take(links.EXAMPLE),
        links.take(links.SAMPLE),
        links.take(links.MODE),
    )
    if example is not None:
        st.session_state[gallery.EXAMPLE_STORE] = example  # checked against the offer when drawn
        mode = mode or "examples"
    if index is not None:
        sample.set_sample(index)
        mode = mode or "sample"
    if mode in MODES:
        st.session_state[MODE_STORE] = mode
        st.session_state[TABS_KEY] = MODES[mode]


def _mode_tabs() -> str:
    """The input tabs; runs the open one and returns its mode."""
    mode = st.session_state.get(MODE_STORE, "examples")
    if TABS_KEY not in st.session_state:  # first visit, or back from another page
        st.session_state[TABS_KEY] = MODES.get(mode, MODES["examples"])
    # on_change="rerun": the tabs report which one is open, so only that one runs.
    tabs = st.tabs(list(MODES.values()), key=TABS_KEY, on_change="rerun")
    by_label = {label: key for key, label in MODES.items()}
    mode = by_label.get(st.session_state.get(TABS_KEY), "examples")
    st.session_state[MODE_STORE] = mode
    runs = {
        "examples": gallery.example_tab,
        "upload": photos.upload_tab,
        "camera": photos.camera_tab,
        "sketch": drawing.sketch_tab,
        "sample": sample.sample_tab,
    }
    for key, tab in zip(MODES, tabs, strict=True):
        if tab.open or (tab.open is None and key == mode):
            with tab:
                runs[key](state.current_model())
    return mode


if __name__ == "__main__":
    render()
