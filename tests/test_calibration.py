"""Calibration: ECE and temperature fitting against known answers, and the shipped cards'
calibration figures against a fresh recomputation on the real data."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from fashion.analysis import charts
from fashion.card import shipped
from fashion.data import official
from fashion.serving.classifier import Classifier
from fashion.training.calibrate import validation_split
from fashion.trust import confidence

CALIBRATED = [c.name for c in shipped() if c.calibrated]


def _synthetic(n: int, seed: int, skew: float) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities whose stated confidence c is right with probability c ** skew.

    skew = 1 is perfectly calibrated; skew > 1 is over-confident.
    """
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.2, 1.0, n)
    pred = rng.integers(0, 10, n)
    probs = np.tile(((1 - conf) / 9)[:, None], (1, 10))
    probs[np.arange(n), pred] = conf
    correct = rng.uniform(size=n) < conf**skew
    # A wrong label: any class but the predicted one.
    wrong = (pred + rng.integers(1, 10, n)) % 10
    return probs, np.where(correct, pred, wrong)


def test_ece_of_a_calibrated_model_is_about_zero():
    probs, labels = _synthetic(40_000, seed=0, skew=1.0)
    # Sampling noise only: ~2,700 samples per bin -> |gap| ~ 0.01 at most.
    assert confidence.ece(probs, labels) < 0.01


def test_ece_of_an_overconfident_model_matches_its_gap():
    probs, labels = _synthetic(40_000, seed=1, skew=3.0)
    # E[c - c^3] for c ~ U(0.2, 1): the exact expected gap, computed by hand.
    expected = (0.5 * (1 - 0.2**2) - 0.25 * (1 - 0.2**4)) / 0.8
    assert confidence.ece(probs, labels) == pytest.approx(expected, abs=0.01)


def test_ece_by_hand():
    # Two bins used (15 bins: 0.9 -> bin 13, 0.6 -> bin 8):
    # bin 13: conf 0.9, 0.9, accuracy 1/2 -> gap 0.4; bin 8: conf 0.6, accuracy 1 -> gap 0.4.
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6]])
    labels = np.array([0, 1, 1])
    assert confidence.ece(probs, labels) == pytest.approx(2 / 3 * 0.4 + 1 / 3 * 0.4)
    r = confidence.reliability(probs, labels)
    assert r["count"].sum() == 3 and r["count"][13] == 2 and r["count"][8] == 1


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(2)
    true_logits = rng.normal(0, 3, (20_000, 10))
    p = confidence.softmax(true_logits)
    labels = (p.cumsum(axis=1) > rng.uniform(size=(len(p), 1))).argmax(axis=1)
    # A model reporting 2x the right logits is over-confident; T = 2 undoes it.
    t = confidence.fit_temperature(2 * true_logits, labels)
    assert t == pytest.approx(2.0, rel=0.05)
    assert confidence.nll(2 * true_logits, labels, t) < confidence.nll(2 * true_logits, labels)


def test_temperature_keeps_every_argmax():
    logits = np.random.default_rng(3).normal(0, 4, (1000, 10))
    for t in (0.5, 1.7, 5.0):
        assert np.array_equal(confidence.softmax(logits, t).argmax(1), logits.argmax(1))


def test_reliability_diagram_has_both_series():
    probs, labels = _synthetic(2000, seed=4, skew=2.0)
    fig = charts.reliability_diagram(probs, probs, labels)
    names = [tr.name for tr in fig.data]
    assert len(names) == 3 and names[0].startswith("before") and "ECE" in names[1]


def test_every_shipped_model_is_calibrated():
    missing = [c.name for c in shipped() if not c.calibrated]
    assert not missing, f"run: python -m fashion calibrate --all  (uncalibrated: {missing})"


@functools.cache
def _fresh(name: str) -> dict:
    """Recompute a model's calibration figures from the real data (once per model)."""
    clf = Classifier.load(name)
    _, val = validation_split(clf.card)
    test = official.test_set()
    return {
        "clf": clf,
        "val_logits": clf.logits(val.as_float()),
        "val_labels": val.labels,
        "test_logits": clf.logits(test.as_float()),
        "test_labels": test.labels,
    }


