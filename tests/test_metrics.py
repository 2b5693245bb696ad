"""Metrics against hand-computed values and a numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from fashion.analysis import metrics


def test_confusion_matrix_by_hand():
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 2]
    cm = metrics.confusion_matrix(y_true, y_pred, num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    np.testing.assert_allclose(metrics.per_class_accuracy(cm), [0.5, 1.0, 2 / 3])
    p, r, f1 = metrics.precision_recall_f1(cm)
    np.testing.assert_allclose(p, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(r, [0.5, 1.0, 2 / 3])
    np.testing.assert_allclose(f1, [0.5, 2 / 3, 0.8])


def test_confusion_matrix_matches_a_loop_reference():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    ref = np.zeros((10, 10), int)
    for t, p in zip(y_true, y_pred):
        ref[t, p] += 1
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred), ref)
    np.testing.assert_allclose(metrics.normalize_rows(ref).sum(axis=1), 1.0)


def test_empty_classes_do_not_divide_by_zero():
    cm = np.array([[2, 0], [0, 0]])
    np.testing.assert_allclose(metrics.per_class_accuracy(cm), [1.0, 0.0])
    p, r, f1 = metrics.precision_recall_f1(cm)
    assert np.isfinite(p).all() and np.isfinite(f1).all()
    with pytest.raises(ValueError):
        metrics.accuracy([], [])


def test_mistakes_filters_and_orders():
    probs = np.array(
        [
            [0.9, 0.1, 0.0],  # label 0, right
            [0.2, 0.7, 0.1],  # label 0, predicted 1 at 0.7
            [0.4, 0.6, 0.0],  # label 0, predicted 1 at 0.6
            [0.05, 0.05, 0.9],  # label 1, predicted 2 at 0.9
        ]
    )
    labels = np.array([0, 0, 0, 1])
    assert metrics.mistakes(probs, labels).tolist() == [3, 1, 2]
    assert metrics.mistakes(probs, labels, order="true-low").tolist() == [3, 1, 2]
    assert metrics.mistakes(probs, labels, true_class=0).tolist() == [1, 2]
    assert metrics.mistakes(probs, labels, predicted_class=2).tolist() == [3]
    assert metrics.mistakes(probs, labels, order="index").tolist() == [1, 2, 3]


def test_label_error_order_keeps_only_very_confident_mistakes_and_filters():
    probs = np.array(
        [
            [0.97, 0.02, 0.01],  # label 0, right
            [0.01, 0.95, 0.04],  # label 0, predicted 1 at 0.95: a candidate
            [0.30, 0.70, 0.00],  # label 0, predicted 1 at 0.7: a mistake, not a candidate
            [0.001, 0.009, 0.99],  # label 1, predicted 2 at 0.99: the strongest candidate
            [0.02, 0.93, 0.05],  # label 2, predicted 1 at 0.93: a candidate
        ]
    )
    labels = np.array([0, 0, 0, 1, 2])
    assert metrics.mistakes(probs, labels, order="label-error").tolist() == [3, 1, 4]
    assert metrics.mistakes(probs, labels, true_class=0, order="label-error").tolist() == [1]
    assert metrics.mistakes(probs, labels, predicted_class=1, order="label-error").tolist() == [
        1,
        4,
    ]
    with pytest.raises(ValueError):
        metrics.mistakes(probs, labels, order="nonsense")


def test_smoothed_loss_floor_is_the_entropy_of_the_smoothed_target():
    from fashion.analysis.metrics import smoothed_loss_floor

    assert smoothed_loss_floor(0.0) == 0.0
    # Against a reference: cross-entropy of the smoothed target with itself, by hand.
    target = np.full(10, 0.1 / 10)
    target[3] += 0.9
    assert smoothed_loss_floor(0.1) == pytest.approx(-(target * np.log(target)).sum())
    assert smoothed_loss_floor(0.1) == pytest.approx(0.500, abs=0.001)
