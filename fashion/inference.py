"""Classifier: a model loaded once, with a compiled fast path for one image or many.

`model.predict` builds a dataset pipeline on every call (~40 ms here even for one
image), so the Classifier calls a `tf.function` traced once for any batch size instead.
It is traced (warmed up) when the model loads, so the first user does not pay for it,
and one lock serialises the compiled call because one Classifier serves every app session.
`python -m fashion bench` measures it against `model.predict`, a direct call and the
exported TFLite model (fashion.export).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from fashion.classes import CLASS_NAMES, INPUT_SHAPE

MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
# Chunk size for big batches: large enough to keep both cores busy, small enough
# that a 10k evaluation does not allocate gigabytes of activations at once.
BATCH = 1000


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


class Classifier:
    """A trained model ready to predict; safe to share between threads (app sessions)."""

    def __init__(self, model_path: str | Path, temperature: float = 1.0):
        import keras
        import tensorflow as tf

        self.path = Path(model_path)
        self.model = keras.saving.load_model(self.path, compile=False)
        self.temperature = float(temperature)
        card_path = self.path.with_suffix(".json")
        self.card = json.loads(card_path.read_text()) if card_path.exists() else {}
        self.name = self.card.get("name", self.path.stem)

        @tf.function(
            input_signature=[tf.TensorSpec((None, *INPUT_SHAPE), tf.float32)],
            reduce_retracing=True,
            autograph=False,  # no Python control flow to convert; tracing is faster without
        )
        def _logits(x):
            return self.model(x, training=False)

        self._logits_fn = _logits
        # Keras layers are not guaranteed thread-safe (tensorflow#61298); one lock per
        # model costs ~1 ms of queueing per concurrent request, which is fine here.
        self._lock = threading.Lock()
        self.logits(np.zeros((1, *INPUT_SHAPE), np.float32))  # trace now, not on first use

    @classmethod
    def load(cls, name: str | None = None, models_dir: Path = MODELS_DIR) -> Classifier:
        name = name or default_model_name(models_dir)
        path = Path(models_dir) / f"{name}.keras"
        if not path.exists():
            known = ", ".join(c["name"] for c in available_models(models_dir)) or "none"
            raise FileNotFoundError(f"no model {name!r} in {models_dir} (shipped: {known})")
        card_path = path.with_suffix(".json")
        card = json.loads(card_path.read_text()) if card_path.exists() else {}
        return cls(path, temperature=card.get("temperature", 1.0))

    @property
    def n_params(self) -> int:
        return int(self.model.count_params())

    def logits(self, images: np.ndarray) -> np.ndarray:
        """(N, 10) logits for images in [0, 1]; any of the shapes `as_batch` accepts."""
        x = as_batch(images)
        out = []
        with self._lock:
            for start in range(0, len(x), BATCH):
                out.append(self._logits_fn(x[start : start + BATCH]).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(CLASS_NAMES)), np.float32)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """(N, 10) probabilities (temperature-scaled softmax), float64 rows summing to 1."""
        z = self.logits(images).astype(np.float64) / self.temperature
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_one(self, image: np.ndarray) -> np.ndarray:
        """(10,) probabilities for one 28x28 image."""
        return self.predict_proba(image)[0]