@pytest.mark.parametrize("name", CALIBRATED)
def test_card_calibration_figures_match_a_recomputation(name):
    f = _fresh(name)
    card, t = f["clf"].card, f["clf"].temperature
    assert t == card.temperature and t > 0
    # The temperature was fitted on this model's validation split: refitting gives it back.
    assert confidence.fit_temperature(f["val_logits"], f["val_labels"]) == pytest.approx(
        t, abs=1e-4
    )
    before = confidence.nll(f["val_logits"], f["val_labels"])
    after = confidence.nll(f["val_logits"], f["val_labels"], t)
    assert after <= before
    assert card.nll_val_before == pytest.approx(before, abs=1e-5)
    assert card.nll_val_after == pytest.approx(after, abs=1e-5)
    ece_before = confidence.ece(confidence.softmax(f["test_logits"]), f["test_labels"])
    shown = confidence.calibrated(f["test_logits"], t, card.confidence_knots)
    ece_after = confidence.ece(shown, f["test_labels"])
    assert card.ece_before == pytest.approx(ece_before, abs=1e-5)
    assert card.ece_after == pytest.approx(ece_after, abs=1e-5)


@pytest.mark.parametrize("name", CALIBRATED)
def test_classifier_shows_calibrated_probabilities(name):
    f = _fresh(name)
    clf, images = f["clf"], official.test_set().as_float()[:200]
    expected = confidence.calibrated(
        f["test_logits"][:200], clf.temperature, clf.card.confidence_knots
    )
    np.testing.assert_allclose(clf.predict_proba(images), expected, atol=1e-5)
    # Calibration never changes a prediction, so the card's test accuracy still holds.
    acc = np.mean(f["test_logits"].argmax(1) == f["test_labels"])
    assert acc == pytest.approx(clf.card.test_accuracy, abs=1e-4)


def test_isotonic_fit_matches_a_hand_worked_case():
    x = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0])
    kx, ky = confidence.isotonic_fit(x, y)
    # (1, 0) violates the order and is pooled to 0.5 at x = 0.25.
    np.testing.assert_allclose(kx, [0.1, 0.25, 0.4, 0.5])
    np.testing.assert_allclose(ky, [0.0, 0.5, 1.0, 1.0])
    assert np.all(np.diff(ky) >= 0)


def test_confidence_map_keeps_every_argmax_and_sums_to_one():
    rng = np.random.default_rng(5)
    probs = confidence.softmax(rng.normal(0, 3, (2000, 10)))
    probs[0] = np.eye(10)[3]  # all mass on one class
    # A harsh map: every confidence becomes 0.15, barely above a uniform guess.
    knots = (np.array([0.0, 1.0]), np.array([0.15, 0.15]))
    out = confidence.remap_confidence(probs, knots)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)
    assert np.array_equal(out.argmax(axis=1), probs.argmax(axis=1))
    assert np.all(out >= 0)
    # Where the runner-up allows it, the top probability is exactly the map's value.
    second = np.sort(probs, axis=1)[:, -2]
    # second / (1 - top + second) < 0.15, multiplied out: the one-hot row (0 / 0) is
    # then plainly not free instead of a NaN and a warning.
    free = second < 0.15 * (1 - probs.max(axis=1) + second)
    np.testing.assert_allclose(out.max(axis=1)[free], 0.15)


def test_the_map_helps_an_overconfident_model_on_held_out_data():
    # Stated confidence c is right with probability c ** 3: temperature alone cannot fix
    # every level at once; the held-out gain must be positive.
    probs, labels = _synthetic(6000, seed=6, skew=3.0)
    logits = np.log(probs)
    t = confidence.fit_temperature(logits, labels)
    assert confidence.held_out_ece_gain(logits, labels, t) > 0
