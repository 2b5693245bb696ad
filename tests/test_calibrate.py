"""`python -m fashion calibrate` end to end, on a copy of a small shipped model: the views
it chooses, the temperature and the "not a garment?" check it writes, and that every
figure it writes into the card is what the saved files give when loaded again."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fashion.analysis.evaluate import evaluate_classifier
from fashion.card import MODELS_DIR, ModelCard, card_path
from fashion.data import official
from fashion.serving.classifier import Classifier
from fashion.serving.engines import VIEWS
from fashion.training import flag_thresholds
from fashion.training.calibrate import calibrate_model, validation_split

NAME = "flatten-128"  # seconds to calibrate; the pipeline is the same for every model


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    for suffix in (".keras", ".json", ".tflite"):
        shutil.copy(MODELS_DIR / f"{NAME}{suffix}", out / f"{NAME}{suffix}")
    before = ModelCard.read(out / f"{NAME}.json")
    # Smaller fits than the real command's, the same code path.
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {
            "N_FEATURE_IMAGES": 4000,
            "N_SKETCH_IMAGES": 500,
            "N_HOLDOUT": 400,
            "N_VAL_PHOTOS": 150,
            "N_VAL_HOMES": 100,
            "N_VAL_SKETCHES": 500,
        }.items():
            mp.setattr(flag_thresholds, k, v)
        fields = calibrate_model(NAME, out)
    return out, before, fields


def test_the_views_are_the_validation_splits_choice(calibrated):
    out, _, fields = calibrated
    card = ModelCard.read(card_path(NAME, out))
    assert card.views == fields["views"] and set(card.val_accuracy_by_views) == set(VIEWS)
    accuracy = card.val_accuracy_by_views
    # More views only when strictly better on validation.
    assert accuracy[card.views] == max(accuracy.values())
    if card.views != VIEWS[0]:
        assert accuracy[card.views] > accuracy[VIEWS[0]]
    clf = Classifier.load(NAME, models_dir=out)
    _, val = validation_split(card)
    for views in VIEWS:
        clf.views = views
        got = np.mean(clf.logits(val.as_float()).argmax(axis=1) == val.labels)
        assert got == pytest.approx(accuracy[views], abs=1e-6)


def test_the_cards_test_figures_are_those_of_its_views(calibrated):
    out, before, _ = calibrated
    card = ModelCard.read(card_path(NAME, out))
    report = evaluate_classifier(Classifier.load(NAME, models_dir=out))
    assert report["test_accuracy"] == pytest.approx(card.test_accuracy, abs=1e-6)
    assert report["confusion_matrix"] == card.confusion_matrix
    if card.views == before.views:  # nothing that changes an answer changed
        assert card.test_accuracy == before.test_accuracy


def test_the_detector_leaves_the_validation_garments_alone(calibrated):
    out, _, fields = calibrated
    card = ModelCard.read(card_path(NAME, out))
    assert card.temperature > 0 and card.ood_thresholds
    assert card.ood_flag_rate_val <= flag_thresholds.MAX_VAL_FLAG_RATE
    assert card.ood_flag_rate_val_photos <= flag_thresholds.GARMENT_BUDGETS["photos"]
    assert card.ood_flag_rate_val_homes <= flag_thresholds.GARMENT_BUDGETS["homes"]
    assert card.ood_flagged_val_sketches == 0
    # The card's rates are what the saved thresholds and statistics give.
    clf = Classifier.load(NAME, models_dir=out)
    test = official.test_set()
    flags = [p.not_garment for p in clf.predict_many(test.as_float())]
    assert np.mean(flags) == pytest.approx(card.ood_flag_rate_test, abs=1e-6)
    assert fields["ood_flag_rate_generated"] > 0.3  # and it still catches non-garments
