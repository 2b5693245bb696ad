"""The freehand drawing canvas, as the Classify and Map pages both use it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Drawing:
    """What is on a canvas: its RGBA pixels and how many strokes made them."""

    rgba: np.ndarray
    strokes: int


def garment_canvas(key: str, size: int, stroke_width: int) -> Drawing | None:
    """A white square canvas for black freehand strokes; None while it is empty.

    The pen is black on white like a pencil sketch; `fashion.data.preprocess.sketch` inverts it
    into the dataset's light-garment-on-black.
    """
    # The component registers itself on import, which needs a Streamlit runtime.
    from streamlit_drawable_canvas import st_canvas

    result = st_canvas(
        stroke_width=stroke_width,
        stroke_color="#000000",
        background_color="#ffffff",
        height=size,
        width=size,
        drawing_mode="freedraw",
        return_image_data=True,
        key=key,
    )
    strokes = (result.json_data or {}).get("objects") or []
    if not strokes or result.image_data is None:
        return None
    return Drawing(np.asarray(result.image_data), len(strokes))
