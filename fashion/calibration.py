"""Confidence calibration: temperature scaling, expected calibration error, reliability diagram.

A network trained with cross-entropy is usually over-confident: among the images it
calls "90% Coat", fewer than 90% are coats. Temperature scaling (Guo et al., 2017,
"On Calibration of Modern Neural Networks") divides every logit by one scalar T fitted
on held-out data; it never changes the predicted class, only how sure the model says it is.

T is fitted on the *validation* split the model was trained beside (rebuilt from the
card's config), never on the test set, which only reports the result.
`python -m fashion calibrate` writes T into the card, and `Classifier.predict_proba`
divides by it, so the app shows calibrated probabilities from then on.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

import numpy as np

from fashion import data

N_BINS = 15  # the usual ECE setting (Guo et al.); 10k test images -> ~670 per bin on average


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(N, K) float64 probabilities of softmax(logits / temperature)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true labels under softmax(logits / temperature)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    m = z.max(axis=1, keepdims=True)
    log_norm = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    return float(np.mean(log_norm - z[np.arange(len(z)), np.asarray(labels, dtype=np.int64)]))


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, low: float = 0.05, high: float = 20.0
) -> float:
    """The temperature minimising NLL on (logits, labels).

    NLL is convex in 1/T (the logits scale linearly with it), hence unimodal in log T,
    so a golden-section search over log T finds the global minimum without any gradient.

    Args:
        logits: (N, K) raw logits (not divided by any temperature yet).
        labels: (N,) int labels.
        low, high: search interval for T.

    Returns:
        The fitted temperature (> 1 means the model was over-confident).
    """
    if len(labels) == 0:
        raise ValueError("cannot fit a temperature on an empty set")
    a, b = math.log(low), math.log(high)
    inv_phi = (math.sqrt(5) - 1) / 2
    c, d = b - inv_phi * (b - a), a + inv_phi * (b - a)
    fc, fd = nll(logits, labels, math.exp(c)), nll(logits, labels, math.exp(d))
    while b - a > 1e-5:  # 1e-5 in log T: T to 5 significant digits
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - inv_phi * (b - a)
            fc = nll(logits, labels, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + inv_phi * (b - a)
            fd = nll(logits, labels, math.exp(d))
    return float(math.exp((a + b) / 2))


def reliability(probs: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> dict:
    """Per-bin confidence and accuracy: the numbers behind ECE and the reliability diagram.

    Bins are equal-width on the confidence (the top probability): bin m holds the
    samples with (m - 1) / n_bins < confidence <= m / n_bins.

    Returns:
        dict of (n_bins,) arrays: "lower", "upper" (bin edges), "count", "confidence"
        (mean top probability), "accuracy" (fraction correct); the last two are NaN for an
        empty bin.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    # ceil(conf * n) - 1 puts a confidence exactly on an edge into the lower bin.
    bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, weights=conf, minlength=n_bins) / count
        mean_acc = np.bincount(bins, weights=correct, minlength=n_bins) / count
    edges = np.arange(n_bins + 1) / n_bins
    return {
        "lower": edges[:-1],
        "upper": edges[1:],
        "count": count.astype(np.int64),
        "confidence": mean_conf,
        "accuracy": mean_acc,
    }


