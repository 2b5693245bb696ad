"""Downloads of a result: the 28x28 PNG reads back as the image the model saw, and the CSV
holds every probability of every input."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from PIL import Image

from fashion.classes import CLASS_NAMES
from fashion.serving import share
from fashion.serving.classifier import Prediction
from fashion.serving.predict import load_raw


def test_png_28_is_the_image_the_model_saw(test_split):
    image = test_split.images[7] / 255.0
    data = share.png_28(image)
    im = Image.open(io.BytesIO(data))
    assert (im.format, im.mode, im.size) == ("PNG", "L", (28, 28))
    np.testing.assert_array_equal(np.asarray(im), test_split.images[7])
    # The CLI's --raw path (for 28x28 dataset images) reads it back unchanged.
    np.testing.assert_allclose(load_raw(data), image, atol=1 / 255)


def test_png_28_refuses_other_shapes():
    with pytest.raises(ValueError, match="28x28"):
        share.png_28(np.zeros((32, 32)))


def test_results_csv_has_a_row_per_input_and_all_ten_probabilities():
    probs = np.linspace(1, 10, 10)
    probs /= probs.sum()
    ok = Prediction(probs, not_garment=True)
    text = share.results_csv([("a.jpg", ok, None), ("broken.png", None, "damaged, file")])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["file"] for r in rows] == ["a.jpg", "broken.png"]
    assert rows[0]["class"] == CLASS_NAMES[9] and rows[0]["not_garment"] == "true"
    np.testing.assert_allclose([float(rows[0][c]) for c in CLASS_NAMES], probs, atol=1e-6)
    assert float(rows[0]["confidence"]) == pytest.approx(probs.max(), abs=1e-6)
    assert rows[1]["error"] == "damaged, file" and rows[1]["class"] == ""
