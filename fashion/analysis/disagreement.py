"""Two models on the same test images: where they disagree, and which one is right.

Pure numpy over the two models' probabilities. Accuracy alone hides how different two
models are: two at 90 % can be wrong on the same 1,000 images or on 2,000 different ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fashion.classes import NUM_CLASSES

# The ways two answers and a label can relate, in the order the page lists them.
GROUPS = {
    "only_a": "only A is right",
    "only_b": "only B is right",
    "both_wrong_differently": "both wrong, different answers",
    "both_wrong_same": "both wrong, the same answer",
    "both_right": "both right",
}


@dataclass(frozen=True)
class Comparison:
    """Test indices of each group (see GROUPS), each in its most telling order."""

    only_a: np.ndarray  # A right, B wrong: B's wrong answer most confident first
    only_b: np.ndarray  # B right, A wrong: A's wrong answer most confident first
    both_wrong_differently: np.ndarray  # index order
    both_wrong_same: np.ndarray  # index order
    both_right: np.ndarray  # index order

    def group(self, key: str) -> np.ndarray:
        if key not in GROUPS:
            raise ValueError(f"unknown group {key!r}; choose one of {', '.join(GROUPS)}")
        return getattr(self, key)

    @property
    def disagreements(self) -> int:
        """Images the two models answer differently."""
        return len(self.only_a) + len(self.only_b) + len(self.both_wrong_differently)


def compare(probs_a: np.ndarray, probs_b: np.ndarray, labels: np.ndarray) -> Comparison:
    """Split the test images by which of two models is right.

    Args:
        probs_a, probs_b: (N, 10) probabilities of models A and B on the same images.
        labels: (N,) true labels.
    """
    probs_a, probs_b = np.asarray(probs_a), np.asarray(probs_b)
    labels = np.asarray(labels, dtype=np.int64)
    if probs_a.shape != probs_b.shape or len(probs_a) != len(labels):
        raise ValueError(f"shapes differ: {probs_a.shape}, {probs_b.shape}, {labels.shape}")
    pred_a, pred_b = probs_a.argmax(axis=1), probs_b.argmax(axis=1)
    right_a, right_b = pred_a == labels, pred_b == labels
    only_a = np.flatnonzero(right_a & ~right_b)
    only_b = np.flatnonzero(right_b & ~right_a)
    # The loser's confidence in its wrong answer, highest first: the surprising ones.
    only_a = only_a[np.argsort(-probs_b[only_a, pred_b[only_a]], kind="stable")]
    only_b = only_b[np.argsort(-probs_a[only_b, pred_a[only_b]], kind="stable")]
    both_wrong = ~right_a & ~right_b
    return Comparison(
        only_a=only_a,
        only_b=only_b,
        both_wrong_differently=np.flatnonzero(both_wrong & (pred_a != pred_b)),
        both_wrong_same=np.flatnonzero(both_wrong & (pred_a == pred_b)),
        both_right=np.flatnonzero(right_a & right_b),
    )


def per_class(indices: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(10,) how many of `indices` have each true class."""
    return np.bincount(np.asarray(labels)[indices], minlength=NUM_CLASSES)
