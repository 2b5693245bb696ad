"""Everyday photos that are not garments: does the app say so?

A report set kept apart from everything that trains a model or chooses its thresholds:
the sample photos bundled with scikit-image (a page of text, a cup of coffee, a clock, a
cat, an astronaut, a rocket, a horse, coins, bricks, grass and gravel, a microscope
slide, a retina, the Hubble deep field, faces, ...), each whole and as random crops, as
JPEG uploads through the app's own path: `fashion.data.preprocess.photo`, then
`Classifier.predict_many` with the card's thresholds. "Caught" is what a visitor sees as
not an answer: the photo refused ("No garment found") or flagged "not a garment".

    nice -n 10 .venv/bin/python benchmarks/everyday_photos.py [--model NAME] [--models-dir D]

Written to the `everyday-photos` section of benchmarks/RESULTS.md (`--no-write` prints).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks._results import add_no_write_flag, publish  # noqa: E402
from fashion.card import MODELS_DIR  # noqa: E402
from fashion.data import preprocess  # noqa: E402
from fashion.serving.classifier import Classifier  # noqa: E402

GOAL = 0.90
CROPS = 3  # per photo, besides the whole photo
# scikit-image's bundled photos (no download needed); garment-free by inspection.
PHOTOS = (
    "astronaut", "brick", "camera", "cat", "cell", "clock", "coffee", "coins",
    "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry",
    "logo", "microaneurysms", "moon", "page", "text", "retina", "rocket", "checkerboard",
)  # fmt: skip


def everyday_files(seed: int = 0) -> list[tuple[str, bytes]]:
    """(name, JPEG bytes): each photo whole, then CROPS random crops (30-90 % of its
    short side), as a visitor would photograph part of a thing."""
    import skimage.data

    rng = np.random.default_rng(seed)
    out = []
    for name in PHOTOS:
        a = np.asarray(getattr(skimage.data, name)())
        if a.dtype != np.uint8:
            a = (a.astype(np.float64) / max(1.0, float(a.max())) * 255).astype(np.uint8)
        im = Image.fromarray(a).convert("RGB")
        pieces = [(name, im)]
        for k in range(CROPS):
            side = int(min(im.size) * rng.uniform(0.3, 0.9))
            x = int(rng.integers(0, im.width - side + 1))
            y = int(rng.integers(0, im.height - side + 1))
            pieces.append((f"{name} crop {k + 1}", im.crop((x, y, x + side, y + side))))
        for label, piece in pieces:
            buf = io.BytesIO()
            piece.save(buf, "JPEG", quality=90)
            out.append((label, buf.getvalue()))
    return out


def measure(clf: Classifier, files: list[tuple[str, bytes]]) -> list[dict]:
    """One row per file: refused, flagged, or the answer given."""
    rows, images, where = [], [], []
    for name, data in files:
        try:
            images.append(preprocess.photo(data).image)
            where.append(len(rows))
            rows.append({"name": name, "outcome": "answered"})
        except preprocess.InputError:
            rows.append({"name": name, "outcome": "refused"})
    for k, p in zip(where, clf.predict_many(np.stack(images)), strict=True):
        rows[k]["answer"] = f"{p.class_name} {p.confidence:.0%}"
        if p.not_garment:
            rows[k]["outcome"] = "flagged"
    return rows


def report(name: str, rows: list[dict]) -> str:
    caught = [r for r in rows if r["outcome"] != "answered"]
    share = len(caught) / len(rows)
    missed = [r for r in rows if r["outcome"] == "answered"]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"`benchmarks/everyday_photos.py`, model `{name}`, measured {now} "
        f"(1-min load average {os.getloadavg()[0]:.1f}). {len(PHOTOS)} sample photos of "
        f"scikit-image, each whole and as {CROPS} random crops ({len(rows)} uploads), "
        "through the photo path and the card's not-a-garment thresholds. Never used to "
        "train a model or choose a threshold.",
        "",
        f"- caught (refused or flagged): **{len(caught)} of {len(rows)} ({share:.1%})**; "
        f"goal >= {GOAL:.0%}: {'met' if share >= GOAL else 'NOT met'}",
        f"- refused by the photo path: {sum(r['outcome'] == 'refused' for r in rows)}, "
        f"flagged: {sum(r['outcome'] == 'flagged' for r in rows)}",
        "- answered as a garment: "
        + (", ".join(f"{r['name']} ({r['answer']})" for r in missed) or "none"),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="shipped model (default: the best)")
    parser.add_argument("--models-dir", default=str(MODELS_DIR), help="where its files are")
    parser.add_argument("--seed", type=int, default=0, help="draws the crops")
    add_no_write_flag(parser)
    args = parser.parse_args()
    clf = Classifier.load(args.model, Path(args.models_dir))
    rows = measure(clf, everyday_files(args.seed))
    publish("everyday-photos", report(clf.card.name, rows), not args.no_write)


if __name__ == "__main__":
    main()
