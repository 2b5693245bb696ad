"""Export a shipped model for serving outside this process: SavedModel or TFLite (LiteRT).

One Streamlit process is enough for a demo; when it is not, the same model can be served
by TF Serving (SavedModel) or by the LiteRT interpreter (a .tflite flat buffer). Both
exports keep the model's contract: (N, 28, 28, 1) float32 in [0, 1] -> (N, 10) *logits*
(softmax and temperature stay in the caller, as in `fashion.inference.Classifier`).

This module only writes files; the Classifier serves the .tflite twin through
`fashion.engines.TFLiteRunner`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

# "twin" is the file the Classifier serves (assets/models/NAME.tflite, written by
# `train`): logits and penultimate features in one output (fashion.engines.twin_model).
FORMATS = ("saved_model", "tflite", "twin")
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
    if fmt == "twin":
        from fashion.engines import twin_model

        return export_tflite(twin_model(model), out_dir / f"{name}.tflite")
    return export_tflite(model, out_dir / f"{name}.tflite")
