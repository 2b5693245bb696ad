"""The result view shared by every way into the classifier (upload, sketch, test sample).

One function on purpose: explanations, calibration notes and out-of-distribution
warnings are added here, once, for all three inputs.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from fashion import charts, explain
from fashion.classes import CLASS_NAMES
from fashion.preprocess import Prepared
from fashion.ui import state
from fashion.ui.images import enlarge, png_data_url, preview_data_url
from fashion.uploads import decode

NOT_A_GARMENT = (
    "**This does not look like a garment.** The model was only ever shown clothes, "
    "shoes and bags, so it still names one of its ten classes, but this input is unlike "
    "anything it was trained on: take the answer below with a pinch of salt."
)


def top_k_text(probs: np.ndarray, k: int = 3) -> list[str]:
    """['Sneaker 91.2%', 'Sandal 6.0%', ...]: the k most likely classes in words."""
    order = np.argsort(-probs)[:k]
    return [f"{CLASS_NAMES[i]} {probs[i]:.1%}" for i in order]


def headline(probs: np.ndarray, true_label: int | None) -> str:
    """One line: the prediction, and for a test sample whether it is right."""
    pred = int(np.argmax(probs))
    if true_label is None:
        return f"Prediction: {CLASS_NAMES[pred]} ({probs[pred]:.1%})"
    if pred == true_label:
        return f":green[:material/check_circle:] Correct: {CLASS_NAMES[pred]} ({probs[pred]:.1%})"
    return (
        f":red[:material/cancel:] Wrong: predicted {CLASS_NAMES[pred]} ({probs[pred]:.1%}), "
        f"true label {CLASS_NAMES[true_label]}"
    )


def show_prediction(
    prepared: Prepared,
    name: str,
    true_label: int | None = None,
    key: str = "prediction",
    original: bytes | np.ndarray | None = None,
    input_caption: str = "Your input",
) -> None:
    """Input, the 28x28 image the model saw, the probability chart and the top 3 in words.

    Args:
        prepared: the model's input and how it was made (fashion.preprocess).
        name: the model to ask.
        true_label: the true class of a test sample, if known.
        key: unique per call site, for the element ids.
        original: what to show as the input (e.g. the uploaded file in colour);
            defaults to the first preprocessing step.
        input_caption: the caption under the input.
    """
    result = state.predict(name, prepared.image)
    probs = result.probs
    pred = int(np.argmax(probs))
    if result.not_garment:
        st.warning(NOT_A_GARMENT, icon=":material/warning:")
    st.subheader(headline(probs, true_label))
    explaining = st.toggle(
        "Explain: which pixels mattered?",
        key=f"{key}-explain",
        help="Occlusion sensitivity: hide each 6×6 patch in turn and measure how much the "
        f"probability of {CLASS_NAMES[pred]} drops. Bright = hiding it hurt the most.",
    )
    # A test image needs no "your input" column: it already is the 28x28 the model sees.
    show_input = original is not None or len(prepared.steps) > 1
    n_images = 1 + show_input + explaining
    cols = st.columns([1] * n_images + [2.2], vertical_alignment="center")
    # Inline images (fashion.ui.images): a rerun can never leave them blank.
    if show_input:
        if isinstance(original, bytes):
            shown = preview_data_url(decode(original))
        else:
            step = prepared.steps[0][1] if original is None else original
            shown = png_data_url(_displayable(step))
        cols[0].image(shown, caption=input_caption, width="stretch")
    cols[int(show_input)].image(
        png_data_url(enlarge(prepared.image, 8)),
        caption="What the model sees (28×28)",
        width="stretch",
    )
    if explaining:
        sal = state.saliency(name, prepared.image, pred)
        cols[n_images - 1].image(
            png_data_url(explain.overlay(prepared.image, sal)),
            caption=f"What made it say {CLASS_NAMES[pred]}",
            width="stretch",
        )
    with cols[-1]:
        st.plotly_chart(
            charts.probability_bars(probs, true_label),
            key=f"{key}-chart",
            config={"displayModeBar": False},
        )
    if true_label is not None:
        st.markdown(f"**True label:** {CLASS_NAMES[true_label]}")
    st.markdown("**Top 3:** " + " · ".join(top_k_text(probs)))
    st.caption(calibration_note(state.classifier(name).temperature))
    if len(prepared.steps) > 2:
        with st.expander("How the input was turned into a 28×28 image"):
            step_cols = st.columns(len(prepared.steps))
            for col, (caption, step) in zip(step_cols, prepared.steps, strict=True):
                col.image(png_data_url(_displayable(step)), caption=caption, width="stretch")


def calibration_note(temperature: float) -> str:
    if temperature == 1.0:
        return (
            "Probabilities are the model's raw softmax (this model has not been calibrated: "
            "`python -m fashion calibrate`)."
        )
    return (
        f"Probabilities are calibrated (temperature {temperature:.2f}, fitted on the "
        "validation split): of the images it calls 80% sure, about 80% are right."
    )


def _displayable(image: np.ndarray) -> np.ndarray:
    """Small images enlarged crisply; big ones (photos) passed through as uint8."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    if image.ndim == 2 and max(image.shape) <= 64:
        return enlarge(image, max(1, 224 // max(image.shape)))
    return image
