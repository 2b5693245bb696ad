"""Trust figures of every shipped model, recomputed from the real data and the cards' fitted
parameters, written to the `trust` section of benchmarks/RESULTS.md:

- calibration: the temperature, and ECE (15 bins) on the official test set before and after;
- not a garment?: how often the check flags official test images (should be rare) and
  generated non-garments (should be most), per kind (real non-garments, photos and
  sketches: benchmarks/not_garment.py);
- explanations: wall time of one occlusion-saliency map;
- possible label errors: how many test images the best model flags.

    nice -n 19 .venv/bin/python benchmarks/trust.py [--no-write]

The cards must be calibrated first: `python -m fashion calibrate --all`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks._results import add_no_write_flag, publish  # noqa: E402
from fashion.card import shipped  # noqa: E402
from fashion.data import (
    non_garments,  # noqa: E402
    official,  # noqa: E402
)
from fashion.serving.classifier import Classifier  # noqa: E402
from fashion.training import flag_thresholds  # noqa: E402
from fashion.training.calibrate import validation_split  # noqa: E402
from fashion.trust import (
    confidence,  # noqa: E402
    explain,  # noqa: E402
    label_errors,  # noqa: E402
)

SALIENCY_REPEATS = 10


def saliency_ms(clf: Classifier, images: np.ndarray) -> float:
    """Median wall time of one occlusion map, in milliseconds (after one warm-up)."""
    explain.occlusion_saliency(clf, images[0])
    times = []
    for image in images[1 : SALIENCY_REPEATS + 1]:
        start = time.perf_counter()
        explain.occlusion_saliency(clf, image)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def served_flags(clf: Classifier, images: np.ndarray) -> np.ndarray:
    """(N,) the flags `Classifier.predict_many` gives, as the app and the CLI see them."""
    return np.array([p.not_garment for p in clf.predict_many(images)])


def measure(name: str) -> dict | None:
    """Fresh figures of one model, or None when its card is not calibrated."""
    clf = Classifier.load(name)
    card = clf.card
    if not (card.calibrated and card.has_ood_check):
        return None
    _, val = validation_split(card)
    test = official.test_set()
    test_images, val_images = test.as_float(), val.as_float()
    test_logits = clf.logits(test_images)
    gen, kinds = non_garments.generate_non_garments(seed=non_garments.EVAL_SEED)
    gen_flags = served_flags(clf, gen)
    t = clf.temperature
    return {
        "name": name,
        "accuracy": card.test_accuracy,
        "temperature": t,
        "ece_before": confidence.ece(confidence.softmax(test_logits), test.labels),
        "ece_after": confidence.ece(
            confidence.calibrated(test_logits, t, card.confidence_knots), test.labels
        ),
        "flag_val": float(np.mean(served_flags(clf, val_images))),
        "flag_test": float(np.mean(served_flags(clf, test_images))),
        "flag_generated": float(np.mean(gen_flags)),
        "by_kind": {k: float(np.mean(gen_flags[kinds == k])) for k in non_garments.KINDS},
        "saliency_ms": saliency_ms(clf, test_images),
        "label_errors": len(
            label_errors.label_error_ranking(confidence.softmax(test_logits, t), test.labels)
        ),
    }


def markdown(rows: list[dict], skipped: list[str]) -> str:
    kinds = " | ".join(non_garments.KINDS)
    lines = [
        f"Measured by `benchmarks/trust.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({os.cpu_count()} CPU cores, 1-min load average {os.getloadavg()[0]:.1f}). "
        "Temperature (and, where it helps, a confidence map) fitted on each model's "
        "validation split; ECE: 15 bins, official 10k test set. Not a garment?: thresholds "
        "chosen on "
        f"the validation split's garments and generated non-garments (seed "
        f"{non_garments.FIT_SEED}), at most {flag_thresholds.MAX_VAL_FLAG_RATE:.0%} false flags "
        "on validation "
        "images (fashion/trust/not_garment.py); rates below on the test set "
        f"and on {non_garments.N_PER_KIND} fresh non-garments of each kind "
        f"(seed {non_garments.EVAL_SEED}).",
        "",
        "| model | test acc. | T | ECE before | ECE after | test flagged | non-garments "
        "flagged | saliency map |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['name']}` | {r['accuracy']:.2%} | {r['temperature']:.3f} "
            f"| {r['ece_before']:.2%} | {r['ece_after']:.2%} | {r['flag_test']:.1%} "
            f"| {r['flag_generated']:.1%} "
            f"| {r['saliency_ms']:.0f} ms |"
        )
    lines += ["", "Generated non-garments flagged, by kind:", ""]
    lines += [f"| model | {kinds} |", "|---" * (len(non_garments.KINDS) + 1) + "|"]
    for r in rows:
        cells = " | ".join(f"{r['by_kind'][k]:.0%}" for k in non_garments.KINDS)
        lines.append(f"| `{r['name']}` | {cells} |")
    if rows:
        best = rows[0]
        lines += [
            "",
            f"Possible label errors (explorer sort order): `{best['name']}` puts at least "
            f"{label_errors.MIN_CONFIDENCE:.0%} on a class other than the given label for "
            f"{best['label_errors']} of the 10,000 test images.",
        ]
    if skipped:
        lines += ["", f"Not calibrated yet (skipped): {', '.join(skipped)}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_no_write_flag(parser)
    args = parser.parse_args(argv)

    rows, skipped = [], []
    for card in shipped():  # best first
        row = measure(card.name)
        if row is None:
            skipped.append(card.name)
        else:
            rows.append(row)
            print(f"{card.name}: {row}", flush=True)
    text = markdown(rows, skipped)
    publish("trust", text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
