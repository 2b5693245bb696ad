"""`python -m fashion calibrate`: choose a shipped model's test-time views, fit its
temperature and its "not a garment?" thresholds on its validation split, and write them
into its card.

Only card fields are added (or replaced); the weights stay exactly as they were. The
temperature never changes an answer; other views can, so when the views change the
card's test figures are recomputed with them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fashion import card as cards
from fashion.data import official
from fashion.serving.engines import VIEWS
from fashion.training import flag_thresholds
from fashion.trust import not_garment
from fashion.trust.confidence import (
    calibrated,
    ece,
    fit_temperature,
    held_out_ece_gain,
    isotonic_fit,
    nll,
    softmax,
)

# A confidence map is kept only when it lowers held-out ECE by at least this much
# (0.2 points): below that the temperature alone is as good and simpler.
MIN_MAP_GAIN = 0.002


def validation_split(card: cards.ModelCard) -> tuple[official.Split, official.Split]:
    """The exact (fit, validation) splits the model of `card` was trained on."""
    cfg = card.config
    fit, val = official.model_splits(
        cfg.get("limit"), cfg.get("val_fraction", 0.1), cfg.get("seed", 0)
    )
    if len(val) == 0:
        raise ValueError(f"{card.name}: trained without a validation split; cannot calibrate")
    return fit, val


def choose_views(
    clf, images: np.ndarray, labels: np.ndarray
) -> tuple[str, dict[str, float], np.ndarray]:
    """The test-time views (`fashion.serving.engines.VIEWS`) with the best validation accuracy,
    every candidate's accuracy, and the chosen views' logits of `images`. More views must
    be strictly better to be chosen: each one costs a forward pass per answer, and a tie
    is no evidence."""
    by_views, logits = {}, {}
    for views in VIEWS:
        clf.views = views
        logits[views] = clf.logits(images)
        by_views[views] = round(float(np.mean(logits[views].argmax(axis=1) == labels)), 6)
    best = VIEWS[0]
    for views in VIEWS[1:]:  # in order of cost
        if by_views[views] > by_views[best]:
            best = views
    return best, by_views, logits[best]


def calibrate_model(name: str, models_dir: Path | None = None) -> dict:
    """Fit the temperature and the "not a garment?" thresholds; write them into the card.

    Args:
        name: a shipped model.
        models_dir: where NAME.keras / NAME.json live (default assets/models).

    Returns:
        The fields written into the card (every other card field is kept as it was).
    """
    from fashion.analysis import test_outputs
    from fashion.analysis.evaluate import evaluate_classifier
    from fashion.serving.classifier import Classifier

    models_dir = Path(models_dir or cards.MODELS_DIR)
    clf = Classifier.load(name, models_dir=models_dir)
    # Raw logits: Classifier.logits ignores any temperature already in the card.
    fit, val = validation_split(clf.card)
    val_images = val.as_float()
    views, by_views, val_logits = choose_views(clf, val_images, val.labels)
    clf.views = views  # everything below (temperature, detector) is fitted on these views
    test = official.test_set()
    test_images = test.as_float()
    test_logits = clf.logits(test_images)

    # Rounded once, here: every figure below is computed with the T the app will use.
    t = round(fit_temperature(val_logits, val.labels), 5)
    # Temperature first; then, if it helps on held-out folds of validation, an isotonic
    # map of the top probability for the levels one scalar cannot fix.
    gain = held_out_ece_gain(val_logits, val.labels, t)
    knots = None
    if gain >= MIN_MAP_GAIN:
        val_probs = softmax(val_logits, t)
        fitted = isotonic_fit(val_probs.max(axis=1), val_probs.argmax(axis=1) == val.labels)
        # Rounded once, here, like T: the app applies exactly what the card says.
        knots = (fitted[0].round(6), fitted[1].round(6))
    method = "temperature" + (" + isotonic confidence map" if knots is not None else "")
    fields = {
        "views": views,
        "val_accuracy_by_views": by_views,
        "temperature": t,
        "confidence_map": [] if knots is None else [k.tolist() for k in knots],
        "calibration": f"{method}, fitted on the validation split (config.seed, "
        f"config.val_fraction; map kept when it lowers 2-fold held-out ECE by >= "
        f"{MIN_MAP_GAIN:.1%}, measured {gain:+.2%}); ECE: 15 equal-width bins on the "
        "official test set",
        "ece_before": round(ece(softmax(test_logits), test.labels), 6),
        "ece_temperature": round(ece(softmax(test_logits, t), test.labels), 6),
        "ece_after": round(ece(calibrated(test_logits, t, knots), test.labels), 6),
        "nll_val_before": round(nll(val_logits, val.labels), 6),
        "nll_val_after": round(nll(val_logits, val.labels, t), 6),
    }
    ood_fields, stats = flag_thresholds.fit_detector(
        clf.outputs,
        (fit.images, fit.labels),
        clf.feature_groups,
        (val.images, val.labels),
        test_images,
        t,
    )
    fields |= ood_fields
    if views != clf.card.views:
        # Other views, other answers: the card's test figures are recomputed with them.
        report = evaluate_classifier(clf)
        fields |= {k: report[k] for k in ("test_accuracy", "per_class_accuracy")}
        fields["confusion_matrix"] = report["confusion_matrix"]
    card_file = cards.card_path(name, models_dir)
    flag_thresholds.save_stats(not_garment.stats_path(card_file), stats)
    card = cards.ModelCard.read(card_file).update(**fields)
    # Card fields from before fashion.trust.not_garment.Detector.
    for legacy in ("ood_threshold", "ood_threshold_pixel"):
        card.extra.pop(legacy, None)
    card.write(card_file)
    # The pages' test-set answers, with the views just chosen: stored, not recomputed.
    stored = test_outputs.TestOutputs(test_logits, test_outputs.fingerprint(clf))
    test_outputs.save(stored, test_outputs.outputs_path(name, models_dir))
    return fields


def cli(args: argparse.Namespace) -> int:
    """`python -m fashion calibrate [--model NAME | --all] [--models-dir DIR] [--json]`."""
    models_dir = Path(args.models_dir) if getattr(args, "models_dir", None) else cards.MODELS_DIR
    if args.all:
        names = [c.name for c in cards.shipped(models_dir)]
    else:
        names = [args.model or cards.default_name(models_dir)]
    for name in names:
        f = calibrate_model(name, models_dir)
        if getattr(args, "json", False):
            print(json.dumps({"model": name} | f))
        else:
            print(
                f"{name}: T = {f['temperature']:.3f}, test ECE {f['ece_before']:.4f} -> "
                f"{f['ece_after']:.4f}; not-a-garment ({f['ood_score']}) flags "
                f"{f['ood_flag_rate_test']:.1%} of test images, "
                f"{f['ood_flag_rate_generated']:.1%} of generated non-garments",
                flush=True,
            )
    return 0
