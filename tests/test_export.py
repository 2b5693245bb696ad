"""`python -m fashion export`: each format loads back and predicts what the Keras model does."""

from __future__ import annotations

import numpy as np
import pytest

from fashion.__main__ import main
from fashion.serving.engines import TFLiteRunner
from fashion.serving.export import export

N_IMAGES = 300  # a few hundred: every class, many confusable pairs, and still fast


@pytest.fixture(scope="module")
def images(test_split) -> np.ndarray:
    picks = np.random.default_rng(0).choice(len(test_split), size=N_IMAGES, replace=False)
    return test_split.as_float()[picks]


@pytest.fixture(scope="module")
def keras_logits(classifier, images) -> np.ndarray:
    return classifier.model.predict(images, verbose=0)


def assert_same_predictions(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape == (N_IMAGES, 10)
    np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.parametrize("fmt", ["saved_model", "tflite"])
def test_cli_export_loads_and_predicts_like_keras(fmt, classifier, images, keras_logits, tmp_path):
    assert (
        main(["export", "--format", fmt, "--model", classifier.name, "--out", str(tmp_path)]) == 0
    )
    if fmt == "saved_model":
        path = tmp_path / f"{classifier.name}.saved_model"
        assert (path / "saved_model.pb").is_file()
        import tensorflow as tf

        # What TF Serving would run: the exported `serve` signature (keep the loaded
        # object referenced while it runs: it owns the variables).
        loaded = tf.saved_model.load(str(path))
        logits = loaded.serve(tf.constant(images)).numpy()
    else:
        path = tmp_path / f"{classifier.name}.tflite"
        assert path.stat().st_size > 1000
        logits = TFLiteRunner(path).run(images)  # the exported contract: logits only
    assert_same_predictions(logits, keras_logits)


def test_unknown_format_is_refused(classifier, tmp_path):
    with pytest.raises(ValueError, match="unknown export format"):
        export(classifier.model, "onnx", tmp_path, "x")


def test_cli_refuses_unknown_format():
    with pytest.raises(SystemExit):
        main(["export", "--format", "onnx"])


def test_int8_export_is_a_quarter_of_the_size_and_keeps_the_answers(
    classifier, images, keras_logits, tmp_path
):
    assert (
        main(
            [
                "export",
                "--format",
                "tflite-int8",
                "--model",
                classifier.name,
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    # The float32 weights are already on disk: the served twin (its few extra pooling
    # outputs add no weights), so no second float conversion is needed to compare.
    float_file = classifier.path.with_suffix(".tflite")
    int8_file = tmp_path / f"{classifier.name}.int8.tflite"
    assert int8_file.stat().st_size < 0.35 * float_file.stat().st_size
    runner = TFLiteRunner(int8_file)
    assert runner.width == 10  # the export contract: logits only
    logits = runner.run(images)
    # int8 rounding may flip a near tie (benchmarks/int8.py: ~2 in 1,000 test images),
    # not more: 3 of 300 would already mean a badly calibrated range (the shipped model
    # changes 1 of these 300).
    changed = int((logits.argmax(axis=1) != keras_logits.argmax(axis=1)).sum())
    assert changed <= 2, f"{changed} of {N_IMAGES} answers changed"
    # The logits themselves stay close: the softmax a visitor reads barely moves.
    agree = np.corrcoef(logits.ravel(), keras_logits.ravel())[0, 1]
    assert agree > 0.99
