"""Export a shipped model for serving outside this process: SavedModel or TFLite (LiteRT).

One Streamlit process is enough for a demo; when it is not, the same model can be served
by TF Serving (SavedModel) or by the LiteRT interpreter (a .tflite flat buffer). Both
exports keep the model's contract: (N, 28, 28, 1) float32 in [0, 1] -> (N, 10) *logits*
(softmax and temperature stay in the caller, as in `fashion.serving.classifier.Classifier`).

`tflite-int8` is the same contract with int8 weights and activations inside (float in and
out): about a quarter of the file and of the CPU time, for about two changed answers in
a thousand (benchmarks/int8.py measures both). The app keeps serving float32.

This module only writes files; the Classifier serves the .tflite twin through
`fashion.serving.engines.TFLiteRunner`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

# "twin" is the file the Classifier serves (assets/models/NAME.tflite, written by
# `train`): logits and penultimate features in one output (fashion.serving.engines.twin_model).
FORMATS = ("saved_model", "tflite", "tflite-int8", "twin")
# Which images set the int8 activation ranges: every 120th of the 60,000 training images
# (500, every class; never a test image). Some fall in a model's validation split, which
# is harmless: they set value ranges only, and their labels are never read.
INT8_CALIBRATION_STRIDE = 120
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


def int8_calibration_images() -> np.ndarray:
    """The training images whose activations set the int8 ranges: (500, 28, 28, 1)."""
    from fashion.data import official

    return official.train_set().as_float()[::INT8_CALIBRATION_STRIDE]


def tflite_bytes(model, int8_calibration: np.ndarray | None = None) -> bytes:
    """`model` converted to a TFLite flat buffer with a dynamic batch size.

    Args:
        model: a Keras model taking (N, 28, 28, 1) float32 images.
        int8_calibration: None for float32 throughout; else images whose activations set
            the ranges of a full-integer model (int8 kernels, float32 input and output).

    The conversion goes through a SavedModel because that is the converter's most
    supported entry point (`from_keras_model` is a Keras 2 API).
    """
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="fashion-export-") as tmp:
        saved = export_saved_model(model, Path(tmp) / "saved_model")
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        if int8_calibration is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([x[None]] for x in int8_calibration)
            # Refuse to fall back to float kernels: a half-quantised model would be
            # neither as exact as float32 nor as fast as int8.
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        return converter.convert()


def export_tflite(model, path: str | Path, int8_calibration: np.ndarray | None = None) -> Path:
    """Write `model` as a .tflite file (see `tflite_bytes`) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tflite_bytes(model, int8_calibration))
    return path


def export(model, fmt: str, out_dir: str | Path, name: str) -> Path:
    """Export `model` in format `fmt` as `out_dir/name.saved_model/`, `out_dir/name.tflite`
    or (tflite-int8) `out_dir/name.int8.tflite`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "saved_model":
        return export_saved_model(model, out_dir / f"{name}.saved_model")
    if fmt == "twin":
        from fashion.serving.engines import twin_model

        return export_tflite(twin_model(model), out_dir / f"{name}.tflite")
    if fmt == "tflite-int8":
        return export_tflite(model, out_dir / f"{name}.int8.tflite", int8_calibration_images())
    return export_tflite(model, out_dir / f"{name}.tflite")
