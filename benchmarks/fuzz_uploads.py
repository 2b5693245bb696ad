"""Fuzz the photo path with mutated image files: every case must end in a valid 28x28
float32 image in [0, 1] or in our own InputError. Anything else (another exception, a
NaN, a wrong shape) is a failure, printed with the bytes saved for a regression test.

Mutations (fashion/data/renders.py): truncation, flipped bytes (anywhere or in the
header), one file's header spliced onto another's body, absurd declared dimensions,
inserted or deleted runs; seeds are small valid PNG (8-bit, RGBA, 16-bit), JPEG, GIF,
WebP and BMP files.

    nice -n 19 .venv/bin/python benchmarks/fuzz_uploads.py --cases 10000

The result is written to the `fuzz` section of benchmarks/RESULTS.md (`--no-write`
only prints it).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks._results import add_no_write_flag, publish  # noqa: E402
from fashion.data.bad_files import fuzz_cases, fuzz_seeds  # noqa: E402
from fashion.data.preprocess import InputError, photo  # noqa: E402

# Bugs in the upload path found while building this fuzzer and its tests, and fixed; kept
# here so the recorded result says what the work bought. Each entry: the bug, how it was
# found, and the fix.
FIXED = [
    "every GIF, WebP and BMP upload was refused as 'damaged': the format allow-list named "
    "MPO, which Pillow cannot open by that name, so Image.open raised KeyError('MPO') for "
    "any file PNG and JPEG did not claim, and the catch-all turned that into InputError. "
    "Not a crash, so a crash-only fuzzer could not see it; found by the curated corpus and "
    "per-format tests (tests/test_uploads.py). Fix: MPO removed from the allow-list (the "
    "JPEG plugin opens MPO files); the fuzzer now also fails if an unmutated seed is "
    "refused, and reports accepted cases per format",
    "tests/fixtures_images.py's (now fashion/data/renders.py) splice mutation crashed on 1-byte "
    "inputs (a bug in the fuzzer, not the app)",
]


def check(data: bytes) -> tuple[str, str | None]:
    """("accepted" | "refused" | "FAILED", None or a description of the bug)."""
    try:
        image = photo(data).image
    except InputError as exc:
        return ("refused", None) if str(exc) else ("FAILED", "InputError with no message")
    except Exception:  # any other exception is exactly what the fuzzer is looking for
        return "FAILED", traceback.format_exc(limit=-3)
    if not isinstance(image, np.ndarray) or image.shape != (28, 28):
        return "FAILED", f"bad shape {getattr(image, 'shape', None)}"
    if image.dtype != np.float32:
        return "FAILED", f"bad dtype {image.dtype}"
    if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        return "FAILED", f"values outside [0, 1]: {image.min()}..{image.max()}"
    return "accepted", None


def run(cases: int, seed: int, save_dir: Path | None = None) -> dict:
    """Run `cases` fuzz cases; returns outcome counts, failures and timings."""
    outcomes: collections.Counter[str] = collections.Counter()
    per_format: collections.Counter[tuple[str, str]] = collections.Counter()
    failures: list[tuple[int, str, str]] = []
    # The unmutated seeds must all be accepted: an upload path that refuses everything
    # would otherwise pass any crash-only fuzzer.
    for fmt, data in fuzz_seeds().items():
        outcome, _problem = check(data)
        if outcome != "accepted":
            failures.append((-1, fmt, f"valid {fmt} seed was {outcome}"))
    slowest = (0.0, -1, "")
    t_start = time.perf_counter()
    for k, (fmt, data) in enumerate(fuzz_cases(cases, seed)):
        t = time.process_time()  # CPU time: wall time depends on what else runs
        outcome, problem = check(data)
        dt = time.process_time() - t
        outcomes[outcome] += 1
        per_format[fmt, outcome] += 1
        if dt > slowest[0]:
            slowest = (dt, k, fmt)
        if problem is not None:
            failures.append((k, fmt, problem))
            if save_dir is not None:
                save_dir.mkdir(parents=True, exist_ok=True)
                (save_dir / f"case-{seed}-{k}-{fmt}.bin").write_bytes(data)
            print(f"case {k} ({fmt}): {problem}", file=sys.stderr)
    return {
        "cases": cases,
        "outcomes": outcomes,
        "per_format": per_format,
        "failures": failures,
        "slowest": slowest,
        "wall": time.perf_counter() - t_start,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-dir", type=Path, help="write each failing input here")
    add_no_write_flag(parser)
    args = parser.parse_args(argv)

    result = run(args.cases, args.seed, args.save_dir)
    failures = result["failures"]
    slow_s, slow_k, slow_fmt = result["slowest"]
    lines = [
        f"`benchmarks/fuzz_uploads.py --cases {args.cases} --seed {args.seed}`: mutated "
        "PNG (8-bit, RGBA, 16-bit), JPEG, GIF, WebP and BMP files (truncate, flip bytes, "
        "splice headers, absurd dimensions, insert/delete runs) fed to "
        f"`fashion.data.preprocess.photo`. Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        f"- cases run: **{result['cases']:,}** ({result['outcomes']['accepted']:,} still "
        f"usable images -> 28x28, {result['outcomes']['refused']:,} refused with InputError)",
        f"- failures (neither a valid 28x28 float32 in [0, 1] nor InputError): **{len(failures)}**",
        f"- slowest case: {1000 * slow_s:.0f} ms of CPU (case {slow_k}, seed {slow_fmt}); "
        f"whole run {result['wall']:.0f} s wall, "
        f"1-min load average {os.getloadavg()[0]:.1f} at the end",
        "- accepted / refused per seed format: "
        + ", ".join(
            f"{fmt} {result['per_format'][fmt, 'accepted']}/{result['per_format'][fmt, 'refused']}"
            for fmt in sorted(fuzz_seeds())
        ),
        "- bugs found while building the fuzzer and its tests, and fixed:",
        *[f"  - {item}" for item in FIXED],
    ]
    report = "\n".join(lines)
    publish("fuzz", report, write=not args.no_write)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
