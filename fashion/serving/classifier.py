"""Classifier: a model loaded once; the one way from a 28x28 image to a `Prediction`.

The app, the CLI and the benchmarks all call `Classifier.predict` (or `predict_many`),
which runs the model once and returns the calibrated probabilities together with the
"not a garment?" flag, so every interface shows the same answer for the same image.

Logits come from the model's TFLite twin (`fashion.serving.engines`): one image costs well
under a millisecond, and an image alone gets bit-for-bit its answer inside a batch.
The Keras model stays loaded too: explanations need it, and it checks the twin.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashion import card as cards
from fashion.classes import CLASS_NAMES, INPUT_SHAPE
from fashion.serving.engines import (
    TFLiteRunner,
    TracedRunner,
    as_batch,
    feature_groups,
    features_of,
    logits_of,
    mean_over_views,
    twin_model,
    with_views,
)
from fashion.trust import not_garment
from fashion.trust.confidence import calibrated

ENGINES = ("tflite", "tf-function")
# Up to this many images go to the one-thread interpreter: for a few images, handing
# work to a second thread costs more than it saves.
SMALL_BATCH = 8
# The shipped .tflite must compute what the .keras computes: checked at load on a few
# fixed images. Measured differences are ~1e-5 in logits; a stale file differs by ~1.
PROBE_TOLERANCE = 1e-3

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    """What the model says about one image."""

    probs: np.ndarray  # (10,) calibrated probabilities, float64, summing to 1
    not_garment: bool  # the out-of-distribution check fired: unlike the training images

    @property
    def label(self) -> int:
        return int(np.argmax(self.probs))

    @property
    def class_name(self) -> str:
        return CLASS_NAMES[self.label]

    @property
    def confidence(self) -> float:
        return float(self.probs[self.label])

    def to_json(self) -> dict:
        """The fields `python -m fashion predict --json` prints for one image."""
        return {
            "label": self.label,
            "class": self.class_name,
            "probabilities": [float(p) for p in self.probs],
            "not_garment": self.not_garment,
        }


class Classifier:
    """A trained model ready to predict; safe to share between threads (app sessions).

    Args:
        model_path: the `.keras` file; its card (`.json`, which holds the fitted
            temperature) and TFLite twin (`.tflite`) are looked up next to it.
        engine: "tflite" (the fast path) or "tf-function".
    """

    def __init__(self, model_path: str | Path, engine: str = "tflite"):
        import keras

        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        self.path = Path(model_path)
        self.model = keras.saving.load_model(self.path, compile=False)
        self.engine = engine
        card_file = self.path.with_suffix(".json")
        self.card = (
            cards.ModelCard.read(card_file)
            if card_file.exists()
            else cards.ModelCard(name=self.path.stem)
        )
        self.name = self.card.name
        self.views = self.card.views
        # Logits and penultimate features in one output: the answer and what the
        # "not a garment?" check measures come from the same forward pass.
        self.twin = twin_model(self.model)
        self.feature_groups = feature_groups(self.model)  # sizes of the feature parts
        if engine == "tflite":
            self._small, self._large = self._tflite_runners()
        else:
            self._small = self._large = TracedRunner(self.twin)
        self.detector = not_garment.Detector.load(self.card, self.path.parent)

    def _tflite_runners(self) -> tuple[TFLiteRunner, TFLiteRunner]:
        from fashion.serving.export import tflite_bytes

        twin = self.path.with_suffix(".tflite")
        content = twin.read_bytes() if twin.exists() else None
        if content is not None:
            small = TFLiteRunner(content, num_threads=1)
            if not self._matches_keras(small):
                log.warning("%s does not compute what %s does; converting again", twin, self.path)
                content = None
        if content is None:
            # No (valid) twin, e.g. a model trained before `train` wrote one: convert
            # in memory, a few seconds once per load.
            content = tflite_bytes(self.twin)
            small = TFLiteRunner(content, num_threads=1)
        return small, TFLiteRunner(content, num_threads=os.cpu_count() or 1)

    def _matches_keras(self, runner: TFLiteRunner) -> bool:
        probe = np.random.default_rng(0).random((4, *INPUT_SHAPE), dtype=np.float32)
        want = np.asarray(self.twin(probe, training=False))
        got = runner.run(probe)
        # A twin from before features were served has 10 outputs: stale too.
        return got.shape == want.shape and bool(np.abs(got - want).max() <= PROBE_TOLERANCE)

    @classmethod
    def load(
        cls, name: str | None = None, models_dir: Path = cards.MODELS_DIR, engine: str = "tflite"
    ) -> Classifier:
        """The shipped model `name` (default: the most accurate one)."""
        name = name or cards.default_name(models_dir)
        path = cards.model_path(name, models_dir)
        if not path.exists():
            known = ", ".join(c.name for c in cards.shipped(models_dir)) or "none"
            raise FileNotFoundError(f"no model {name!r} in {models_dir} (shipped: {known})")
        return cls(path, engine=engine)

    @property
    def temperature(self) -> float:
        """Divides the logits before the softmax; fitted on validation (1.0 = uncalibrated)."""
        return float(self.card.temperature)

    @property
    def n_params(self) -> int:
        return int(self.model.count_params())

    @property
    def views(self) -> str:
        """The test-time views averaged for every answer (`fashion.serving.engines.VIEWS`)."""
        return self._views

    @views.setter
    def views(self, value: str) -> None:
        with_views(np.zeros((1, *INPUT_SHAPE), np.float32), value)  # rejects unknown names
        self._views = value

    def _run(self, images: np.ndarray) -> np.ndarray:
        x = as_batch(images)
        looks = with_views(x, self.views)
        runner = self._small if len(looks) <= SMALL_BATCH else self._large
        return mean_over_views(runner.run(looks), len(x))

    def outputs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits (N, 10), penultimate features (N, D)) from one forward pass."""
        out = self._run(images)
        return logits_of(out), features_of(out)

    def logits(self, images: np.ndarray) -> np.ndarray:
        """(N, 10) raw logits for images in [0, 1]; any of the shapes `as_batch` accepts."""
        return logits_of(self._run(images))

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """(N, 10) calibrated probabilities of raw logits: temperature, then the card's
        confidence map if it has one. Never changes the predicted class."""
        return calibrated(logits, self.temperature, self.card.confidence_knots)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """(N, 10) calibrated probabilities, float64 rows summing to 1 (no OOD check)."""
        return self.probabilities(self.logits(images))

    def predict_many(self, images: np.ndarray) -> list[Prediction]:
        """One `Prediction` per image, from one forward pass over the batch."""
        x = as_batch(images)
        logits, features = self.outputs(x)
        probs = self.probabilities(logits)
        if self.detector is None:  # not calibrated yet: no check, no warning
            flags = np.zeros(len(x), dtype=bool)
        else:
            flags = self.detector.flags(logits, features, x)
        return [Prediction(p, bool(f)) for p, f in zip(probs, flags, strict=True)]

    def predict(self, image: np.ndarray) -> Prediction:
        """The `Prediction` for one 28x28 image (float in [0, 1], garment bright on black)."""
        x = as_batch(image)
        if len(x) != 1:
            raise ValueError(f"predict takes one image, got {len(x)}; use predict_many")
        return self.predict_many(x)[0]
