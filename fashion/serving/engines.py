"""Serving engines: images -> logits, for one image or many, safe to share between threads.

`model.predict` builds a dataset pipeline on every call (~40-70 ms here even for one
image). The engines below skip that:

- `TFLiteRunner` runs the model's TFLite (LiteRT) flat buffer, shipped next to the
  `.keras` file: one image costs well under a millisecond, and XNNPACK's kernels give
  bit-identical logits for an image alone or in a batch.
- `TracedRunner` runs the Keras model through a `tf.function` traced once; kept to
  compare against (`python -m fashion bench` measures both).

Both run the model's *twin* (`twin_model`): the logits and the penultimate-layer
features side by side, so one forward pass gives the answer and what the "not a
garment?" check measures. Both share `in_chunks`: the batching, the empty-batch answer
and the lock.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fashion.classes import INPUT_SHAPE, NUM_CLASSES

# Chunk size for big batches: large enough to keep both cores busy, small enough that a
# 10k evaluation does not allocate gigabytes of activations at once. A TFLite runner keeps
# its tensors allocated for the largest chunk it has seen, for the life of the process:
# measured with wrn-16-2 on the 10k test set (which every app process runs at start),
# 1000 held 1.7 GB of RSS, 128 holds 1.0 GB, for the same CPU time (17 CPU-s).
BATCH = 128


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


def feature_layers(model) -> list:
    """The layers whose activations describe an input, deepest first: the penultimate
    layer (the input of the final `logits` layer), then, for conv nets, the last ReLU
    at each finer resolution (28x28, 14x14), globally average-pooled. Low-level statistics
    tell a digit or a street photo from a garment where the last layer alone may not
    (Lee et al., 2018, use every stage for this reason)."""
    import keras

    last_relu_at: dict[int, object] = {}
    for layer in model.layers:
        shape = layer.output.shape
        if isinstance(layer, keras.layers.ReLU) and len(shape) == 4:
            last_relu_at[shape[1]] = layer
    finest_first = [last_relu_at[size] for size in sorted(last_relu_at, reverse=True)]
    # The coarsest stage is what the penultimate layer already pools.
    return [model.layers[-1], *finest_first[:-1]]


def twin_model(model):
    """The graph the Classifier serves: (N, 28, 28, 1) -> (N, 10 + D), the logits then the
    features of `feature_layers` (penultimate first), concatenated.

    One output tensor keeps the TFLite file's contract unambiguous (no output order to
    guess); `logits_of` / `features_of` split it, `feature_groups` says where each
    layer's part ends.
    """
    import keras

    parts = [model.output]
    for k, layer in enumerate(feature_layers(model)):
        if k == 0:
            parts.append(layer.input)  # every registered model ends in Dense(10) logits
        else:
            pooled = keras.layers.GlobalAveragePooling2D(name=f"twin_gap_{layer.name}")
            parts.append(pooled(layer.output))
    joined = keras.layers.Concatenate(name="logits_and_features")(parts)
    return keras.Model(model.input, joined, name=f"{model.name}_twin")


def feature_groups(model) -> list[int]:
    """Sizes of the feature parts of `twin_model(model)`'s output, in order."""
    return [
        int(layer.input.shape[-1] if k == 0 else layer.output.shape[-1])
        for k, layer in enumerate(feature_layers(model))
    ]


def logits_of(outputs: np.ndarray) -> np.ndarray:
    return outputs[:, :NUM_CLASSES]


def features_of(outputs: np.ndarray) -> np.ndarray:
    return outputs[:, NUM_CLASSES:]


# Test-time views: what the Classifier runs for each image, then averages the outputs
# (logits and features) over. A garment's mirror image is a garment of the same class
# (the training data is augmented with it), so the two views are two looks at the same
# thing; which set a model uses is chosen on its validation split (`fashion.training.calibrate`).
VIEWS = ("image", "image+mirror")


def with_views(x: np.ndarray, views: str) -> np.ndarray:
    """(N, 28, 28, 1) -> (K * N, 28, 28, 1): the K views of every image, view by view."""
    if views == "image":
        return x
    if views == "image+mirror":
        return np.concatenate([x, x[:, :, ::-1]])
    raise ValueError(f"unknown test-time views {views!r}; choose one of {', '.join(VIEWS)}")


def mean_over_views(outputs: np.ndarray, n: int) -> np.ndarray:
    """(K * N, width) outputs of `with_views` -> (N, width), the mean over the K views."""
    if len(outputs) == n:
        return outputs
    return outputs.reshape(-1, n, outputs.shape[-1]).mean(axis=0)


def in_chunks(
    run: Callable[[np.ndarray], np.ndarray], images: np.ndarray, lock: threading.Lock, width: int
) -> np.ndarray:
    """(N, width) outputs of `images` through `run`, BATCH images at a time, under `lock`."""
    x = np.ascontiguousarray(as_batch(images))
    if len(x) == 0:
        return np.zeros((0, width), np.float32)
    with lock:
        return np.concatenate([run(x[i : i + BATCH]) for i in range(0, len(x), BATCH)])


class TracedRunner:
    """Outputs of a Keras model through a `tf.function` traced once for any batch size."""

    def __init__(self, model) -> None:
        self.width = int(model.output.shape[-1])
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
        self.run(np.zeros((1, *INPUT_SHAPE), np.float32))  # trace now, not on first use

    def run(self, images: np.ndarray) -> np.ndarray:
        """(N, width) model outputs for images in [0, 1] (any shape `as_batch` accepts)."""
        return in_chunks(lambda x: self._fn(x).numpy(), images, self._lock, self.width)


def _interpreter_class():
    """LiteRT's interpreter if `ai-edge-litert` is installed, else TensorFlow's own.

    TensorFlow 2.21 still ships `tf.lite.Interpreter` but warns that it is deprecated in
    favour of `ai_edge_litert`; it is the same runtime, so the warning is silenced here
    rather than adding a dependency the app does not otherwise need.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806 - a class, named as one
    return Interpreter


class TFLiteRunner:
    """Outputs of a .tflite model (the twin: logits and features).

    Args:
        source: a .tflite file path, or the flat buffer itself (bytes).
        num_threads: interpreter threads; 1 is fastest for single images on 2 cores
            (no hand-off between threads), more only helps big batches.
    """

    def __init__(self, source: str | Path | bytes, num_threads: int = 1):
        content = source if isinstance(source, bytes) else Path(source).read_bytes()
        interpreter = _interpreter_class()
        self.runtime = f"{interpreter.__module__}.{interpreter.__name__}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._interp = interpreter(model_content=content, num_threads=num_threads)
        self._input = self._interp.get_input_details()[0]["index"]
        output = self._interp.get_output_details()[0]
        self._output = output["index"]
        self.width = int(output["shape"][-1])
        self._batch = -1  # the batch size the tensors are currently allocated for
        # An interpreter holds its input and output buffers: two threads invoking it at
        # once would overwrite each other's images, so every call takes the lock.
        self._lock = threading.Lock()
        self.run(np.zeros((1, *INPUT_SHAPE), np.float32))  # allocate now, not on first use

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        if len(x) != self._batch:
            self._interp.resize_tensor_input(self._input, list(x.shape))
            self._interp.allocate_tensors()
            self._batch = len(x)
        self._interp.set_tensor(self._input, x)
        self._interp.invoke()
        return self._interp.get_tensor(self._output).copy()  # the buffer is reused next call

    def run(self, images: np.ndarray) -> np.ndarray:
        """(N, width) model outputs for images in [0, 1] (any shape `as_batch` accepts)."""
        return in_chunks(self._invoke, images, self._lock, self.width)
