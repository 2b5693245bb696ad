"""`python -m fashion predict FILE...`: classify image files, one result per file, in order.

A bad file never stops the others: each file is read and prepared on its own, the good
ones are classified together in one batch, and the exit code is 1 if any file failed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from fashion.card import MODELS_DIR
from fashion.classes import IMAGE_SIZE
from fashion.data.preprocess import InputError, dataset_image, photo
from fashion.data.uploads import MAX_UPLOAD_BYTES, decode
from fashion.serving.classifier import Classifier, Prediction


def _read(path: str) -> bytes:
    """The file's bytes, refusing anything over the upload cap without reading it all."""
    p = Path(path)
    if not p.is_file():
        raise InputError("No such file." if not p.exists() else "Not a regular file.")
    with p.open("rb") as fh:
        data = fh.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"The file is larger than the {MAX_UPLOAD_BYTES / 2**20:.1f} MiB limit.")
    return data


def load_raw(data: bytes) -> np.ndarray:
    """A file that already is a 28x28 dataset image -> (28, 28) float32 in [0, 1].

    Raises:
        InputError: not decodable, or not 28x28.
    """
    im = decode(data, work_size=0)
    if im.size != (IMAGE_SIZE, IMAGE_SIZE):
        raise InputError(
            f"--raw expects a 28x28 Fashion-MNIST image, this one is {im.size[0]}x"
            f"{im.size[1]}; drop --raw to use the photo pipeline."
        )
    return dataset_image(np.asarray(im.convert("L"))).image


def prepare_file(path: str, raw: bool = False) -> np.ndarray:
    """Read and prepare one file for the model: (28, 28) float32 in [0, 1].

    Raises:
        InputError: the file is missing, unreadable or not a usable image.
    """
    try:
        data = _read(path)
    except OSError as exc:
        raise InputError(f"Cannot read the file ({exc.strerror or exc}).") from exc
    return load_raw(data) if raw else photo(data).image


def predict_files(
    files: list[str],
    model: str | None = None,
    as_json: bool = False,
    raw: bool = False,
    models_dir: Path = MODELS_DIR,
    out: TextIO | None = None,
) -> int:
    """Classify each file and print one result per file, in the order given.

    Args:
        files: paths of image files.
        model: shipped model name; None = the best shipped model.
        as_json: one JSON object per line, {"file", "label", "class", "probabilities",
            "not_garment"} or {"file", "error"}; otherwise one readable line per file.
        raw: the files already are 28x28 dataset images: skip the photo pipeline.
        models_dir: where the shipped models live.
        out: where to print (default: stdout).

    Returns:
        The process exit code: 0 if every file was classified, 1 if any failed, 2 if
        the model does not exist.
    """
    out = out or sys.stdout
    prepared: dict[int, np.ndarray] = {}
    errors: dict[int, str] = {}
    for i, path in enumerate(files):
        try:
            prepared[i] = prepare_file(path, raw=raw)
        except InputError as exc:
            errors[i] = str(exc)
        except Exception as exc:  # a bug must not cost the user the rest of the batch
            errors[i] = f"internal error while reading this file ({type(exc).__name__}: {exc})"

    results: dict[int, Prediction] = {}
    if prepared:
        try:
            clf = Classifier.load(model, models_dir)
        except FileNotFoundError as exc:  # unknown model: no file can be classified
            print(f"error: {exc}", file=sys.stderr)
            return 2
        order = sorted(prepared)
        batch = np.stack([prepared[i] for i in order])  # (N, 28, 28)
        for i, result in zip(order, clf.predict_many(batch), strict=True):
            results[i] = result

    for i, path in enumerate(files):
        if i in errors:
            record = {"file": path, "error": errors[i]}
            line = json.dumps(record) if as_json else f"{path}: error: {errors[i]}"
        else:
            r = results[i]
            if as_json:
                line = json.dumps({"file": path} | r.to_json())
            else:
                warning = " [unlike the training images: not a garment?]" if r.not_garment else ""
                line = f"{path}: {r.class_name} ({r.confidence:.1%}){warning}"
        print(line, file=out, flush=True)
    return 1 if errors else 0
