"""Models page: every shipped model side by side, from its card plus a live latency."""

from __future__ import annotations

import streamlit as st

from fashion.analysis import charts, metrics
from fashion.card import ModelCard
from fashion.classes import NUM_CLASSES
from fashion.trust import confidence
from fashion.ui import state

LATENCY_KEY = "latencies_ms"  # session_state: {model name: median ms}, measured on this page


def render() -> None:
    st.title("Models")
    # Models trained on the Playground in this session sit beside the shipped ones.
    cards = state.model_cards() + [own.card for own in state.session_models()]
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
            "temperature": st.column_config.NumberColumn(
                format="%.3f",
                help="What the raw scores are divided by, so the confidence "
                "shown matches how often the model is right (fitted on validation images)",
            ),
            "confidence off by": st.column_config.NumberColumn(
                format="%.2f%%",
                help="How far the confidence shown is from the accuracy "
                "reached, on average over the test images (expected calibration error, ECE)",
            ),
        },
    )
    st.subheader("Training curves")
    st.caption("Solid: training set; dashed: the held-out validation split.")
    smoothed = [c for c in cards if (c.config.get("label_smoothing") or 0) > 0]
    if smoothed:
        eps = float(smoothed[0].config["label_smoothing"])
        names = [c.name for c in smoothed]
        whose = (
            f"{names[0]}'s loss sits higher: it was"
            if len(names) == 1
            else f"the losses of {', '.join(names[:-1])} and {names[-1]} sit higher: they were"
        )
        st.caption(
            f"Why {whose} trained with *label smoothing* ({eps:g}): the loss compares the "
            f"model with softened targets ({1 - eps + eps / NUM_CLASSES:.0%} on the right "
            "class, the rest spread over the others), so even a perfect model scores "
            f"{metrics.smoothed_loss_floor(eps):.2f} (dotted line), not 0. Compare models by "
            "accuracy, not by this loss."
        )
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
        # What each answer averages over (chosen on validation: fashion/training/calibrate.py).
        "views per answer": card.views.replace("+", " + "),
        "train time (min)": card.train_seconds / 60 if card.train_seconds else None,
        "temperature": card.temperature if card.calibrated else None,
        "confidence off by": None if card.ece_after is None else 100 * card.ece_after,
    }


def trust(name: str) -> None:
    """Reliability diagram and "not a garment?" flag rates of the model picked in the sidebar."""
    st.subheader(f"Can you trust its confidence? ({name})")
    clf = state.classifier(name)
    labels = state.labels_of_test_set()
    raw = confidence.softmax(state.logits_on_test_set(name))
    calibrated = state.probabilities_on_test_set(name) if clf.card.calibrated else None
    before = confidence.ece(raw, labels)
    if calibrated is None:
        st.info(
            f"{name} is not calibrated yet (`python -m fashion calibrate --model {name}`): "
            f"its probabilities are the raw softmax, expected calibration error {before:.2%}."
        )
    shown = calibrated if calibrated is not None else raw
    ece = confidence.ece(shown, labels)
    headline = (
        f"When {name} says it is 80 % sure, it is right about 80 % of the time."
        if ece < 0.02
        else f"Take {name}'s confidence as a rough guide only."
    )
    st.markdown(
        f"**{headline}** Over the 10,000 test images, the confidence it shows and how "
        f"often it is actually right differ by **{ece:.1%}** on average. Each bar below is "
        "how often it was right on the test images where it showed that much confidence: "
        "bars on the diagonal mean its confidence can be taken at its word."
    )
    with st.expander("The figures: temperature, calibration error (ECE), method"):
        if calibrated is not None:
            after = confidence.ece(calibrated, labels)
            a, b, c = st.columns(3)
            a.metric("Temperature (fitted on validation)", f"{clf.temperature:.3f}")
            b.metric("ECE raw softmax", f"{before:.2%}")
            c.metric(
                "ECE as shown", f"{after:.2%}", delta=f"{after - before:+.2%}",
                delta_color="inverse",
            )  # fmt: skip
        st.caption(
            f"ECE (expected calibration error) {ece:.2%}: 15 equal-width bins of the top "
            "probability, each bin's |confidence - accuracy| weighted by its number of "
            "images. Bins with few images say little either way."
            + (f" Method: {clf.card.calibration}." if clf.card.calibration else "")
        )
    st.plotly_chart(charts.reliability_diagram(raw, calibrated, labels), key="reliability")
    r = state.reliability_on_test_set(name)
    rows = [
        {
            "confidence": f"{lo:.0%}–{hi:.0%}",
            "test images": int(n),
            "mean confidence": 100 * conf,
            "accuracy": 100 * acc,
        }
        for lo, hi, n, conf, acc in zip(
            r["lower"], r["upper"], r["count"], r["confidence"], r["accuracy"], strict=True
        )
        if n > 0
    ]
    with st.expander("Every bin: how many images, how sure, how right"):
        st.dataframe(
            rows,
            hide_index=True,
            column_config={
                "mean confidence": st.column_config.NumberColumn(format="%.1f%%"),
                "accuracy": st.column_config.NumberColumn(format="%.1f%%"),
            },
        )
    ood_rates(clf.card)


def ood_rates(card: ModelCard) -> None:
    st.subheader('"Unlike the training images": the not-a-garment warning')
    if not card.has_ood_check:
        st.info(
            "No not-a-garment check in this model's card yet "
            "(`python -m fashion calibrate`), so the warning never fires for it."
        )
        return
    st.markdown(
        "The warning *unlike the training images: not a garment?* appears when an input "
        "looks like nothing the model learned from (a face, a page of text, a cup), so its "
        f"answer should not be trusted. With {card.name} it appears on "
        f"**{card.ood_flag_rate_test:.1%} of real garments** (the official test images) "
        f"and on **{card.ood_flag_rate_generated:.0%} of the non-garments** we generate to "
        "check it."
    )
    with st.expander("The figures: flag rates, scores and thresholds"):
        if card.ood_flag_rate_val_photos is not None:
            homes = (
                ""
                if card.ood_flag_rate_val_homes is None
                else f", {card.ood_flag_rate_val_homes:.1%} of them as photos taken at home"
            )
            st.caption(
                "Thresholds chosen on validation images so that garments are left alone in "
                f"every form the app takes: {card.ood_flag_rate_val:.1%} of the validation "
                f"images flagged, {card.ood_flag_rate_val_photos:.1%} of them dressed as shop "
                f"photos{homes}, and {card.ood_flagged_val_sketches} of their drawn "
                "silhouettes that the model gets right with at least 80 % confidence."
            )
        by_kind = card.ood_flag_rate_by_kind
        if by_kind:
            st.dataframe(
                [{"non-garment": k, "flagged": 100 * v} for k, v in by_kind.items()],
                hide_index=True,
                column_config={"flagged": st.column_config.NumberColumn(format="%.0f%%")},
            )
        thresholds = ", ".join(f"{k} > {v:.3g}" for k, v in card.ood_thresholds.items())
        st.caption(
            f"Scores: {card.ood_score} (flagged when {thresholds}); {card.ood_generated}. "
            "Real photos and digits nobody in this project drew: benchmarks/RESULTS.md, "
            "sections not-garment and everyday-photos."
        )


if __name__ == "__main__":
    render()
