"""Each shipped model's answers on the 10,000 test images, computed once and stored.

The Confusion matrix, Mistakes, Models, Model vs model pages and the calibration note
under every answer all derive from a model's logits on the official test set. A pass
over it costs `wrn-16-2` ~17 s of both cores, so it is not done when a server starts:
`python -m fashion precompute` (and `calibrate`, which may change the views) writes
`NAME.test.npz` beside the model with a fingerprint of what decides the logits (the
weights and the views per answer). The app checks the fingerprint when it loads the file
and, if the model has changed since, computes the logits itself (and says so in the log)
rather than show another model's answers.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashion.analysis.feature_map import weights_fingerprint
from fashion.card import MODELS_DIR, card_path
from fashion.classes import NUM_CLASSES

log = logging.getLogger(__name__)
SUFFIX = ".test.npz"


@dataclass(frozen=True)
class TestOutputs:
    """A model's logits (10000, 10) float32 on the official test set, in label-file order,
    and the fingerprint of the model that computed them."""

    logits: np.ndarray
    fingerprint: str


def outputs_path(name: str, models_dir: str | os.PathLike = MODELS_DIR) -> Path:
    return card_path(name, models_dir).with_suffix(SUFFIX)


def fingerprint(classifier) -> str:
    """What decides a Classifier's logits: its weights and its views per answer."""
    return f"{weights_fingerprint(classifier.model)}/{classifier.views}"


def compute(classifier, images: np.ndarray) -> TestOutputs:
    return TestOutputs(classifier.logits(images).astype(np.float32), fingerprint(classifier))


def save(outputs: TestOutputs, path: Path) -> Path:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, logits=outputs.logits, fingerprint=np.array(outputs.fingerprint))
    os.replace(tmp, path)  # a reader never sees half a file
    return path


def load(path: Path) -> TestOutputs | None:
    """The stored outputs, or None when there is no readable file."""
    try:
        with np.load(path) as f:
            return TestOutputs(f["logits"], str(f["fingerprint"]))
    except (OSError, KeyError, ValueError) as exc:
        if path.exists():
            log.warning("%s unreadable (%s): computing the test-set answers instead", path, exc)
        return None


def stored_logits(classifier, images: np.ndarray, path: Path) -> np.ndarray:
    """The logits stored at `path` if they belong to this classifier, else computed now."""
    stored = load(path)
    fits = stored is not None and stored.logits.shape == (len(images), NUM_CLASSES)
    if fits and stored.fingerprint == fingerprint(classifier):
        return stored.logits
    if stored is not None:
        log.warning(
            "%s belongs to other weights or views than today's %s: computing the test-set "
            "answers now; `python -m fashion precompute --model %s` stores them again",
            path, classifier.card.name, classifier.card.name,
        )  # fmt: skip
    return compute(classifier, images).logits


def write(classifier, images: np.ndarray, models_dir: str | os.PathLike = MODELS_DIR) -> Path:
    """Compute and store a shipped model's test-set outputs; the file written."""
    return save(compute(classifier, images), outputs_path(classifier.card.name, models_dir))
