"""Classify page: upload a photo, sketch, or pick a test sample, and see the prediction."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fashion import preprocess
from fashion.classes import CLASS_NAMES
from fashion.ui import state
from fashion.ui.prediction import show_prediction

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif"]
SAMPLE_KEY = "sample_index"
CANVAS_SIZE = 280  # 10 canvas pixels per model pixel


def render() -> None:
    st.title("What's this garment?")
    st.caption(
        "A classifier trained on Fashion-MNIST: 70,000 28×28 grayscale images of ten kinds "
        "of clothing. Upload a photo, draw a sketch, or pick one of the 10,000 test images."
    )
    name = state.current_model()
    if name is None:
        st.error("No trained model is available, so nothing can be classified yet.")
        return
    upload_tab, sketch_tab, sample_tab = st.tabs(
        [
            ":material/photo_camera: Upload a photo",
            ":material/draw: Sketch",
            ":material/casino: Test sample",
        ]
    )
    with upload_tab, state.friendly_errors("the upload"):
        upload(name)
    with sketch_tab:
        sketch(name)
    with sample_tab, state.friendly_errors("the test sample"):
        test_sample(name)


def upload(name: str) -> None:
    file = st.file_uploader(
        "A photo of one garment, ideally on a plain background",
        type=UPLOAD_TYPES,
        key="upload",
        help="The photo is trimmed, centred, turned grayscale and shrunk to 28×28 like the "
        "dataset's images. Product photos on a light background work best.",
    )
    if file is None:
        st.info("Drop a photo above: a shoe, a bag, a shirt… (PNG, JPEG, WebP, BMP or GIF).")
        return
    try:
        prepared = preprocess.photo(file.getvalue())
    except preprocess.InputError as exc:
        st.error(f"This file cannot be used: {exc}")
        return
    show_prediction(prepared, name, key="upload", original=file.getvalue())


@st.fragment
def sketch(name: str) -> None:
    """The canvas and the prediction for what is on it.

    A fragment on purpose: each lifted pen sends the whole drawing and reruns only this
    function (a few tens of ms), not the page. As a full rerun, a stroke drawn while the
    previous stroke's rerun was still going interrupted that rerun, and Streamlit's end
    of an interrupted run deletes the media files of the run before it that the
    interrupted one had not re-sent yet: "What the model sees" went blank and the page
    kept the first stroke's answer until a rerun finally finished. Fragment reruns queue
    instead of interrupting each other, and the result's images are inline (see
    fashion.ui.images), so no rerun can take them away.
    """
    # The component registers itself on import, which needs a Streamlit runtime.
    from streamlit_drawable_canvas import st_canvas

    with state.friendly_errors("the sketch"):
        st.caption(
            "Draw one garment as a solid shape filling the box: the dataset's images are "
            "silhouettes of product photos, not outlines, so a wide brush works best. "
            "Undo, redo and clear: the toolbar that appears over the canvas."
        )
        controls, canvas_col = st.columns([1, 2])
        with controls:
            width = st.slider("Stroke width", 4, 40, 32, key="stroke_width")
        with canvas_col:
            # The canvas toolbar floats 2.65rem above the canvas when shown: keep that
            # room empty instead of letting it cover the caption.
            st.space(44)
            result = st_canvas(
                stroke_width=width,
                stroke_color="#000000",
                background_color="#ffffff",
                height=CANVAS_SIZE,
                width=CANVAS_SIZE,
                drawing_mode="freedraw",
                return_image_data=True,
                key="canvas",
            )
        strokes = (result.json_data or {}).get("objects") or []
        rgba = result.image_data
        if not strokes or rgba is None:
            st.info("Draw a garment above; the prediction updates each time you lift the pen.")
            return
        try:
            prepared = preprocess.sketch(np.asarray(rgba))
        except preprocess.InputError as exc:
            st.warning(str(exc))
            return
        # The stroke count says which drawing the answer is for (and lets a test wait for it).
        n = len(strokes)
        show_prediction(
            prepared,
            name,
            key="sketch",
            input_caption=f"Your drawing ({n} stroke{'s' * (n > 1)})",
        )


def _random_sample(class_label: int | None = None) -> None:
    labels = state.test_labels()
    pool = np.arange(len(labels)) if class_label is None else np.flatnonzero(labels == class_label)
    st.session_state[SAMPLE_KEY] = int(np.random.default_rng().choice(pool))


def test_sample(name: str) -> None:
    split = state.dataset().test
    st.session_state.setdefault(SAMPLE_KEY, 0)
    by_index, by_class, of_class, rand = st.columns([2, 2, 1.6, 1], vertical_alignment="bottom")
    by_index.number_input(
        "Test image index", min_value=0, max_value=len(split) - 1, step=1, key=SAMPLE_KEY
    )
    cls = by_class.selectbox(
        "Class", range(len(CLASS_NAMES)), format_func=CLASS_NAMES.__getitem__, key="sample_class"
    )
    of_class.button(
        "Random of this class",
        on_click=_random_sample,
        args=(cls,),
        key="random_of_class",
        width="stretch",
    )
    rand.button(
        "Random",
        icon=":material/casino:",
        on_click=_random_sample,
        key="random_sample",
        width="stretch",
    )
    index = int(st.session_state[SAMPLE_KEY])
    prepared = preprocess.dataset_image(split.images[index])
    st.caption(f"Test image #{index} of {len(split):,} (official test split).")
    show_prediction(prepared, name, true_label=int(split.labels[index]), key="sample")


if __name__ == "__main__":
    render()
