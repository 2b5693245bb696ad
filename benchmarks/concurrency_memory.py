"""Many sessions at once, and many predictions in a row, through the app's own code path.

The Classify page turns an upload, a sketch or a test sample into 28x28 with
`fashion.data.preprocess` and asks `Classifier.predict` of the one Classifier the whole
Streamlit process shares (`st.cache_resource`). This script drives exactly those
functions, without Streamlit:

1. concurrency: N threads (one per "session"), released together by a barrier, each
   making K predictions over a mix of photos (PNG bytes), sketches (RGBA canvases) and
   test samples; every result must equal the single-threaded result for the same input,
   and no call may raise;
2. memory: M predictions in a row in this process, RSS (VmRSS from /proc/self/status)
   sampled after each; growth is measured from just before the first prediction (the
   model is already loaded and warmed up, as in the app) and over the last half.

    nice -n 19 .venv/bin/python benchmarks/concurrency_memory.py [--model NAME]
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks._results import add_no_write_flag, publish  # noqa: E402
from fashion.card import default_name  # noqa: E402
from fashion.data import (
    official,  # noqa: E402
    preprocess,  # noqa: E402
)
from fashion.serving.bench import busy_note  # noqa: E402
from fashion.serving.classifier import Classifier, Prediction  # noqa: E402

KINDS = ("photo", "sketch", "sample")
# Goals of issue 5.
MAX_GROWTH_MB = 50.0
# "Flat": what the last half may still grow by. A few MB is allocator noise (Python's
# and TensorFlow's arenas grow in steps); a leak of even 10 kB per prediction over 500
# predictions would show as 5 MB and trip it.
MAX_TAIL_GROWTH_MB = 5.0


@dataclass(frozen=True)
class AppInput:
    """What a user hands the Classify page: upload bytes, a canvas, or a test index."""

    kind: str
    payload: bytes | np.ndarray | int


def _photo_bytes(img: np.ndarray) -> bytes:
    # A shop-photo-like upload: dark garment on white at 4x, as a PNG file.
    im = Image.fromarray(255 - img).resize((112, 112), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _canvas(img: np.ndarray) -> np.ndarray:
    # The drawable canvas returns (280, 280, 4) RGBA: black strokes on white, opaque.
    gray = np.kron(255 - img, np.ones((10, 10), np.uint8))
    return np.dstack([gray, gray, gray, np.full_like(gray, 255)])


def app_inputs(n: int, seed: int = 0) -> list[AppInput]:
    """`n` inputs cycling through photo, sketch and test sample, from seeded test images."""
    test = official.test_set()
    idx = np.random.default_rng(seed).choice(len(test), size=n, replace=n > len(test))
    out = []
    for k, i in enumerate(idx):
        kind = KINDS[k % len(KINDS)]
        img = test.images[int(i)]
        if kind == "photo":
            out.append(AppInput(kind, _photo_bytes(img)))
        elif kind == "sketch":
            out.append(AppInput(kind, _canvas(img)))
        else:
            out.append(AppInput(kind, int(i)))
    return out


def prepare(item: AppInput) -> np.ndarray:
    """The 28x28 image the Classify page would make from `item` (fashion.ui.classify)."""
    if item.kind == "photo":
        return preprocess.photo(item.payload).image
    if item.kind == "sketch":
        return preprocess.sketch(item.payload).image
    return preprocess.dataset_image(official.test_set().images[item.payload]).image


@functools.cache
def classifier(name: str) -> Classifier:
    """One Classifier per model for the whole process, as `st.cache_resource` gives the app."""
    return Classifier.load(name)


def classify(name: str, item: AppInput) -> Prediction:
    """preprocess + `Classifier.predict`: one prediction exactly as the app makes it."""
    return classifier(name).predict(prepare(item))


def same(a: Prediction, b: Prediction) -> bool:
    """Two Predictions are equal: identical probabilities and the same flag."""
    return bool(np.array_equal(a.probs, b.probs) and a.not_garment == b.not_garment)


def run_concurrent(name: str, sessions: list[list[AppInput]]) -> tuple[list, list[str]]:
    """Each list of inputs in its own thread, all started together.

    Returns:
        (results, errors): results[s][k] is session s's k-th Prediction (None if it
        raised); errors holds one "session s, call k: Error: message" per exception.
    """
    results: list[list] = [[None] * len(items) for items in sessions]
    errors: list[str] = []
    barrier = threading.Barrier(len(sessions))

    def session(s: int) -> None:
        barrier.wait()  # maximise overlap: every session starts at the same moment
        for k, item in enumerate(sessions[s]):
            try:
                results[s][k] = classify(name, item)
            except Exception as exc:  # noqa: BLE001 - every failure is counted, not raised
                errors.append(f"session {s}, call {k}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=session, args=(s,)) for s in range(len(sessions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def concurrency_check(name: str, n_threads: int = 20, per_thread: int = 20) -> dict:
    """Run `n_threads` x `per_thread` predictions concurrently; compare to one thread."""
    items = app_inputs(n_threads * per_thread, seed=1)
    sessions = [items[s * per_thread : (s + 1) * per_thread] for s in range(n_threads)]
    reference = [[classify(name, item) for item in chunk] for chunk in sessions]
    start = time.perf_counter()
    results, errors = run_concurrent(name, sessions)
    seconds = time.perf_counter() - start
    mismatches = sum(
        1
        for ref_chunk, got_chunk in zip(reference, results)
        for ref, got in zip(ref_chunk, got_chunk)
        if got is not None and not same(ref, got)
    )
    return {
        "threads": n_threads,
        "per_thread": per_thread,
        "predictions": n_threads * per_thread,
        "errors": len(errors),
        "error_examples": errors[:3],
        "mismatches": mismatches,
        "seconds": round(seconds, 3),
    }


def rss_mb() -> float:
    """This process's resident set size in MB, from /proc/self/status (Linux)."""
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0  # the kernel reports kB
    raise RuntimeError("no VmRSS in /proc/self/status")


