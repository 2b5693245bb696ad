"""Confusion matrix page: where the selected model goes wrong on the official test set."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fashion.analysis import charts, metrics
from fashion.classes import CLASS_NAMES, NUM_CLASSES
from fashion.ui import detail, state

PAIR_KEYS = ("cm_true", "cm_pred")  # session_state keys of the inspected (true, predicted) cell
MAX_SAMPLES = 24
SCOPE = "confusion"  # fashion.ui.detail: this page's open dialog and highlighted tile


def render() -> None:
    if (name := state.page_model("Confusion matrix")) is None:
        return
    with state.friendly_errors("the confusion matrix"):
        probs = state.probabilities_on_test_set(name)
        labels = state.labels_of_test_set()
        show(name, probs, labels)
        detail.show_open(SCOPE, name, probs, labels)


def _select_cell() -> None:
    """Chart click -> the (true, predicted) select boxes, so both stay in step."""
    event = st.session_state.get("cm_chart") or {}
    for point in event.get("selection", {}).get("points", []):
        cell = charts.confusion_cell(point)
        if cell is not None:
            st.session_state[PAIR_KEYS[0]], st.session_state[PAIR_KEYS[1]] = cell
            return


def show(name: str, probs: np.ndarray, labels: np.ndarray) -> None:
    pred = probs.argmax(axis=1)
    cm = metrics.confusion_matrix(labels, pred)
    acc = metrics.accuracy(labels, pred)
    total = int(cm.sum())
    # Side by side in a row that wraps: columns would stack them on a phone, three
    # big numbers filling the first screen.
    with st.container(horizontal=True, gap="medium"):
        st.metric("Test accuracy", f"{acc:.2%}", width="content")
        st.metric("Test images", f"{total:,}", width="content")
        st.metric("Mistakes", f"{total - int(np.trace(cm)):,}", width="content")
    view = st.segmented_control(
        "Show",
        ["Counts", "Row-normalised"],
        default="Counts",
        key="cm_view",
        persist_state="session",
    )
    st.caption(
        f"Model **{name}** on the official 10,000 test images; rows are the true class, "
        "columns the prediction. Green: right answers; red: mistakes, the darker the more "
        "(relative to the most common mistake). **Click a cell** to see its images."
    )
    st.session_state.setdefault(PAIR_KEYS[0], 6)  # Shirt, the class everyone confuses
    st.session_state.setdefault(PAIR_KEYS[1], 0)
    selected = (int(st.session_state[PAIR_KEYS[0]]), int(st.session_state[PAIR_KEYS[1]]))
    fig = charts.confusion_heatmap(cm, normalized=view == "Row-normalised", selected=selected)
    st.plotly_chart(
        fig,
        key="cm_chart",
        on_select=_select_cell,
        selection_mode="points",
        config={"displayModeBar": False},
    )
    cell_samples(probs, labels, pred, cm)
    scores_table(cm)


def cell_samples(probs: np.ndarray, labels: np.ndarray, pred: np.ndarray, cm: np.ndarray) -> None:
    st.subheader("Images in a cell")
    fmt = CLASS_NAMES.__getitem__
    left, right = st.columns(2)
    true_c = left.selectbox(
        "True class", range(NUM_CLASSES), format_func=fmt, key=PAIR_KEYS[0], persist_state="session"
    )
    pred_c = right.selectbox(
        "Predicted class",
        range(NUM_CLASSES),
        format_func=fmt,
        key=PAIR_KEYS[1],
        persist_state="session",
    )
    idx = np.flatnonzero((labels == true_c) & (pred == pred_c))
    # Most confident first: the surprising ones are the interesting ones.
    idx = idx[np.argsort(-probs[idx, pred_c], kind="stable")]
    st.markdown(
        f"**{len(idx)}** test images of **{fmt(true_c)}** predicted as **{fmt(pred_c)}**"
        + (f" (showing the {MAX_SAMPLES} most confident)" if len(idx) > MAX_SAMPLES else "")
    )
    if len(idx) == 0:
        st.info("No test image falls in this cell.")
        return
    detail.grid(SCOPE, idx[:MAX_SAMPLES], probs, labels, button_key="cm-inspect")


def scores_table(cm: np.ndarray) -> None:
    st.subheader("Per-class scores")
    precision, recall, f1 = metrics.precision_recall_f1(cm)
    rows = [
        {
            "class": CLASS_NAMES[k],
            "precision": float(precision[k]),
            "recall": float(recall[k]),
            "F1": float(f1[k]),
            "support": int(cm[k].sum()),
        }
        for k in range(NUM_CLASSES)
    ]
    pct = st.column_config.NumberColumn(format="%.1f%%")
    st.dataframe(
        [{**r, **{k: 100 * r[k] for k in ("precision", "recall", "F1")}} for r in rows],
        hide_index=True,
        column_config={"precision": pct, "recall": pct, "F1": pct},
    )


if __name__ == "__main__":
    render()
