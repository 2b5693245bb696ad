"""Every prediction path agrees with the Keras model itself, on the whole official test set.

The reference is `model.predict` on the 10k test images (one batched call, as Keras
intends it), turned into probabilities with the card's temperature exactly as the
Classifier does. Argmax must be identical for all 10,000 images and every probability
within 1e-4, for every shipped model.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from fashion.card import MODELS_DIR, default_name, shipped
from fashion.serving.classifier import Classifier
from fashion.serving.engines import BATCH, as_batch
from fashion.trust.confidence import calibrated

TOLERANCE = 1e-4
MODEL_NAMES = [card.name for card in shipped()]


@pytest.fixture(scope="module")
def test_images(test_split) -> np.ndarray:
    return test_split.as_float()  # (10000, 28, 28, 1)


@pytest.fixture(scope="module")
def reference(test_images):
    """name -> (Classifier, (10000, 10) Keras probabilities), each computed once.

    The probabilities come from the Keras model's own `predict` at the card's
    temperature; a big model costs seconds per pass, so the tests share them.
    """
    cache: dict[str, tuple[Classifier, np.ndarray]] = {}

    def get(name: str) -> tuple[Classifier, np.ndarray]:
        if name not in cache:
            clf = Classifier.load(name)
            logits = clf.model.predict(test_images, batch_size=BATCH, verbose=0)
            if clf.views == "image+mirror":  # the mean of the logits of both views
                mirrored = clf.model.predict(test_images[:, :, ::-1], batch_size=BATCH, verbose=0)
                logits = (logits + mirrored) / 2
            else:
                assert clf.views == "image", f"{name}: no reference for views {clf.views!r}"
            cache[name] = (clf, calibrated(logits, clf.temperature, clf.card.confidence_knots))
        return cache[name]

    return get


def assert_agree(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    mismatched = np.flatnonzero(got.argmax(axis=1) != want.argmax(axis=1))
    assert mismatched.size == 0, f"argmax differs on {mismatched.size} images: {mismatched[:10]}"
    worst = float(np.abs(got - want).max())
    assert worst <= TOLERANCE, f"probabilities differ by up to {worst:.2e}"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fast_path_agrees_with_keras_on_the_whole_test_set(name, test_images, reference):
    clf, want = reference(name)
    assert_agree(clf.predict_proba(test_images), want)
    # Single images (the app's case) go through the one-thread interpreter.
    picks = np.random.default_rng(0).choice(len(test_images), size=50, replace=False)
    singles = np.stack([clf.predict(test_images[i, :, :, 0]).probs for i in picks])
    assert_agree(singles, want[picks])


def test_tf_function_engine_agrees_with_keras_on_the_whole_test_set(test_images, reference):
    # The default model only: the engine is model-agnostic and a 10k pass costs seconds.
    clf, want = reference(default_name())
    traced = Classifier.load(clf.name, engine="tf-function")
    assert traced.engine == "tf-function"
    assert_agree(traced.predict_proba(test_images), want)
    assert_agree(traced.predict_proba(test_images[7]), want[7:8])


def test_one_image_gets_exactly_its_batch_answer(classifier, test_images):
    # Singles and batches run on different interpreters (1 thread / all cores); the
    # sample page and the confusion matrix must still show the very same numbers.
    assert classifier.engine == "tflite"
    batch = classifier.logits(test_images[:200])
    singles = np.concatenate([classifier.logits(test_images[i]) for i in range(200)])
    np.testing.assert_array_equal(singles, batch)


def test_every_shipped_model_has_its_tflite_twin(caplog):
    # Without the twin every load would convert the model again (seconds).
    for name in MODEL_NAMES:
        twin = Path(MODELS_DIR) / f"{name}.tflite"
        assert twin.is_file(), f"{name}.tflite missing: python -m fashion export"
    with caplog.at_level(logging.WARNING, logger="fashion.serving.classifier"):
        Classifier.load(MODEL_NAMES[-1])
    assert not caplog.records


def _copy_model(name: str, to: Path) -> Path:
    for suffix in (".keras", ".json", ".ood.npz"):
        shutil.copy(Path(MODELS_DIR) / f"{name}{suffix}", to / f"{name}{suffix}")
    return to / f"{name}.keras"


def test_a_stale_twin_is_detected_and_replaced(tmp_path, test_images, reference, caplog):
    # Another model's .tflite under this model's name: same shapes, different maths.
    small, other = MODEL_NAMES[-1], MODEL_NAMES[-2]
    path = _copy_model(small, tmp_path)
    shutil.copy(Path(MODELS_DIR) / f"{other}.tflite", path.with_suffix(".tflite"))
    with caplog.at_level(logging.WARNING, logger="fashion.serving.classifier"):
        clf = Classifier(path)  # the temperature comes from the copied card
    assert "does not compute what" in caplog.text
    assert_agree(clf.predict_proba(test_images), reference(small)[1])


def test_a_model_without_twin_is_converted_on_load(tmp_path, test_images, reference):
    name = MODEL_NAMES[-1]
    clf = Classifier(_copy_model(name, tmp_path))
    assert not (tmp_path / f"{name}.tflite").exists()  # converted in memory, nothing written
    assert_agree(clf.predict_proba(test_images[:500]), reference(name)[1][:500])


def test_mirror_views_average_the_image_and_its_mirror(classifier, test_images):
    x = test_images[:64]
    views = classifier.views
    try:
        classifier.views = "image"
        plain = classifier.outputs(x)
        mirror = classifier.outputs(x[:, :, ::-1])
        classifier.views = "image+mirror"
        both = classifier.outputs(x)
        both_of_mirror = classifier.outputs(x[:, :, ::-1])
        one = classifier.predict(x[5])
    finally:
        classifier.views = views
    for k in range(2):  # logits, then features: both are averaged over the views
        np.testing.assert_allclose(both[k], (plain[k] + mirror[k]) / 2, atol=1e-5)
        # An image and its mirror are the same pair of views: the same answer.
        np.testing.assert_allclose(both_of_mirror[k], both[k], atol=1e-5)
    assert not np.allclose(plain[0], both[0], atol=1e-3)  # the mirror view did count
    assert one.label == int(both[0][5].argmax())


def test_unknown_views_are_refused(classifier):
    with pytest.raises(ValueError, match="unknown test-time views"):
        classifier.views = "image+upside-down"


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="unknown engine"):
        Classifier.load(MODEL_NAMES[-1], engine="onnx")


def test_probabilities_are_distributions(classifier, test_images):
    probs = classifier.predict_proba(test_images[:100])
    assert probs.shape == (100, 10)
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize(
    "shape", [(28, 28), (28, 28, 1), (3, 28, 28), (3, 28, 28, 1), (0, 28, 28, 1)]
)
def test_every_accepted_shape_becomes_a_batch(shape):
    x = as_batch(np.zeros(shape, np.float32))
    assert x.shape[1:] == (28, 28, 1) and x.dtype == np.float32


@pytest.mark.parametrize("shape", [(28,), (27, 28), (2, 28, 28, 3), (28, 28, 2)])
def test_wrong_shapes_are_refused(shape):
    with pytest.raises(ValueError, match="28x28"):
        as_batch(np.zeros(shape, np.float32))


def test_empty_batch_gives_empty_result(classifier):
    assert classifier.predict_proba(np.zeros((0, 28, 28), np.float32)).shape == (0, 10)


def test_shared_classifier_is_thread_safe(classifier, test_images):
    # Batches of different sizes from 8 threads at once must each get their own answer.
    want = classifier.predict_proba(test_images[:240])
    got: dict[int, np.ndarray] = {}

    def worker(t: int) -> None:
        size = 1 + t * 4  # different batch shapes in flight together
        start = t * 30
        got[t] = classifier.predict_proba(test_images[start : start + size])

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for t, probs in got.items():
        np.testing.assert_allclose(probs, want[t * 30 : t * 30 + len(probs)], atol=1e-6)
    assert len(got) == 8
