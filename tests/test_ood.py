"""Not a garment?: the generators, the threshold choice, and each shipped card's flag
rates against fresh data (a generated batch no calibration run has seen)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from fashion import data, ood, synthetic
from fashion.calibrate import validation_split
from fashion.card import ModelCard, shipped
from fashion.inference import Classifier

CALIBRATED = [c.name for c in shipped() if c.has_ood_check]
FRESH_SEED = 2  # calibration chose on seed 0 and reported seed 1


def test_generated_non_garments_look_like_dataset_images():
    images, kinds = synthetic.generate_non_garments(n_per_kind=5, seed=7)
    assert images.shape == (30, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    assert sorted(set(kinds)) == sorted(synthetic.KINDS)
    # Drawn things (not blank or noise) are bright on a mostly black background, like
    # Fashion-MNIST, so the detector cannot win by a trivial brightness difference.
    drawn = np.isin(kinds, ["text", "digit", "face", "shape"])
    assert np.median(images[drawn][:, 0, :]) < 0.05
    again, _ = synthetic.generate_non_garments(n_per_kind=5, seed=7)
    other, _ = synthetic.generate_non_garments(n_per_kind=5, seed=8)
    assert np.array_equal(images, again) and not np.array_equal(images, other)


def test_choose_thresholds_respects_the_validation_budget():
    rng = np.random.default_rng(0)
    val = (rng.normal(0, 1, 5000), rng.normal(0, 1, 5000))
    # Out-of-distribution: half far out on the first score, half on the second.
    out = (
        np.r_[rng.normal(6, 1, 500), rng.normal(0, 1, 500)],
        np.r_[rng.normal(0, 1, 500), rng.normal(6, 1, 500)],
    )
    te, tp = ood.choose_thresholds(val, out, max_val_flag_rate=0.05)
    assert np.mean(ood.flags(*val, te, tp)) <= 0.05
    assert np.mean(ood.flags(*out, te, tp)) > 0.9
    # With one score only, half of the non-garments would be missed.
    assert np.mean(out[0] > te) < 0.6


def test_pixel_model_separates_garments_from_noise(dataset):
    pm = ood.fit_pixel_model(dataset.train.as_float()[:2000])
    assert pm["components"].shape == (ood.N_COMPONENTS, 784)
    gram = pm["components"].astype(np.float64) @ pm["components"].T.astype(np.float64)
    np.testing.assert_allclose(gram, np.eye(ood.N_COMPONENTS), atol=1e-4)
    garments = ood.pixel_score(dataset.test.as_float()[:500], pm)
    noise = ood.pixel_score(np.random.default_rng(0).uniform(size=(50, 28, 28)), pm)
    assert noise.min() > np.quantile(garments, 0.99)


def test_uncalibrated_card_never_flags():
    assert not ood.is_not_garment(np.zeros((3, 10)), ModelCard(name="x")).any()


def not_garment(clf: Classifier, images: np.ndarray) -> np.ndarray:
    """The flags of `Classifier.predict_many`: what the app and the CLI show."""
    return np.array([p.not_garment for p in clf.predict_many(images)])


@functools.cache
def _fresh(name: str) -> dict:
    clf = Classifier.load(name)
    _, val = validation_split(clf.card)
    test = data.test_set()
    gen, kinds = synthetic.generate_non_garments(seed=FRESH_SEED)
    return {
        "clf": clf,
        "val": not_garment(clf, val.as_float()),
        "test": not_garment(clf, test.as_float()),
        "generated": not_garment(clf, gen),
        "kinds": kinds,
    }


@pytest.mark.parametrize("name", CALIBRATED)
def test_card_flag_rates_hold_on_fresh_data(name):
    f = _fresh(name)
    card = f["clf"].card
    # Same images, same thresholds: the card's figures are exact.
    assert np.mean(f["val"]) == pytest.approx(card.ood_flag_rate_val, abs=1e-6)
    assert np.mean(f["test"]) == pytest.approx(card.ood_flag_rate_test, abs=1e-6)
    assert card.ood_flag_rate_val <= ood.MAX_VAL_FLAG_RATE
    # Real garments are rarely flagged ...
    assert np.mean(f["test"]) < 0.08
    # ... and most non-garments are, also ones no calibration run has seen. 600 images:
    # a binomial standard error of ~2 points, so 8 points is a generous tolerance.
    fresh_rate = np.mean(f["generated"])
    assert fresh_rate > 0.5
    assert fresh_rate == pytest.approx(card.ood_flag_rate_generated, abs=0.08)


@pytest.mark.parametrize("name", CALIBRATED)
def test_blank_and_noise_are_flagged(name):
    f = _fresh(name)
    for kind in ("blank", "noise"):
        assert np.mean(f["generated"][f["kinds"] == kind]) > 0.6, kind


@pytest.mark.parametrize("name", CALIBRATED)
def test_energy_only_check_is_weaker_but_consistent(name):
    # Without images (an old caller) only the energy half runs: it flags a subset.
    clf = _fresh(name)["clf"]
    gen, _ = synthetic.generate_non_garments(n_per_kind=20, seed=FRESH_SEED)
    logits = clf.logits(gen)
    energy_only = ood.is_not_garment(logits, clf.card)
    both = ood.is_not_garment(logits, clf.card, gen, clf.path.parent)
    assert np.all(both[energy_only])
    assert np.array_equal(both, not_garment(clf, gen))
