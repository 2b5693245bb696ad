"""The freehand drawing canvas, as the Classify and Map pages both use it.

A drawing outlives its canvas. Streamlit forgets a widget's state when a run does not
draw it, so a visit to another tab or page used to come back to an empty canvas. The
last drawing is kept in session state under keys no widget owns, and a canvas that is
mounted afresh starts from it (`initial_drawing`).

The drawing handed to the canvas stays the same for as long as the canvas stays
mounted: the component redraws itself whenever that argument changes, which would wipe
a stroke drawn while the previous stroke's rerun was still going.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st


@dataclass(frozen=True)
class Drawing:
    """What is on a canvas: its RGBA pixels and how many strokes made them."""

    rgba: np.ndarray
    strokes: int


@dataclass(frozen=True)
class _Kept:
    """A drawing as the canvas describes it (to redraw it) and as pixels (to classify it
    before the browser has sent anything back)."""

    json: dict
    drawing: Drawing


def garment_canvas(key: str, size: int, stroke_width: int) -> Drawing | None:
    """A white square canvas for black freehand strokes; None while it is empty.

    The pen is black on white like a pencil sketch; `fashion.preprocess.sketch` inverts it
    into the dataset's light-garment-on-black.
    """
    # The component registers itself on import, which needs a Streamlit runtime.
    from streamlit_drawable_canvas import st_canvas

    last_key, start_key = f"{key}__last", f"{key}__start"
    if key not in st.session_state:  # mounted afresh: first visit, or back from elsewhere
        st.session_state[start_key] = st.session_state.get(last_key)
    start: _Kept | None = st.session_state.get(start_key)
    result = st_canvas(
        stroke_width=stroke_width,
        stroke_color="#000000",
        background_color="#ffffff",
        height=size,
        width=size,
        drawing_mode="freedraw",
        initial_drawing=start.json if start else None,
        return_image_data=True,
        key=key,
    )
    if result.image_data is None:  # the browser has sent nothing since the mount
        return start.drawing if start else None
    strokes = (result.json_data or {}).get("objects") or []
    drawing = Drawing(np.asarray(result.image_data), len(strokes)) if strokes else None
    st.session_state[last_key] = _Kept(result.json_data, drawing) if drawing else None
    return drawing
