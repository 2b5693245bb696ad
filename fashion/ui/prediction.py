"""The result view shared by every way into the classifier (upload, sketch, test sample).

One function on purpose: explanations, calibration notes and out-of-distribution
warnings are added here, once, for all three inputs.
"""

from __future__ import annotations

import contextlib

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from fashion.analysis import charts
from fashion.classes import CLASS_NAMES
from fashion.data import official
from fashion.data.preprocess import Prepared
from fashion.data.uploads import decode
from fashion.serving import share
from fashion.serving.classifier import Prediction
from fashion.trust import explain
from fashion.ui import state
from fashion.ui.images import enlarge, png_data_url, preview_data_url

IMAGE_PX = 168  # each picture of a result: two fit a phone's width side by side

NOT_A_GARMENT = (
    "**Unlike the training images.** What the model sees here is far from every garment "
    "it learned from (measured on its internal features, layer by layer, and on how "
    "strongly any class responds). It "
    "only knows clothes, shoes and bags, so it still names one of its ten classes: "
    "treat the answer below as a guess."
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


# The same pictures are shown again and again: every visitor's first view is the same
# example, and a rerun (a toggle, a visit to another page and back) shows the same input.
# Encoded once per process, not once per run. Keyed by the pixels' bytes (Streamlit
# hashes only a sample of a large array), bounded: uploads are new every time.
@st.cache_data(show_spinner=False, max_entries=256)
def _png_of(shape: tuple[int, ...], dtype: str, pixels: bytes) -> str:
    return png_data_url(np.frombuffer(pixels, dtype).reshape(shape))


def _png(image: np.ndarray) -> str:
    """`png_data_url(image)`, cached."""
    image = np.ascontiguousarray(image)
    return _png_of(image.shape, image.dtype.str, image.tobytes())


@st.cache_resource(show_spinner=False, max_entries=64)
def _bars(probs: np.ndarray, true_label: int | None) -> go.Figure:
    """`charts.probability_bars`, built once per answer: st.plotly_chart only reads it."""
    return charts.probability_bars(probs, true_label)


@st.cache_data(show_spinner=False, max_entries=64)
def _photo_preview(data: bytes) -> str:
    """`preview_data_url` of a photo file, cached: decoding a phone photo takes a while."""
    return preview_data_url(decode(data))


def show_prediction(
    prepared: Prepared,
    name: str,
    true_label: int | None = None,
    key: str = "prediction",
    original: bytes | np.ndarray | None = None,
    input_caption: str = "Your input",
    download_name: str | None = None,
) -> None:
    """Input, the 28x28 image the model saw, the probability chart and the top 3 in words.

    Args:
        prepared: the model's input and how it was made (fashion.data.preprocess).
        name: the model to ask.
        true_label: the true class of a test sample, if known.
        key: unique per call site, for the element ids.
        original: what to show as the input (e.g. the uploaded file in colour);
            defaults to the first preprocessing step.
        input_caption: the caption under the input.
        download_name: offer the result for download, as files named after this.
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
    # A test image needs no "your input" picture: it already is the 28x28 the model sees.
    show_input = original is not None or len(prepared.steps) > 1
    # Pictures at a fixed size in a row that wraps, the chart beside them: on a phone the
    # columns stack and the chart follows a row of small pictures, not two screens of
    # full-width ones.
    pictures, chart = st.columns([1.15, 1], vertical_alignment="center")
    with pictures, st.container(horizontal=True, gap="small"):
        # Inline images (fashion.ui.images): a rerun can never leave them blank.
        if show_input:
            if isinstance(original, bytes):
                shown = _photo_preview(original)
            else:
                step = prepared.steps[0][1] if original is None else original
                shown = _png(_displayable(step))
            st.image(shown, caption=input_caption, width=IMAGE_PX)
        st.image(
            _png(enlarge(prepared.image, 8)),
            caption="What the model sees (28×28)",
            width=IMAGE_PX,
        )
        if explaining:
            sal = state.saliency(name, prepared.image, pred)
            st.image(
                _png(explain.overlay(prepared.image, sal)),
                caption=f"What made it say {CLASS_NAMES[pred]}",
                width=IMAGE_PX,
            )
    with chart:
        st.plotly_chart(
            _bars(probs, true_label),
            key=f"{key}-chart",
            config={"displayModeBar": False},
        )
    if true_label is not None:
        st.markdown(f"**True label:** {CLASS_NAMES[true_label]}")
    st.markdown("**Top 3:** " + " · ".join(top_k_text(probs)))
    if download_name is not None:
        downloads(prepared.image, result, download_name, key)
    # The note is measured on the test set: without the dataset (an upload, a sketch or a
    # drawn example still work) there is no note rather than an error under the answer.
    with contextlib.suppress(official.DatasetError):
        st.caption(
            calibration_note(state.classifier(name), state.reliability_on_test_set(name), probs)
        )
    _steps(prepared)


def _steps(prepared: Prepared) -> None:
    """Every step from the input to the 28x28, folded away (only when there are some)."""
    if len(prepared.steps) > 2:
        with st.expander("How the input was turned into a 28×28 image"):
            step_cols = st.columns(len(prepared.steps))
            for col, (caption, step) in zip(step_cols, prepared.steps, strict=True):
                col.image(_png(_displayable(step)), caption=caption, width="stretch")


def calibration_note(clf, reliability: dict, probs: np.ndarray) -> str:
    """What the shown confidence has meant on the test set: a measured sentence, never a
    promise. `reliability` is `calibration.reliability` of the test set as shown."""
    conf = float(np.max(probs))
    bins = len(reliability["count"])
    k = int(np.clip(np.ceil(conf * bins) - 1, 0, bins - 1))  # as calibration.reliability
    n, acc = int(reliability["count"][k]), reliability["accuracy"][k]
    lo, hi = reliability["lower"][k], reliability["upper"][k]
    how = (
        "raw softmax (not calibrated yet: `python -m fashion calibrate`)"
        if not clf.card.calibrated
        else "calibrated on the validation split"
    )
    if n == 0:
        return f"Probabilities: {how}. No test image got a confidence of {lo:.0%}–{hi:.0%}."
    return (
        f"Probabilities: {how}. Of the {n:,} test images this model was {lo:.0%}–{hi:.0%} "
        f"sure about, {acc:.0%} were right."
    )


def downloads(image: np.ndarray, result: Prediction, stem: str, key: str) -> None:
    """The result as files: the 28x28 image the model saw and its ten probabilities."""
    with st.container(horizontal=True, gap="small"):
        st.download_button(
            "28×28 image (PNG)",
            share.png_28(image),
            file_name=f"{stem}-28x28.png",
            mime="image/png",
            on_click="ignore",
            icon=":material/download:",
            key=f"{key}-png",
        )
        st.download_button(
            "Probabilities (CSV)",
            share.results_csv([(stem, result, None)]),
            file_name=f"{stem}-probabilities.csv",
            mime="text/csv",
            on_click="ignore",
            icon=":material/download:",
            key=f"{key}-csv",
        )


def _displayable(image: np.ndarray) -> np.ndarray:
    """Small images enlarged crisply; big ones (photos) passed through as uint8."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    if image.ndim == 2 and max(image.shape) <= 64:
        return enlarge(image, max(1, 224 // max(image.shape)))
    return image
