"""Classifier: a model loaded once, with a fast path for one image or many.

`model.predict` builds a dataset pipeline on every call (~40-70 ms here even for one
image). The Classifier instead runs the model's TFLite (LiteRT) flat buffer, shipped
next to the `.keras` file (`train` writes it): one image costs well under a millisecond,
and the XNNPACK kernels give bit-identical logits for an image alone or in a batch, so
the sample page and the confusion matrix can never disagree. A second interpreter with
every core serves big batches. `engine="tf-function"` keeps the previous path, a
`tf.function` traced once, for comparison (`python -m fashion bench` measures both).

The Keras model stays loaded too: explanations need its gradients.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import numpy as np

from fashion.classes import CLASS_NAMES, INPUT_SHAPE

MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
# Chunk size for big batches: large enough to keep both cores busy, small enough
# that a 10k evaluation does not allocate gigabytes of activations at once.
BATCH = 1000
ENGINES = ("tflite", "tf-function")
# Up to this many images go to the one-thread interpreter: for a few images, handing
# work to a second thread costs more than it saves.
SMALL_BATCH = 8
# The shipped .tflite must compute what the .keras computes: checked at load on a few
# fixed images. Measured differences are ~1e-5 in logits; a stale file differs by ~1.
PROBE_TOLERANCE = 1e-3

log = logging.getLogger(__name__)


def available_models(models_dir: Path = MODELS_DIR) -> list[dict]:
    """Cards of every shipped model, best test accuracy first."""
    cards = []
    for card_path in sorted(models_dir.glob("*.json")):
        if card_path.with_suffix(".keras").exists():
            cards.append(json.loads(card_path.read_text()))
    return sorted(cards, key=lambda c: -c.get("test_accuracy", 0))


def default_model_name(models_dir: Path = MODELS_DIR) -> str:
    cards = available_models(models_dir)
    if not cards:
        raise FileNotFoundError(f"no trained models in {models_dir}; run python -m fashion train")
    return cards[0]["name"]


def as_batch(images: np.ndarray) -> np.ndarray:
    """(28, 28), (28, 28, 1), (N, 28, 28) or (N, 28, 28, 1) -> (N, 28, 28, 1) float32."""
    x = np.asarray(images, dtype=np.float32)
    if x.shape == INPUT_SHAPE[:2] or x.shape == INPUT_SHAPE:
        x = x.reshape((1, *INPUT_SHAPE))
    elif x.ndim == 3 and x.shape[1:] == INPUT_SHAPE[:2]:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != INPUT_SHAPE:
        raise ValueError(f"expected 28x28 images, got shape {np.shape(images)}")
    return x


class TracedRunner:
    """Logits from a Keras model through a `tf.function` traced once for any batch size."""

    def __init__(self, model) -> None:
        import tensorflow as tf

        @tf.function(
            input_signature=[tf.TensorSpec((None, *INPUT_SHAPE), tf.float32)],
            reduce_retracing=True,
            autograph=False,  # no Python control flow to convert; tracing is faster without
        )
        def _logits(x):
            return model(x, training=False)

        self._fn = _logits
        # Keras layers are not guaranteed thread-safe (tensorflow#61298); one lock per
        # model costs ~1 ms of queueing per concurrent request, which is fine here.
        self._lock = threading.Lock()
        self.logits(np.zeros((1, *INPUT_SHAPE), np.float32))  # trace now, not on first use

    def logits(self, images: np.ndarray) -> np.ndarray:
        x = as_batch(images)
        if len(x) == 0:
            return np.zeros((0, len(CLASS_NAMES)), np.float32)
        with self._lock:
            return np.concatenate(
                [self._fn(x[i : i + BATCH]).numpy() for i in range(0, len(x), BATCH)]
            )


class Classifier:
    """A trained model ready to predict; safe to share between threads (app sessions).

    Args:
        model_path: the `.keras` file; its card (`.json`) and TFLite twin (`.tflite`)
            are looked up next to it.
        temperature: divides the logits before the softmax (calibration).
        engine: "tflite" (the fast path) or "tf-function".
    """

    def __init__(self, model_path: str | Path, temperature: float = 1.0, engine: str = "tflite"):
        import keras

        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        self.path = Path(model_path)
        self.model = keras.saving.load_model(self.path, compile=False)
        self.temperature = float(temperature)
        self.engine = engine
        card_path = self.path.with_suffix(".json")
        self.card = json.loads(card_path.read_text()) if card_path.exists() else {}
        self.name = self.card.get("name", self.path.stem)
        if engine == "tflite":
            self._small, self._large = self._tflite_runners()
        else:
            self._small = self._large = TracedRunner(self.model)

    def _tflite_runners(self):
        from fashion.export import TFLiteRunner, tflite_bytes

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
            content = tflite_bytes(self.model)
            small = TFLiteRunner(content, num_threads=1)
        return small, TFLiteRunner(content, num_threads=os.cpu_count() or 1)

    def _matches_keras(self, runner) -> bool:
        probe = np.random.default_rng(0).random((4, *INPUT_SHAPE), dtype=np.float32)
        want = np.asarray(self.model(probe, training=False))
        return bool(np.abs(runner.logits(probe) - want).max() <= PROBE_TOLERANCE)

    @classmethod
    def load(
        cls, name: str | None = None, models_dir: Path = MODELS_DIR, engine: str = "tflite"
    ) -> Classifier:
        name = name or default_model_name(models_dir)
        path = Path(models_dir) / f"{name}.keras"
        if not path.exists():
            known = ", ".join(c["name"] for c in available_models(models_dir)) or "none"
            raise FileNotFoundError(f"no model {name!r} in {models_dir} (shipped: {known})")
        card_path = path.with_suffix(".json")
        card = json.loads(card_path.read_text()) if card_path.exists() else {}
        return cls(path, temperature=card.get("temperature", 1.0), engine=engine)

    @property
    def n_params(self) -> int:
        return int(self.model.count_params())

    def logits(self, images: np.ndarray) -> np.ndarray:
        """(N, 10) logits for images in [0, 1]; any of the shapes `as_batch` accepts."""
        # Each runner chunks, copies and handles empty batches itself; only the choice
        # of interpreter depends on the batch size.
        x = as_batch(images)
        runner = self._small if len(x) <= SMALL_BATCH else self._large
        return runner.logits(x)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """(N, 10) probabilities (temperature-scaled softmax), float64 rows summing to 1."""
        z = self.logits(images).astype(np.float64) / self.temperature
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_one(self, image: np.ndarray) -> np.ndarray:
        """(10,) probabilities for one 28x28 image."""
        return self.predict_proba(image)[0]
