"""The Classify page's Sketch tab: draw a garment, get an answer for every stroke."""

from __future__ import annotations

import streamlit as st

from fashion.data import preprocess
from fashion.ui import state
from fashion.ui.canvas import garment_canvas
from fashion.ui.prediction import show_prediction

CANVAS_SIZE = 280  # 10 canvas pixels per model pixel


@st.fragment
def sketch_tab(name: str) -> None:
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
            drawing = garment_canvas("canvas", CANVAS_SIZE, width)
        if drawing is None:
            st.info("Draw a garment above; the prediction updates each time you lift the pen.")
            return
        try:
            prepared = preprocess.sketch(drawing.rgba)
        except preprocess.InputError as exc:
            st.warning(str(exc))
            return
        # The stroke count says which drawing the answer is for (and lets a test wait for it).
        n = drawing.strokes
        show_prediction(
            prepared,
            name,
            key="sketch",
            input_caption=f"Your drawing ({n} stroke{'s' * (n > 1)})",
            download_name="sketch",
        )
