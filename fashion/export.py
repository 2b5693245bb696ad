"""Export a shipped model for serving outside this process: SavedModel or TFLite (LiteRT).

One Streamlit process is enough for a demo; when it is not, the same model can be served
by TF Serving (SavedModel) or by the LiteRT interpreter (a .tflite flat buffer). Both
exports keep the model's contract: (N, 28, 28, 1) float32 in [0, 1] -> (N, 10) *logits*
(softmax and temperature stay in the caller, as in `fashion.inference.Classifier`).

`TFLiteRunner` runs a .tflite file here too: on 2 cores it answers one image several
times faster than TensorFlow's own runtime, which is why `python -m fashion bench`
measures it next to the Classifier's compiled path.
"""

from __future__ import annotations

import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from fashion.classes import INPUT_SHAPE, NUM_CLASSES
from fashion.inference import BATCH, as_batch

FORMATS = ("saved_model", "tflite")
# Where `python -m fashion export` writes when no --out is given (not committed).
EXPORT_DIR = Path("exports")


def export_saved_model(model, directory: str | Path) -> Path:
    """Write `model` as a TF SavedModel whose `serve` signature returns (N, 10) logits.

    Args:
        model: a loaded Keras model (e.g. `Classifier.model`).
        directory: the SavedModel folder to create (replaced if it exists).

    Returns:
        The folder written.
    """
    directory = Path(directory)
    model.export(str(directory), format="tf_saved_model", verbose=False)
    return directory


def tflite_bytes(model) -> bytes:
    """`model` converted to a float32 TFLite flat buffer with a dynamic batch size.

    The conversion goes through a SavedModel because that is the converter's most
    supported entry point (`from_keras_model` is a Keras 2 API).
    """
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="fashion-export-") as tmp:
        saved = export_saved_model(model, Path(tmp) / "saved_model")
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        return converter.convert()


def export_tflite(model, path: str | Path) -> Path:
    """Write `model` as a .tflite file (see `tflite_bytes`) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tflite_bytes(model))
    return path


def export(model, fmt: str, out_dir: str | Path, name: str) -> Path:
    """Export `model` in format `fmt` as `out_dir/name.saved_model/` or `out_dir/name.tflite`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "saved_model":
        return export_saved_model(model, out_dir / f"{name}.saved_model")
    return export_tflite(model, out_dir / f"{name}.tflite")


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
    """Logits from a .tflite model, for one image or many; safe to share between threads.

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
        self._output = self._interp.get_output_details()[0]["index"]
        self._batch = -1  # the batch size the tensors are currently allocated for
        # An interpreter holds its input and output buffers: two threads invoking it at
        # once would overwrite each other's images, so every call takes the lock.
        self._lock = threading.Lock()
        self.logits(np.zeros((1, *INPUT_SHAPE), np.float32))  # allocate now, not on first use

    def _run(self, x: np.ndarray) -> np.ndarray:
        if len(x) != self._batch:
            self._interp.resize_tensor_input(self._input, list(x.shape))
            self._interp.allocate_tensors()
            self._batch = len(x)
        self._interp.set_tensor(self._input, x)
        self._interp.invoke()
        return self._interp.get_tensor(self._output).copy()  # the buffer is reused next call

    def logits(self, images: np.ndarray) -> np.ndarray:
        """(N, 10) logits for images in [0, 1] (any shape `Classifier.logits` accepts)."""
        x = np.ascontiguousarray(as_batch(images))
        if len(x) == 0:
            return np.zeros((0, NUM_CLASSES), np.float32)
        with self._lock:
            return np.concatenate([self._run(x[i : i + BATCH]) for i in range(0, len(x), BATCH)])


def load_saved_model_logits(directory: str | Path):
    """A function images -> (N, 10) logits backed by an exported SavedModel's `serve`."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(directory))

    def logits(images: np.ndarray) -> np.ndarray:
        return loaded.serve(tf.constant(as_batch(images))).numpy()

    return logits
