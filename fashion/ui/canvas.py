"""The freehand drawing canvas, as the Classify and Map pages both use it."""

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
    """A drawing as the canvas describes it (to redraw it) and as its pixels."""

    json: dict
    drawing: Drawing


def garment_canvas(key: str, size: int, stroke_width: int) -> Drawing | None:
    """A white square canvas for black freehand strokes; None while it is empty.

    The pen is black on white like a pencil sketch; `fashion.preprocess.sketch` inverts it
    into the dataset's light-garment-on-black. A drawing outlives the canvas: back from
    another page or tab, the visitor finds it where they left it, with its answer.
    """
    # The component registers itself on import, which needs a Streamlit runtime.
    from streamlit_drawable_canvas import st_canvas

    kept_key, start_key = f"{key}_kept", f"{key}_start"
    if key not in st.session_state:
        # The canvas is being mounted (first visit, or back from another page or tab):
        # it starts from the last drawing. That start must then stay the same object
        # for as long as the canvas lives: the component redraws itself from scratch
        # whenever its initial drawing changes, wiping a stroke drawn meanwhile.
        st.session_state[start_key] = st.session_state.get(kept_key)
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
    strokes = (result.json_data or {}).get("objects") or []
    if not strokes:
        st.session_state[kept_key] = None
        return None
    if result.image_data is None:
        # A restored drawing the visitor has not touched yet: the component sends
        # pixels only after a stroke, so its answer comes from the kept ones.
        if start is None or strokes != start.json.get("objects"):
            return None
        return start.drawing
    drawing = Drawing(np.asarray(result.image_data), len(strokes))
    st.session_state[kept_key] = _Kept(dict(result.json_data), drawing)
    return drawing
