"""A short real training run writes a model and a card that load and predict."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from fashion.inference import Classifier


def test_short_training_run_writes_a_usable_model(tmp_path, test_split):
    cmd = [
        sys.executable,
        "-m",
        "fashion",
        "train",
        "cnn-basic",
        "--epochs",
        "1",
        "--limit",
        "400",
        "--seed",
        "7",
        "--out-dir",
        str(tmp_path),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    card = json.loads((tmp_path / "cnn-basic.json").read_text())
    assert card["epochs"] == 1 and card["n_train"] == 360 and card["n_val"] == 40
    assert "--limit 400" in card["command"] and "--seed 7" in card["command"]
    assert len(card["history"]["val_accuracy"]) == 1
    assert sum(map(sum, card["confusion_matrix"])) == 10000

    clf = Classifier(tmp_path / "cnn-basic.keras")
    probs = clf.predict_proba(test_split.as_float()[:50])
    assert probs.shape == (50, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    # Even one epoch on 360 images beats chance by a wide margin.
    accuracy = (probs.argmax(1) == test_split.labels[:50]).mean()
    assert accuracy > 0.3
