"""Mistakes explorer: every misclassified test image of the selected model, filterable."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fashion.analysis import metrics
from fashion.classes import CLASS_NAMES, NUM_CLASSES
from fashion.trust import label_errors
from fashion.ui import detail, state

PAGE_SIZE = 24
ANY = -1
ORDERS = {
    "confident": "Most confident wrong answer first",
    "true-low": "Lowest probability of the true class first",
    "index": "Test-set order",
}
SCOPE = "mistakes"  # fashion.ui.detail: this page's open dialog and highlighted tile


def render() -> None:
    if (name := state.page_model("Mistakes explorer")) is None:
        return
    with state.friendly_errors("the mistakes"):
        probs, labels = state.probabilities_on_test_set(name), state.labels_of_test_set()
        show(name, probs, labels)
        detail.show_open(SCOPE, name, probs, labels)


def _reset_page() -> None:
    """New filters: back to their first page, and no detail of an image they may hide."""
    st.session_state["mistake_page"] = 1
    st.session_state.pop(f"{SCOPE}-open", None)


def show(name: str, probs: np.ndarray, labels: np.ndarray) -> None:
    fmt = {ANY: "Any", **dict(enumerate(CLASS_NAMES))}.__getitem__
    options = [ANY, *range(NUM_CLASSES)]
    # persist_state: the filters are still set after a visit to another page.
    a, b, c = st.columns(3)
    true_c, pred_c = (
        col.selectbox(
            label, options, format_func=fmt, key=key, on_change=_reset_page, persist_state="session"
        )  # fmt: skip
        for col, label, key in (
            (a, "True class", "mistake_true"),
            (b, "Predicted class", "mistake_pred"),
        )  # fmt: skip
    )
    suspects = st.toggle(
        "Only possible label errors",
        key="mistake_label_errors",
        on_change=_reset_page,
        persist_state="session",
        help="A filter: keeps the mistakes where the model puts at least "
        f"{label_errors.MIN_CONFIDENCE:.0%} on another class, most suspicious first.",
    )
    order = c.selectbox(
        "Sort",
        list(ORDERS),
        format_func=ORDERS.get,
        key="mistake_order",
        on_change=_reset_page,
        persist_state="session",
        disabled=suspects,
        help="Possible label errors are listed most suspicious first." if suspects else None,
    )
    idx = metrics.mistakes(
        probs,
        labels,
        true_class=None if true_c == ANY else true_c,
        predicted_class=None if pred_c == ANY else pred_c,
        order="label-error" if suspects else order,
    )
    total_wrong = int((probs.argmax(axis=1) != labels).sum())
    if suspects:
        st.info(
            f"{label_errors.NOTE} This filter keeps the mistakes where **{name}** puts at "
            f"least {label_errors.MIN_CONFIDENCE:.0%} on another class, the given label's "
            "probability lowest first.",
            icon=":material/label:",
        )
    st.caption(
        f"**{len(idx):,}** matching mistakes (of {total_wrong:,} by **{name}** on the "
        "10,000 test images). **Inspect** one to see what the model saw."
    )
    if len(idx) == 0:
        st.info("No mistakes match these filters.")
        return
    n_pages = -(-len(idx) // PAGE_SIZE)
    st.session_state.setdefault("mistake_page", 1)
    st.session_state["mistake_page"] = min(st.session_state["mistake_page"], n_pages)
    page = st.number_input(
        f"Page (of {n_pages})", 1, n_pages, step=1, key="mistake_page", persist_state="session"
    )
    shown = idx[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    detail.grid(SCOPE, shown, probs, labels, button_key="inspect")


if __name__ == "__main__":
    render()
