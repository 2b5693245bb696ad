"""Mistakes explorer: every misclassified test image of the selected model, filterable."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fashion import charts, explain, label_errors, metrics, preprocess
from fashion.classes import CLASS_NAMES, NUM_CLASSES
from fashion.ui import state
from fashion.ui.images import enlarge

PAGE_SIZE = 24
COLUMNS = 6
ANY = -1
ORDERS = {
    "confident": "Most confident wrong answer first",
    "true-low": "Lowest probability of the true class first",
    "label-error": "Possible label errors first",
    "index": "Test-set order",
}
SELECTED_KEY = "mistake_selected"


def render() -> None:
    st.title("Mistakes explorer")
    name = state.current_model()
    if name is None:
        st.error("No trained model is available.")
        return
    with state.friendly_errors("the mistakes"):
        show(name, state.test_probabilities(name), state.test_labels())


def _reset_page() -> None:
    st.session_state["mistake_page"] = 1
    st.session_state.pop(SELECTED_KEY, None)


def _select(index: int) -> None:
    st.session_state[SELECTED_KEY] = index


def show(name: str, probs: np.ndarray, labels: np.ndarray) -> None:
    fmt = {ANY: "Any", **dict(enumerate(CLASS_NAMES))}.__getitem__
    options = [ANY, *range(NUM_CLASSES)]
    a, b, c = st.columns(3)
    true_c = a.selectbox(
        "True class", options, format_func=fmt, key="mistake_true", on_change=_reset_page
    )
    pred_c = b.selectbox(
        "Predicted class", options, format_func=fmt, key="mistake_pred", on_change=_reset_page
    )
    order = c.selectbox(
        "Sort", list(ORDERS), format_func=ORDERS.get, key="mistake_order", on_change=_reset_page
    )
    idx = metrics.mistakes(
        probs,
        labels,
        true_class=None if true_c == ANY else true_c,
        predicted_class=None if pred_c == ANY else pred_c,
        order=order,
    )
    total_wrong = int((probs.argmax(axis=1) != labels).sum())
    if order == "label-error":
        st.info(
            f"{label_errors.NOTE} Listed here: mistakes where **{name}** puts at least "
            f"{label_errors.MIN_CONFIDENCE:.0%} on another class, the given label's "
            "probability lowest first.",
            icon=":material/label:",
        )
    st.caption(
        f"**{len(idx):,}** matching mistakes (of {total_wrong:,} by **{name}** on the "
        "10,000 test images)."
    )
    if len(idx) == 0:
        st.info("No mistakes match these filters.")
        return
    n_pages = -(-len(idx) // PAGE_SIZE)
    st.session_state.setdefault("mistake_page", 1)
    st.session_state["mistake_page"] = min(st.session_state["mistake_page"], n_pages)
    page = st.number_input(f"Page (of {n_pages})", 1, n_pages, step=1, key="mistake_page")
    shown = idx[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    # The inspected image goes above the grid, where the eye already is after a click.
    selected = st.session_state.get(SELECTED_KEY)
    if selected is not None:
        detail(name, int(selected), probs, labels)
    grid(shown, probs, labels)


def grid(shown: np.ndarray, probs: np.ndarray, labels: np.ndarray) -> None:
    thumbs = state.test_thumbnails(tuple(int(i) for i in shown))
    pred = probs.argmax(axis=1)
    for start in range(0, len(shown), COLUMNS):
        cols = st.columns(COLUMNS)
        for k, col in enumerate(cols[: len(shown) - start]):
            i = int(shown[start + k])
            with col:
                st.image(thumbs[start + k], width="stretch")
                # Button before the caption: captions wrap to 2-3 lines, buttons stay aligned.
                st.button(
                    "Inspect", key=f"inspect-{i}", on_click=_select, args=(i,), width="stretch"
                )
                st.caption(
                    f"#{i} · true **{CLASS_NAMES[labels[i]]}**  \n"
                    f"said {CLASS_NAMES[pred[i]]} {probs[i, pred[i]]:.0%}"
                )


def detail(name: str, i: int, probs: np.ndarray, labels: np.ndarray) -> None:
    st.subheader(f"Test image #{i}")
    pred = int(probs[i].argmax())
    image = preprocess.dataset_image(state.dataset().test.images[i]).image
    sal = state.saliency(name, image, pred)
    left, middle, right = st.columns([1, 1, 2.2], vertical_alignment="center")
    left.image(enlarge(image, 8), caption=f"True: {CLASS_NAMES[labels[i]]}", width="stretch")
    middle.image(
        explain.overlay(image, sal),
        caption=f"What made it say {CLASS_NAMES[pred]}",
        width="stretch",
    )
    with right:
        st.plotly_chart(
            charts.probability_bars(probs[i], int(labels[i])),
            key="mistake-chart",
            config={"displayModeBar": False},
        )
    st.divider()


if __name__ == "__main__":
    render()
