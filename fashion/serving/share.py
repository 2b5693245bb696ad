"""Results as files a user can download: the 28x28 image the model saw, the probabilities.

Pure (no Streamlit): the app's download buttons call these, and a test can read the
files back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import numpy as np
from PIL import Image

from fashion.classes import CLASS_NAMES
from fashion.serving.classifier import Prediction

CSV_FIELDS = ["file", "class", "confidence", "not_garment", "error", *CLASS_NAMES]


def png_28(image: np.ndarray) -> bytes:
    """The (28, 28) float image in [0, 1] the model saw, as an 8-bit grayscale PNG.

    Exactly the dataset's format: `python -m fashion predict --raw` reads it back.
    """
    a = np.asarray(image, dtype=np.float32).squeeze()
    if a.shape != (28, 28):
        raise ValueError(f"expected a 28x28 image, got shape {a.shape}")
    buf = io.BytesIO()
    Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8), mode="L").save(buf, "PNG")
    return buf.getvalue()


def results_csv(rows: Iterable[tuple[str, Prediction | None, str | None]]) -> str:
    """One CSV line per input: its name, the answer and all ten probabilities.

    Args:
        rows: (name, prediction, error) per input, in the order to write them; a row
            with an error (a file that could not be used) has no prediction.

    Returns:
        CSV text with a header; probabilities with 6 decimals, in label order.
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for name, prediction, error in rows:
        row: dict[str, object] = {"file": name, "error": error or ""}
        if prediction is not None:
            row |= {
                "class": prediction.class_name,
                "confidence": f"{prediction.confidence:.6f}",
                "not_garment": str(prediction.not_garment).lower(),
            }
            row |= {c: f"{p:.6f}" for c, p in zip(CLASS_NAMES, prediction.probs, strict=True)}
        writer.writerow(row)
    return out.getvalue()
