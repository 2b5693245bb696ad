"""The result view shared by every way into the classifier (upload, sketch, test sample).

One function on purpose: explanations, calibration notes and out-of-distribution
warnings are added here, once, for all three inputs.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from fashion import charts
from fashion.classes import CLASS_NAMES
from fashion.ui.images import enlarge


def top_k_text(probs: np.ndarray, k: int = 3) -> list[str]:
    """['Sneaker 91.2%', 'Sandal 6.0%', ...]: the k most likely classes in words."""
    order = np.argsort(-probs)[:k]
    return [f"{CLASS_NAMES[i]} {probs[i]:.1%}" for i in order]


def show_prediction(
    prepared,
    probs: np.ndarray,
    true_label: int | None = None,
    key: str = "prediction",
    original=None,
) -> None:
    """Input, the 28x28 image the model saw, the probability chart and the top 3 in words.

    Args:
        prepared: a `fashion.preprocess.Prepared` (image + preprocessing steps).
        probs: (10,) probabilities for `prepared.image`.
        true_label: the true class of a test sample, if known.
        key: unique per call site, for the chart's element id.
        original: what to show as the input (e.g. the uploaded file in colour);
            defaults to the first preprocessing step.
    """
    pred = int(np.argmax(probs))
    top = top_k_text(probs)
    if true_label is None:
        st.subheader(f"Prediction: {CLASS_NAMES[pred]} ({probs[pred]:.1%})")
    elif pred == true_label:
        st.subheader(f"✅ Correct: {CLASS_NAMES[pred]} ({probs[pred]:.1%})")
    else:
        st.subheader(
            f"❌ Wrong: predicted {CLASS_NAMES[pred]} ({probs[pred]:.1%}), "
            f"true label {CLASS_NAMES[true_label]}"
        )
    left, middle, right = st.columns([1, 1, 2.2], vertical_alignment="center")
    if original is None:
        original = _displayable(prepared.steps[0][1] if prepared.steps else prepared.image)
    with left:
        st.image(original, caption="Your input", width="stretch")
    with middle:
        st.image(enlarge(prepared.image, 8), caption="What the model sees (28×28)", width="stretch")
    with right:
        st.plotly_chart(
            charts.probability_bars(probs, true_label),
            key=f"{key}-chart",
            config={"displayModeBar": False},
        )
    if true_label is not None:
        st.markdown(f"**True label:** {CLASS_NAMES[true_label]}")
    st.markdown("**Top 3:** " + " · ".join(top))
    if len(prepared.steps) > 2:
        with st.expander("How the input was turned into a 28×28 image"):
            cols = st.columns(len(prepared.steps))
            for col, (caption, step) in zip(cols, prepared.steps, strict=True):
                col.image(_displayable(step), caption=caption, width="stretch")


def _displayable(image: np.ndarray) -> np.ndarray:
    """Small images enlarged crisply; big ones (photos) passed through as uint8."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    if image.ndim == 2 and max(image.shape) <= 64:
        return enlarge(image, max(1, 224 // max(image.shape)))
    return image