def memory_check(name: str, n: int = 1000) -> dict:
    """RSS growth over `n` consecutive app-path predictions (model loaded beforehand).

    Returns:
        baseline and final RSS, growth over all `n`, growth over the last half (last
        sample minus the sample at n/2), and the largest rise within the last half.
    """
    classifier(name)  # loaded and warmed up before the baseline, as the app does
    items = app_inputs(n, seed=2)
    baseline = rss_mb()
    samples = []
    for item in items:
        classify(name, item)
        samples.append(rss_mb())
    half = np.asarray(samples[n // 2 - 1 :])
    return {
        "predictions": n,
        "baseline_mb": round(baseline, 1),
        "final_mb": round(samples[-1], 1),
        "growth_mb": round(samples[-1] - baseline, 2),
        "peak_growth_mb": round(max(samples) - baseline, 2),
        "tail": n - n // 2,
        "tail_growth_mb": round(float(half[-1] - half[0]), 2),
        "tail_max_rise_mb": round(float((half - np.minimum.accumulate(half)).max()), 2),
    }


def ok(concurrency: dict, memory: dict) -> bool:
    return (
        concurrency["errors"] == 0
        and concurrency["mismatches"] == 0
        and memory["growth_mb"] < MAX_GROWTH_MB
        and memory["tail_growth_mb"] < MAX_TAIL_GROWTH_MB
    )


def to_markdown(name: str, concurrency: dict, memory: dict) -> str:
    c, m = concurrency, memory
    load = os.getloadavg()[0]
    return "\n".join(
        [
            f"Model `{name}`, measured {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on "
            f"{os.cpu_count()} cores (1-min load average {load:.1f} at the end) by "
            "`nice -n 19 .venv/bin/python benchmarks/concurrency_memory.py`.",
            "",
            "Method: the Classify page's own functions (`fashion.data.preprocess.photo` / "
            "`sketch` / "
            "`dataset_image`, then `Classifier.predict` on the one shared, cached "
            "Classifier), fed a seeded mix of PNG uploads, 280x280 RGBA canvases and test "
            "samples. Concurrency: one thread per session, released together by a barrier; "
            "each result compared with the single-threaded result for the same input "
            "(identical probabilities and not-a-garment flag). Memory: RSS (`VmRSS` in "
            "`/proc/self/status`) after each prediction, from a baseline taken after the "
            "model was loaded and warmed up.",
            "",
            *busy_note(load, os.cpu_count(), advice="errors, equality and memory are not"),
            "| check | result | goal |",
            "|---|---|---|",
            f"| {c['threads']} concurrent sessions x {c['per_thread']} predictions: errors "
            f"| {c['errors']} | 0 |",
            f"| results different from single-threaded | {c['mismatches']} of "
            f"{c['predictions']} | 0 |",
            f"| wall time of the concurrent run | {c['seconds']:.1f} s | - |",
            f"| RSS growth over {m['predictions']:,} predictions | {m['growth_mb']:+.1f} MB "
            f"({m['baseline_mb']:.0f} -> {m['final_mb']:.0f} MB; peak {m['peak_growth_mb']:+.1f}) "
            f"| < {MAX_GROWTH_MB:.0f} MB |",
            f"| RSS growth over the last {m['tail']} | {m['tail_growth_mb']:+.2f} MB "
            f"(largest rise {m['tail_max_rise_mb']:.2f} MB) "
            f"| flat (< {MAX_TAIL_GROWTH_MB:.0f} MB) |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="shipped model name (default: the best one)")
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--per-thread", type=int, default=20)
    parser.add_argument("--predictions", type=int, default=1000)
    add_no_write_flag(parser)
    args = parser.parse_args(argv)

    name = args.model or default_name()
    memory = memory_check(name, args.predictions)  # first: a clean process, no thread stacks
    concurrency = concurrency_check(name, args.threads, args.per_thread)
    markdown = to_markdown(name, concurrency, memory)
    publish("concurrency-memory", markdown, write=not args.no_write)
    return 0 if ok(concurrency, memory) else 1


if __name__ == "__main__":
    sys.exit(main())
