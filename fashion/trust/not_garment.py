"""Not a garment? Score how unlike the training images an input is, and flag it.

A classifier always names one of its ten classes, even for a face, a digit or a photo
of a street. Three scores look at an input from different sides; each is computed on the
28x28 image the model actually saw, and on the one forward pass that classifies it:

- "feature": the Mahalanobis distance of the model's features to the nearest class,
  under class-conditional Gaussians with one shared covariance per layer fitted on the
  model's training images (Lee et al., 2018, "A Simple Unified Framework for Detecting
  Out-of-Distribution Samples"): the penultimate layer and, for conv nets, the pooled
  activations of the earlier stages (fashion.engines.feature_layers), each distance
  divided by its dimension (its mean for an in-distribution input) and averaged. It
  sees what the model sees, including inputs that make it confident for the wrong
  reasons. The Gaussians are fitted twice, on training images and on their silhouettes
  drawn on the sketch canvas, and the nearer fit counts: a filled-in drawing of a
  garment is a garment, though its features have no fabric texture. The sketch view's
  distances are scaled so that drawn training garments held out of the fit are almost
  never (1 in 1,000) further than the image view's usual threshold.
- "energy": -T * logsumexp(logits / T) (Liu et al., 2020, "Energy-based
  Out-of-distribution Detection"): low when some class is strongly excited.
- "pixel": the squared distance of the image to the garment subspace (the residual
  after projecting onto the top principal components of training images). Noise and
  scattered strokes are far from every garment even when the logits are large.

An input is flagged when any score used by the model's card exceeds its threshold.
`fashion.training.flag_thresholds` picks them without the test set, from garments of the
model's validation split in the forms the app receives (`validation_garments`): at most
`MAX_VAL_FLAG_RATE` of the images as they are, of the same images dressed as shop
photos and as photos taken at home (through the photo path) may be flagged, and none of
their drawn silhouettes that the model gets right with confidence (a correct answer a
user drew should not be doubted); within those budgets the thresholds flag the most
generated non-garments (fashion/data/non_garments.py, seed 0). Which scores a card uses
is decided by benchmarks/not_garment.py, measured on real non-garment images nobody in
this project drew (benchmarks/RESULTS.md, section not-garment).

The fitted statistics live next to the card in `NAME.ood.npz` (too big for the JSON);
the thresholds and rates live in the card.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashion.card import MODELS_DIR, ModelCard, card_path
from fashion.classes import IMAGE_SIZE
from fashion.trust.confidence import logsumexp

SCORES = ("feature", "energy", "pixel")


log = logging.getLogger(__name__)


VIEWS = ("images", "sketches")


def energy_score(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(N,) -T * logsumexp(logits / T); higher means less like the training data."""
    z = np.atleast_2d(np.asarray(logits, dtype=np.float64)) / temperature
    return -temperature * logsumexp(z)


def flat_images(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28[, 1]) or one (28, 28[, 1]) image -> (N, 784) float64."""
    return np.asarray(images, dtype=np.float64).reshape(-1, IMAGE_SIZE * IMAGE_SIZE)


def split_features(features: np.ndarray, groups: np.ndarray) -> list[np.ndarray]:
    """(N, sum(groups)) -> one (N, g) block per feature layer."""
    return np.split(np.atleast_2d(features), np.cumsum(groups)[:-1], axis=1)


def view_score(blocks: list[np.ndarray], stats: dict, view: str) -> np.ndarray:
    groups = np.asarray(stats["feature_groups"])
    return np.mean(
        [
            mahalanobis(b, stats[f"{view}_means_{g}"], stats[f"{view}_precision_{g}"]) / groups[g]
            for g, b in enumerate(blocks)
        ],
        axis=0,
    )


def pixel_score(images: np.ndarray, stats: dict) -> np.ndarray:
    """(N,) squared distance of each image to the garment subspace."""
    z = flat_images(images) - stats["pixel_mean"].astype(np.float64)
    comps = stats["pixel_components"].astype(np.float64)
    residual = z - (z @ comps.T) @ comps
    return np.sum(residual**2, axis=1)


def mahalanobis(features: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """(N,) squared Mahalanobis distance of each row of `features` to its nearest mean."""
    f = np.atleast_2d(np.asarray(features, dtype=np.float64))
    means = np.asarray(means, np.float64)  # (K, D)
    precision = np.asarray(precision, np.float64)  # (D, D)
    # d_k = (f - m_k) P (f - m_k) = f P f - 2 f P m_k + m_k P m_k, for all k at once.
    fp = f @ precision
    d = (
        np.sum(fp * f, axis=1)[:, None]
        - 2 * fp @ means.T
        + np.sum((means @ precision) * means, axis=1)[None, :]
    )
    return np.maximum(d.min(axis=1), 0.0)


def feature_score(features: np.ndarray, stats: dict) -> np.ndarray:
    """(N,) the nearer view's mean over layers of (squared Mahalanobis distance to the
    nearest class) / (the layer's dimension); about 1 for a typical training image."""
    blocks = split_features(np.asarray(features, np.float64), np.asarray(stats["feature_groups"]))
    per_view = [
        view_score(blocks, stats, view) / float(stats.get(f"{view}_scale", 1.0))
        for view in VIEWS
        if f"{view}_means_0" in stats
    ]
    return np.min(per_view, axis=0)


def all_scores(
    logits: np.ndarray,
    features: np.ndarray,
    images: np.ndarray,
    stats: dict,
    temperature: float,
) -> dict[str, np.ndarray]:
    """Every score in SCORES for a batch, each (N,); higher = less like the training data."""
    return {
        "feature": feature_score(features, stats),
        "energy": energy_score(logits, temperature),
        "pixel": pixel_score(images, stats),
    }


def stats_path(card_file: Path) -> Path:
    """Where the fitted statistics of the model whose card is `card_file` are stored."""
    return card_file.with_suffix(".ood.npz")


@dataclass(frozen=True)
class Detector:
    """A model's fitted "not a garment?" check: thresholds from its card, statistics from
    its `.ood.npz`. Built once per Classifier."""

    thresholds: dict[str, float]  # score name -> flag when strictly above
    temperature: float
    stats: dict

    @classmethod
    def load(cls, card: ModelCard, models_dir: Path | None = None) -> Detector | None:
        """The card's detector, or None when the model has not been calibrated for it."""
        if not card.ood_thresholds:
            return None
        path = stats_path(card_path(card.name, models_dir or MODELS_DIR))
        if not path.exists():
            # A card copied without its statistics: no check rather than no app.
            log.warning("%s missing: the not-a-garment check is off for %s", path, card.name)
            return None
        with np.load(path) as f:
            stats = {k: f[k] for k in f.files}
        return cls(dict(card.ood_thresholds), card.temperature, stats)

    def flags(self, logits: np.ndarray, features: np.ndarray, images: np.ndarray) -> np.ndarray:
        """(N,) bool: True where the input should be shown as unlike the training images."""
        scores = all_scores(logits, features, images, self.stats, self.temperature)
        return flags_from(scores, self.thresholds)


def flags_from(scores: dict[str, np.ndarray], thresholds: dict[str, float]) -> np.ndarray:
    """(N,) bool: any score named in `thresholds` above its threshold."""
    n = len(next(iter(scores.values())))
    out = np.zeros(n, dtype=bool)
    for name, t in thresholds.items():
        out |= np.asarray(scores[name]) > t
    return out
