"""Models page: every shipped model side by side, from its card plus a live latency."""

from __future__ import annotations

import streamlit as st

from fashion import calibration, charts
from fashion.card import ModelCard
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
        if card.name not in latencies:
            with (
                state.friendly_errors(f"the latency of {card.name}"),
                st.spinner(f"Timing {card.name}…"),
            ):
                latencies[card.name] = state.measure_latency(card.name)
    st.dataframe(
        [summary_row(card, latencies.get(card.name)) for card in cards],
        hide_index=True,
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="%.2f%%"),
            "parameters": st.column_config.NumberColumn(format="localized"),
            "size (MB)": st.column_config.NumberColumn(format="%.2f"),
            "latency (ms)": st.column_config.NumberColumn(format="%.2f"),
            "train time (min)": st.column_config.NumberColumn(format="%.1f"),
            "temperature": st.column_config.NumberColumn(format="%.3f"),
            "ECE calibrated": st.column_config.NumberColumn(format="%.2f%%"),
        },
    )
    st.subheader("Training curves")
    st.caption("Solid: training set; dashed: the held-out validation split.")
    st.plotly_chart(charts.training_curves(cards), key="curves")
    st.subheader("Per-class test accuracy")
    st.plotly_chart(charts.per_class_accuracy(cards), key="per-class")
    name = state.current_model()
    if name is not None:
        with state.friendly_errors(f"the calibration of {name}"):
            trust(name)
    with st.expander("How to reproduce each model"):
        for card in cards:
            st.markdown(f"**{card.name}**: {card.description}")
            if card.command:
                st.code(card.command, language="bash")


def summary_row(card: ModelCard, latency_ms: float | None) -> dict:
    """One table row from a model card (numbers as numbers so the table sorts them)."""
    acc = card.test_accuracy
    return {
        "model": card.name,
        "test accuracy": None if acc is None else 100 * acc,
        "parameters": card.n_params,
        "size (MB)": card.file_bytes / 1e6 if card.file_bytes else None,
        "latency (ms)": latency_ms,
        "epochs": card.epochs,
        "train time (min)": card.train_seconds / 60 if card.train_seconds else None,
        "temperature": card.temperature if card.calibrated else None,
        "ECE calibrated": None if card.ece_after is None else 100 * card.ece_after,
    }


def trust(name: str) -> None:
    """Reliability diagram and "not a garment?" flag rates of the model picked in the sidebar."""
    st.subheader(f"Can you trust its confidence? ({name})")
    clf = state.classifier(name)
    labels = state.test_labels()
    raw = calibration.softmax(state.test_logits(name))
    calibrated = state.test_probabilities(name) if clf.temperature != 1.0 else None
    before = calibration.ece(raw, labels)
    if calibrated is None:
        st.info(
            f"{name} is not calibrated yet (`python -m fashion calibrate --model {name}`): "
            f"its probabilities are the raw softmax, expected calibration error {before:.2%}."
        )
    else:
        after = calibration.ece(calibrated, labels)
        a, b, c = st.columns(3)
        a.metric("Temperature (fitted on validation)", f"{clf.temperature:.3f}")
        b.metric("ECE before", f"{before:.2%}")
        c.metric(
            "ECE calibrated", f"{after:.2%}", delta=f"{after - before:+.2%}", delta_color="inverse"
        )
    st.caption(
        "Each bar is the accuracy of the test images whose top probability falls in that "
        "bin; a calibrated model's bars sit on the diagonal. ECE: 15 bins, official test set."
    )
    st.plotly_chart(charts.reliability_diagram(raw, calibrated, labels), key="reliability")
    ood_rates(clf.card)


def ood_rates(card: ModelCard) -> None:
    st.subheader('"This does not look like a garment"')
    if not card.has_ood_check:
        st.info(
            "No not-a-garment threshold in this model's card yet "
            "(`python -m fashion calibrate`), so the warning never fires for it."
        )
        return
    a, b = st.columns(2)
    a.metric("Official test images flagged", f"{card.ood_flag_rate_test:.1%}")
    b.metric("Generated non-garments flagged", f"{card.ood_flag_rate_generated:.1%}")
    by_kind = card.ood_flag_rate_by_kind
    if by_kind:
        st.dataframe(
            [{"non-garment": k, "flagged": 100 * v} for k, v in by_kind.items()],
            hide_index=True,
            column_config={"flagged": st.column_config.NumberColumn(format="%.0f%%")},
        )
    st.caption(
        f"Score: {card.ood_score or 'energy'}; "
        + (card.ood_generated or f"threshold {card.ood_threshold:.3f}")
    )


if __name__ == "__main__":
    render()