def ece(probs: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> float:
    """Expected calibration error: sum over bins of (bin share) * |accuracy - confidence|.

    Args:
        probs: (N, K) probabilities.
        labels: (N,) int labels.
        n_bins: number of equal-width confidence bins.

    Returns:
        ECE in [0, 1].
    """
    r = reliability(probs, labels, n_bins)
    filled = r["count"] > 0
    gaps = np.abs(r["accuracy"][filled] - r["confidence"][filled])
    return float(np.sum(r["count"][filled] / r["count"].sum() * gaps))


def reliability_diagram(
    probs_before: np.ndarray,
    probs_after: np.ndarray | None,
    labels: np.ndarray,
    n_bins: int = N_BINS,
    title: str = "Reliability diagram (test set)",
):
    """A plotly reliability diagram: accuracy per confidence bin vs the diagonal.

    Args:
        probs_before: (N, K) probabilities with temperature 1.
        probs_after: (N, K) calibrated probabilities, or None to draw one series only.
        labels: (N,) int labels.

    Returns:
        plotly.graph_objects.Figure with one bar series per input, ECE in the legend.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    series = [("before (T = 1)", probs_before, "#999999")]
    if probs_after is not None:
        series.append(("calibrated", probs_after, "#1f77b4"))
    for name, probs, color in series:
        r = reliability(probs, labels, n_bins)
        centers = (r["lower"] + r["upper"]) / 2
        fig.add_trace(
            go.Bar(
                x=centers,
                y=np.nan_to_num(r["accuracy"]),
                width=1 / n_bins * (0.9 if probs_after is None else 0.45),
                name=f"{name}: ECE {ece(probs, labels, n_bins):.2%}",
                marker_color=color,
                customdata=np.stack([r["count"], np.nan_to_num(r["confidence"])], axis=-1),
                hovertemplate="accuracy %{y:.3f}<br>mean confidence %{customdata[1]:.3f}"
                "<br>%{customdata[0]} images<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfectly calibrated",
            line={"dash": "dash", "color": "black"},
        )
    )
    fig.update_layout(
        title=title,
        barmode="group",
        xaxis={"title": "confidence (top probability)", "range": [0, 1]},
        yaxis={"title": "accuracy", "range": [0, 1]},
        legend={"x": 0.01, "y": 0.99},
    )
    return fig


def training_split(card: dict) -> tuple[data.Split, data.Split]:
    """The exact (fit, validation) splits a model was trained on, rebuilt from its card.

    Training took the first `limit` training images (if set), then a stratified split
    with `val_fraction` and `seed`; doing the same here gives the same images.
    """
    cfg = card.get("config", {})
    train = data.train_set()
    if cfg.get("limit"):
        train = data.Split(train.images[: cfg["limit"]], train.labels[: cfg["limit"]])
    fit, val = data.train_val_split(train, cfg.get("val_fraction", 0.1), cfg.get("seed", 0))
    if len(val) == 0:
        name = card.get("name")
        raise ValueError(f"{name}: trained without a validation split; cannot calibrate")
    return fit, val


def calibrate_model(name: str, models_dir: Path | None = None) -> dict:
    """Fit the temperature and the "not a garment?" thresholds; write them into the card.

    Only fields are added (or replaced): the weights, the test accuracy and every
    prediction's argmax stay exactly as they were.

    Args:
        name: a shipped model.
        models_dir: where NAME.keras / NAME.json live (default assets/models).

    Returns:
        The fields written into the card (every other card field is kept as it was).
    """
    from fashion import ood
    from fashion.inference import MODELS_DIR, Classifier

    models_dir = Path(models_dir or MODELS_DIR)
    clf = Classifier.load(name, models_dir=models_dir)
    # Raw logits: Classifier.logits ignores any temperature already in the card.
    fit, val = training_split(clf.card)
    val_images = val.as_float()
    val_logits = clf.logits(val_images)
    test = data.test_set()
    test_images = test.as_float()
    test_logits = clf.logits(test_images)

    # Rounded once, here: every figure below is computed with the T the app will use.
    t = round(fit_temperature(val_logits, val.labels), 5)
    fields = {
        "temperature": t,
        "calibration": "temperature fitted on the validation split (config.seed, "
        "config.val_fraction); ECE: 15 equal-width bins on the official test set",
        "ece_before": round(ece(softmax(test_logits), test.labels), 6),
        "ece_after": round(ece(softmax(test_logits, t), test.labels), 6),
        "nll_val_before": round(nll(val_logits, val.labels), 6),
        "nll_val_after": round(nll(val_logits, val.labels, t), 6),
    }
    pixel_model = ood.fit_pixel_model(fit.as_float()[: ood.N_PCA_IMAGES])
    card_path = models_dir / f"{name}.json"
    ood.save_pixel_model(ood.pixel_model_path(card_path), pixel_model)
    fields |= ood.fit_detector(
        clf.logits,
        val_images,
        val_logits,
        test_images,
        test_logits,
        t,
        pixel_model,
    )
    write_card_fields(card_path, fields)
    return fields


def write_card_fields(card_path: Path, fields: dict) -> None:
    """Update some fields of a card, keeping the rest; atomic, so the app never reads half."""
    card = json.loads(card_path.read_text())
    card |= fields
    tmp = card_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=1) + "\n")
    os.replace(tmp, card_path)


def cli(args: argparse.Namespace) -> int:
    """`python -m fashion calibrate [--model NAME | --all] [--models-dir DIR] [--json]`."""
    from fashion.inference import MODELS_DIR, available_models, default_model_name

    models_dir = Path(args.models_dir) if getattr(args, "models_dir", None) else MODELS_DIR
    if args.all:
        names = [c["name"] for c in available_models(models_dir)]
    else:
        names = [args.model or default_model_name(models_dir)]
    for name in names:
        f = calibrate_model(name, models_dir)
        if getattr(args, "json", False):
            print(json.dumps({"model": name} | f))
        else:
            print(
                f"{name}: T = {f['temperature']:.3f}, test ECE {f['ece_before']:.4f} -> "
                f"{f['ece_after']:.4f}; not-a-garment ({f['ood_score']}) flags "
                f"{f['ood_flag_rate_test']:.1%} of test images, "
                f"{f['ood_flag_rate_generated']:.1%} of generated non-garments",
                flush=True,
            )
    return 0
