"""Photos taken at home, beside shop photos: how often is the answer right, refused or
flagged "not a garment"? One model, the same official test images rendered both ways.

Each test image is rendered once as a shop photo (`photo_robustness.render_shop_photo`:
a light or dark plain background) and once as a photo taken at home
(`fashion.data.renders.home_photo`: on a bedsheet, wooden floor, carpet, tiles or a rug,
lit from one side, a soft shadow, turned up to 20 degrees, sheared, noise, JPEG), and
both go through `fashion.data.preprocess.photo` and `Classifier.predict`, as an upload
does. For comparison the home photos also go through the border-colour path alone (what
every photo took before the cut-out), and through the cut-out from a box a user might
draw (the garment's true box, 5 % larger). Photos with no garment (bare home surfaces,
blank pages, noise) must all be refused.

    nice -n 19 .venv/bin/python benchmarks/home_photos.py --n 1000 [--model NAME]

The result is written to the `home-photos` section of benchmarks/RESULTS.md
(`--no-write` only prints it).
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks._results import publish  # noqa: E402
from benchmarks.photo_robustness import (  # noqa: E402
    random_test_images,
    render_shop_photo,
    sample_arguments,
)
from fashion.data import preprocess, renders  # noqa: E402
from fashion.serving.classifier import Classifier  # noqa: E402

GOALS = {"home correct": 0.90, "home refused": 0.01, "home flagged": 0.05}


def _box(mask: np.ndarray, margin: float = 0.05) -> tuple[float, float, float, float]:
    """The garment's true box as shares of the photo, `margin` of its size larger."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    dx, dy = margin * (xs.max() - xs.min()), margin * (ys.max() - ys.min())
    return (
        max(0.0, (xs.min() - dx) / w),
        max(0.0, (ys.min() - dy) / h),
        min(1.0, (xs.max() + 1 + dx) / w),
        min(1.0, (ys.max() + 1 + dy) / h),
    )


def _outcomes(
    clf: Classifier,
    files: list[bytes],
    labels: np.ndarray,
    method: str = "auto",
    boxes: list[tuple[float, float, float, float]] | None = None,
) -> dict:
    """Correct / refused / flagged shares (and CPU ms per photo) of one photo path: the
    `method` of `preprocess.photo`, or the cut-out inside each file's box of `boxes`."""
    images, kept, cpu = [], [], 0.0
    for k, data in enumerate(files):
        box = None if boxes is None else boxes[k]
        t = time.process_time()  # CPU time: wall time depends on what else runs
        try:
            images.append(preprocess.photo(data, box=box, method=method).image)
            kept.append(k)
        except preprocess.InputError:
            pass
        cpu += time.process_time() - t
    answers = clf.predict_many(np.stack(images)) if images else []
    correct = np.zeros(len(files), bool)
    flagged = np.zeros(len(files), bool)
    for k, a in zip(kept, answers, strict=True):
        correct[k], flagged[k] = a.label == labels[k], a.not_garment
    return {
        "correct": correct,
        "correct_not_flagged": correct & ~flagged,
        "refused": 1 - len(kept) / len(files),
        "flagged": float(flagged.mean()),
        "cpu_ms": 1000 * cpu / len(files),
    }


def _no_garment_refused(n: int, seed: int) -> tuple[int, int]:
    """(refused, total) of photos with no garment: bare home surfaces, blank, noise."""
    rng = np.random.default_rng(seed)
    files = [renders.empty_surface(rng) for _ in range(n)]
    files += [renders.encode(np.full((300, 400, 3), int(rng.integers(0, 256)), np.uint8))
              for _ in range(n // 4)]  # fmt: skip
    files += [renders.encode(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
              for _ in range(n // 4)]  # fmt: skip
    refused = 0
    for data in files:
        try:
            preprocess.photo(data)
        except preprocess.InputError:
            refused += 1
    return refused, len(files)


def _row(name: str, r: dict) -> str:
    return (
        f"| {name} | {r['correct'].mean():.1%} | {r['correct_not_flagged'].mean():.1%} | "
        f"{r['refused']:.1%} | {r['flagged']:.1%} | {r['cpu_ms']:.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    args = sample_arguments(__doc__, 1000, argv)
    rng, images, labels = random_test_images(args.n, args.seed)
    clf = Classifier.load(args.model, args.models_dir)
    t0 = time.perf_counter()
    shops = [render_shop_photo(img, rng)[0] for img in images]
    homes, surfaces, boxes = [], [], []
    for img in images:
        data, info, mask = renders.home_photo_with_mask(img, rng)
        homes.append(data)
        surfaces.append(info["surface"])
        boxes.append(_box(mask))

    originals = np.array([a.label for a in clf.predict_many(images / 255.0)]) == labels
    shop = _outcomes(clf, shops, labels)
    home = _outcomes(clf, homes, labels)
    plain = _outcomes(clf, homes, labels, method="plain")
    boxed = _outcomes(clf, homes, labels, boxes=boxes)
    refused, empties = _no_garment_refused(max(20, args.n // 10), args.seed)
    by_surface = Counter(surfaces)
    per_surface = ", ".join(
        f"{s} {home['correct'][np.array(surfaces) == s].mean():.1%} ({by_surface[s]})"
        for s in renders.SURFACES
    )
    met = {
        "home correct": home["correct"].mean() >= GOALS["home correct"],
        "home refused": home["refused"] <= GOALS["home refused"],
        "home flagged": home["flagged"] <= GOALS["home flagged"],
    }
    lines = [
        f"`benchmarks/home_photos.py --n {args.n} --seed {args.seed}`, model `{clf.name}`, "
        f"{len(images)} random official test images, each rendered once as a shop photo and "
        f"once as a photo taken at home. Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({time.perf_counter() - t0:.0f} s wall, 1-min load average "
        f"{os.getloadavg()[0]:.1f} at the end).",
        "",
        "| input | correct | correct, not flagged | refused | flagged | CPU ms per photo |",
        "|---|---|---|---|---|---|",
        f"| originals (28x28) | {originals.mean():.1%} | | | | |",
        _row("shop photos, photo path", shop),
        _row("home photos, photo path", home),
        _row("home photos, border-colour path alone (before the cut-out)", plain),
        _row("home photos, cut-out from a drawn box (true box + 5 %)", boxed),
        "",
        f"- home photos by surface (photo path): {per_surface}",
        f"- photos with no garment (bare home surfaces, blank pages, noise) refused: "
        f"{refused} of {empties}",
        "- goals for home photos: "
        + ", ".join(
            f"{k} {'≥' if k.endswith('correct') else '≤'} {v:.0%}: {'met' if met[k] else 'NOT met'}"
            for k, v in GOALS.items()
        ),
    ]
    publish("home-photos", "\n".join(lines), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
