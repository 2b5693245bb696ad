"""Models page: every shipped model side by side, from its card plus a live latency."""

from __future__ import annotations

import streamlit as st

from fashion import charts
from fashion.ui import state

LATENCY_KEY = "latencies_ms"  # session_state: {model name: median ms}, measured on this page


def render() -> None:
    st.title("Models")
    cards = state.model_cards()
    if not cards:
        st.error("No trained model found in assets/models; run `python -m fashion train NAME`.")
        return
    st.caption(
        "Every shipped model, best first. Accuracy and per-class scores are measured on the "
        "official 10,000 test images when the model is trained (see its card); latency is "
        "measured now, on this machine, for one image through the Classifier's fast path."
    )
    latencies = st.session_state.setdefault(LATENCY_KEY, {})
    if st.button("Measure latency again", key="remeasure"):
        latencies.clear()
    for card in cards:
        if card["name"] not in latencies:
            with (
                state.friendly_errors(f"the latency of {card['name']}"),
                st.spinner(f"Timing {card['name']}…"),
            ):
                latencies[card["name"]] = state.measure_latency(card["name"])
    st.dataframe(
        [summary_row(card, latencies.get(card["name"])) for card in cards],
        hide_index=True,
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="%.2f%%"),
            "parameters": st.column_config.NumberColumn(format="localized"),
            "size (MB)": st.column_config.NumberColumn(format="%.2f"),
            "latency (ms)": st.column_config.NumberColumn(format="%.2f"),
            "train time (min)": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    st.subheader("Training curves")
    st.caption("Solid: training set; dashed: the held-out validation split.")
    st.plotly_chart(charts.training_curves(cards), key="curves")
    st.subheader("Per-class test accuracy")
    st.plotly_chart(charts.per_class_accuracy(cards), key="per-class")
    with st.expander("How to reproduce each model"):
        for card in cards:
            st.markdown(f"**{card['name']}**: {card.get('description', '')}")
            if card.get("command"):
                st.code(card["command"], language="bash")


def summary_row(card: dict, latency_ms: float | None) -> dict:
    """One table row from a model card (numbers as numbers so the table sorts them)."""
    acc = card.get("test_accuracy")
    size = card.get("file_bytes")
    secs = card.get("train_seconds")
    return {
        "model": card["name"],
        "test accuracy": None if acc is None else 100 * acc,
        "parameters": card.get("n_params"),
        "size (MB)": None if size is None else size / 1e6,
        "latency (ms)": latency_ms,
        "epochs": card.get("epochs"),
        "train time (min)": None if secs is None else secs / 60,
    }


if __name__ == "__main__":
    render()
