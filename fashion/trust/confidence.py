"""Confidence calibration: temperature scaling, expected calibration error, reliability diagram.

A network trained with cross-entropy is usually over-confident: among the images it
calls "90% Coat", fewer than 90% are coats. Temperature scaling (Guo et al., 2017,
"On Calibration of Modern Neural Networks") divides every logit by one scalar T fitted
on held-out data; it never changes the predicted class, only how sure the model says it is.

Pure maths only (arrays in, numbers out). T is fitted on the *validation* split the
model was trained beside by `python -m fashion calibrate` (fashion/training/calibrate.py), never
on the test set; the reliability diagram is drawn by `fashion.analysis.charts`.
"""

from __future__ import annotations

import math

import numpy as np

N_BINS = 15  # the usual ECE setting (Guo et al.); 10k test images -> ~670 per bin on average


def logsumexp(z: np.ndarray) -> np.ndarray:
    """(N,) log(sum(exp(z), axis=1)) of (N, K) values, without overflow."""
    z = np.atleast_2d(np.asarray(z, dtype=np.float64))
    m = z.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(N, K) float64 probabilities of softmax(logits / temperature)."""
    z = np.atleast_2d(np.asarray(logits, dtype=np.float64)) / temperature
    return np.exp(z - logsumexp(z)[:, None])


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true labels under softmax(logits / temperature)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    true = z[np.arange(len(z)), np.asarray(labels, dtype=np.int64)]
    return float(np.mean(logsumexp(z) - true))


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


def isotonic_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-decreasing least-squares fit of y on x (pool adjacent violators).

    Args:
        x: (N,) inputs, e.g. confidences.
        y: (N,) targets, e.g. 1.0 where the prediction was right, else 0.0.

    Returns:
        (knots_x, knots_y): the mean x and the fitted y of each pooled block, both
        increasing; `np.interp(v, knots_x, knots_y)` evaluates the fit anywhere.
    """
    order = np.argsort(x, kind="mergesort")
    xs, ys = np.asarray(x, np.float64)[order], np.asarray(y, np.float64)[order]
    # Blocks as (sum of y, sum of x, count); merge while the last two are out of order.
    sums_y: list[float] = []
    sums_x: list[float] = []
    counts: list[int] = []
    for xi, yi in zip(xs, ys, strict=True):
        sums_y.append(yi)
        sums_x.append(xi)
        counts.append(1)
        while len(counts) > 1 and sums_y[-2] / counts[-2] > sums_y[-1] / counts[-1]:
            # Pop first: `a[-2] += a.pop()` would add into the wrong element.
            y_last, x_last, n_last = sums_y.pop(), sums_x.pop(), counts.pop()
            sums_y[-1] += y_last
            sums_x[-1] += x_last
            counts[-1] += n_last
    n = np.asarray(counts, np.float64)
    return np.asarray(sums_x) / n, np.asarray(sums_y) / n


def remap_confidence(probs: np.ndarray, knots: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Probabilities whose top value is replaced by the isotonic map of it, the other
    classes scaled to fill the rest; the predicted class never changes.

    Temperature scaling makes one scalar serve every confidence level; when the model is
    over-confident at 80 % but right at 99 %, no scalar fits both. The map (fitted on
    validation by `isotonic_fit` of correctness on the temperature-scaled confidence)
    bends each level to the accuracy measured there.
    """
    p = np.atleast_2d(np.asarray(probs, np.float64))
    rows = np.arange(len(p))
    top_idx = p.argmax(axis=1)
    top = p[rows, top_idx]
    new_top = np.interp(top, knots[0], knots[1])
    # Keep the predicted class on top: the runner-up, rescaled, must stay below it.
    second = np.partition(p, -2, axis=1)[:, -2] if p.shape[1] > 1 else np.zeros(len(p))
    # (A hair above equality: a tie would let argmax pick the runner-up.)
    floor = second / np.maximum(1.0 - top + second, 1e-12) * (1 + 1e-9)
    new_top = np.clip(np.maximum(new_top, floor), 0.0, 1.0)
    spare = 1.0 - top
    # Where the model put (numerically) everything on one class, share the freed mass
    # evenly; elsewhere keep the other classes' proportions.
    solid = spare < 1e-12
    out = p * ((1.0 - new_top) / np.where(solid, 1.0, spare))[:, None]
    out[solid] = ((1.0 - new_top[solid]) / max(p.shape[1] - 1, 1))[:, None]
    out[rows, top_idx] = new_top
    return out


def calibrated(
    logits: np.ndarray, temperature: float, knots: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """(N, K) probabilities as the app shows them: softmax(logits / T), then the
    confidence map when the model has one."""
    probs = softmax(logits, temperature)
    return probs if knots is None else remap_confidence(probs, knots)


def held_out_ece_gain(
    logits: np.ndarray, labels: np.ndarray, temperature: float, folds: int = 2, seed: int = 0
) -> float:
    """How much a confidence map lowers ECE on data it was not fitted on: the mean over
    `folds` splits of (ECE with temperature only) - (ECE with temperature + map), each map
    fitted on the other folds. Positive means the map helps."""
    probs = softmax(logits, temperature)
    labels = np.asarray(labels)
    fold = np.random.default_rng(seed).permutation(len(labels)) % folds
    gains = []
    for k in range(folds):
        fit, held = fold != k, fold == k
        conf = probs[fit].max(axis=1)
        knots = isotonic_fit(conf, probs[fit].argmax(axis=1) == labels[fit])
        mapped = remap_confidence(probs[held], knots)
        gains.append(ece(probs[held], labels[held]) - ece(mapped, labels[held]))
    return float(np.mean(gains))
