"""Possible label errors: test images the model is sure belong to a class other than their label.

Fashion-MNIST's labels came from the shop's product categories, and some are wrong
(a shirt filed as a T-shirt, a dress as a coat). When a strong model gives the stated
label almost no probability while being very sure of another class, the image is worth a
human look: it may be the dataset's mistake, not the model's. This ranks candidates;
it does not decide.
"""

from __future__ import annotations

import numpy as np

MIN_CONFIDENCE = 0.9  # the model must put at least this on one other class
NOTE = (
    "Possible label errors: the model is very confident in another class and gives the "
    "stated label almost no probability. Fashion-MNIST is known to contain mislabelled "
    "images, so these may be the dataset's mistakes, not the model's."
)


def label_error_ranking(
    probs: np.ndarray, labels: np.ndarray, min_confidence: float = MIN_CONFIDENCE
) -> np.ndarray:
    """Indices of likely mislabelled samples, most suspicious first.

    A sample qualifies when its top probability is on a class other than its label and
    is at least `min_confidence`. Qualifying samples are sorted by the probability of the
    given label, lowest first; ties by the other class' probability, highest first; then
    by index.

    Args:
        probs: (N, K) class probabilities (calibrated ones from `Classifier.predict_proba`).
        labels: (N,) given labels.
        min_confidence: threshold on the other class' probability.

    Returns:
        (M,) int64 indices into probs / labels.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    pred = probs.argmax(axis=1)
    top = probs.max(axis=1)
    idx = np.flatnonzero((pred != labels) & (top >= min_confidence))
    p_given = probs[idx, labels[idx]]
    # lexsort: last key is the primary one.
    order = np.lexsort((idx, -top[idx], p_given))
    return idx[order]
