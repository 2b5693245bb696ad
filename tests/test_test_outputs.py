"""Each model's answers on the test set are stored beside it (NAME.test.npz), and a file
that belongs to other weights or views is detected, not believed, and rebuilt."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from fashion import card
from fashion.analysis import test_outputs
from fashion.serving.classifier import Classifier


def test_every_shipped_model_has_its_current_test_answers_stored(shipped_cards):
    for c in shipped_cards:
        path = test_outputs.outputs_path(c.name)
        stored = test_outputs.load(path)
        assert stored is not None, f"{path} missing: python -m fashion precompute --all"
        clf = Classifier.load(c.name)
        assert stored.fingerprint == test_outputs.fingerprint(clf), f"{path} is stale"
        assert stored.logits.shape == (10_000, 10) and stored.logits.dtype == np.float32


def test_the_stored_answers_are_the_models_own(test_split):
    clf = Classifier.load(card.default_name())
    stored = test_outputs.load(test_outputs.outputs_path(clf.card.name))
    some = np.random.default_rng(0).choice(len(test_split), 200, replace=False)
    np.testing.assert_allclose(
        stored.logits[some], clf.logits(test_split.as_float()[some]), atol=1e-4
    )


@pytest.fixture
def models_dir(tmp_path):
    """A models folder with one small shipped model in it."""
    for f in card.MODELS_DIR.glob("cnn-basic.*"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def test_a_stale_file_is_detected_recomputed_and_rebuilt_by_the_command(models_dir, test_split):
    images = test_split.as_float()
    clf = Classifier.load("cnn-basic", models_dir)
    path = test_outputs.outputs_path("cnn-basic", models_dir)
    # Answers of other weights (as after a retraining without `precompute`).
    wrong = np.zeros((len(images), 10), np.float32)
    test_outputs.save(test_outputs.TestOutputs(wrong, "other-weights/image"), path)
    logits = test_outputs.stored_logits(clf, images, path)
    assert not np.array_equal(logits, wrong)
    np.testing.assert_allclose(logits, clf.logits(images), atol=1e-5)
    # The same weights with other views are other answers too.
    fp = test_outputs.fingerprint(clf)
    test_outputs.save(test_outputs.TestOutputs(wrong, fp.rsplit("/", 1)[0] + "/xx"), path)
    assert not np.array_equal(test_outputs.stored_logits(clf, images, path), wrong)
    # A damaged file is no file.
    path.write_bytes(b"not an npz")
    assert test_outputs.load(path) is None
    # The command stores the right ones again.
    cmd = [sys.executable, "-m", "fashion", "precompute", "--model", "cnn-basic",
           "--models-dir", str(models_dir)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    stored = test_outputs.load(path)
    assert stored.fingerprint == fp
    np.testing.assert_allclose(stored.logits, clf.logits(images), atol=1e-5)
