"""What serving int8 would buy and cost: the served float32 twin against a full-integer
twin of the same weights, written to the `int8` section of benchmarks/RESULTS.md.

The app serves float32 (issue 16: answers must not move for speed). This measures the one
lever left against the serving-speed goals: file size, single-image latency against
`model.predict` (same run), the 10k test pass, and how many answers move on the validation
and test splits. Both twins run the card's test-time views, as the fast path does.

    nice -n 19 .venv/bin/python benchmarks/int8.py [--model NAME] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks._results import add_no_write_flag, publish  # noqa: E402
from fashion.card import default_name  # noqa: E402
from fashion.data import official  # noqa: E402
from fashion.serving import bench  # noqa: E402
from fashion.serving.classifier import Classifier  # noqa: E402
from fashion.serving.engines import TFLiteRunner, logits_of, mean_over_views, twin_model, with_views  # noqa: E402
from fashion.serving.export import int8_calibration_images, tflite_bytes  # noqa: E402
from fashion.training.calibrate import validation_split  # noqa: E402

REPEATS = 300  # single-image calls per twin (each well under 10 ms)
PREDICT_REPEATS = 50  # model.predict calls (tens of ms each)
BATCH_REPEATS = 3  # full 10k passes per twin and thread count


def answers(runner: TFLiteRunner, images: np.ndarray, views: str) -> np.ndarray:
    """(N,) predicted classes through `runner` with the test-time `views` averaged."""
    outputs = runner.run(with_views(images, views))
    return logits_of(mean_over_views(outputs, len(images))).argmax(axis=1)


def pass_seconds(runner: TFLiteRunner, images: np.ndarray, views: str) -> float:
    """Median wall time of one pass over `images`, every view, through `runner`."""
    return bench.time_batch(lambda x: runner.run(with_views(x, views)), images, BATCH_REPEATS)[
        "seconds"
    ]


def measure(name: str) -> dict:
    """Both twins' size, speed and answers, and `model.predict`'s latency, in one run."""
    clf = Classifier.load(name)
    views = clf.views
    float_bytes = clf.path.with_suffix(".tflite").read_bytes()  # the file the app serves
    int8_bytes = tflite_bytes(twin_model(clf.model), int8_calibration_images())
    _, val = validation_split(clf.card)
    test = official.test_set()
    x_val, x_test = val.as_float(), test.as_float()

    # As `python -m fashion bench` times them, and first, as it does: one image per call.
    predict_ms = bench.time_per_image(
        lambda x: clf.model.predict(x, verbose=0), x_test, PREDICT_REPEATS
    )
    fast_path_ms = bench.time_per_image(clf.predict, x_test, REPEATS)

    result: dict = {
        "model_predict_ms": predict_ms,
        "fast_path_ms": fast_path_ms,
        "model": clf.name,
        "views": views,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": bench.machine(),
        "bytes": {"float32": len(float_bytes), "int8": len(int8_bytes)},
        "n_val": len(val),
    }
    predicted = {}
    for label, content in (("float32", float_bytes), ("int8", int8_bytes)):
        single = TFLiteRunner(content, num_threads=1)
        predicted[label] = {
            "val": answers(single, x_val, views),
            "test": answers(single, x_test, views),
        }
        result[label] = {
            "val_accuracy": float((predicted[label]["val"] == val.labels).mean()),
            "test_accuracy": float((predicted[label]["test"] == test.labels).mean()),
            "latency_ms": bench.time_per_image(
                lambda x, r=single: r.run(with_views(x, views)), x_test, REPEATS
            ),
            "10k_seconds": {
                threads: pass_seconds(TFLiteRunner(content, num_threads=threads), x_test, views)
                for threads in (1, 2)
            },
        }
    result["changed"] = {
        split: int((predicted["float32"][split] != predicted["int8"][split]).sum())
        for split in ("val", "test")
    }
    result["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    return result


def to_markdown(r: dict) -> str:
    predict = r["model_predict_ms"]["p50"]
    fast = r["fast_path_ms"]["p50"]
    float_p50, int8_p50 = (r[k]["latency_ms"]["p50"] for k in ("float32", "int8"))
    m = r["machine"]
    lines = [
        f"`benchmarks/int8.py`, model `{r['model']}` (views: {r['views']}), measured "
        f"{r['date']} on {m['cores']} cores ({m['cpu_model']}), 1-min load average "
        f"{m['load_average_1m']} at the start, {r['load_average_1m_end']} at the end. "
        "The app serves the float32 twin; the int8 twin is the same weights converted with "
        "full-integer quantisation (`python -m fashion export --format tflite-int8` writes "
        "its logits-only sibling), its activation ranges set on 500 training images.",
        "",
        *bench.busy_note(r["load_average_1m_end"], m["cores"]),
        "| twin | file (MB) | per image p50 (ms) | vs `model.predict` | 10k, 1 thread (s) "
        "| 10k, 2 threads (s) | validation | test |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label in ("float32", "int8"):
        f = r[label]
        p50 = f["latency_ms"]["p50"]
        lines.append(
            f"| {label} | {r['bytes'][label] / 1e6:.2f} | {p50:.3f} | {predict / p50:.1f}x "
            f"| {f['10k_seconds'][1]:.2f} | {f['10k_seconds'][2]:.2f} "
            f"| {f['val_accuracy']:.2%} | {f['test_accuracy']:.2%} |"
        )
    lines += [
        "",
        f"- `model.predict` on one image: {predict:.2f} ms p50 in this run, timed as "
        "`python -m fashion bench` does "
        f"(goal for the fast path: {bench.SPEEDUP_GOAL:.0f}x faster; 10k in "
        f"{bench.EVAL_10K_GOAL_S:.0f} s)",
        f"- the served fast path (`Classifier.predict`: float32 twin, then temperature, "
        f"softmax and the not-a-garment scores) took {fast:.3f} ms p50 in this run, "
        f"{predict / fast:.1f}x `model.predict`: {fast - float_p50:.2f} ms of work on top of "
        f"the twin. With the int8 twin that would be about {int8_p50 + fast - float_p50:.2f} "
        f"ms, {predict / (int8_p50 + fast - float_p50):.0f}x (an estimate: not served)",
        f"- int8 twin vs float32 twin in this run: {float_p50 / int8_p50:.1f}x per image, "
        f"{r['float32']['10k_seconds'][2] / r['int8']['10k_seconds'][2]:.1f}x on the 10k pass",
        f"- answers that int8 changes: {r['changed']['val']} of {r['n_val']:,} on validation, "
        f"{r['changed']['test']} of 10,000 on test",
        "- single-image figures use 1 interpreter thread (what the app uses); 10k passes "
        "are the median of 3",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="shipped model name (default: the best one)")
    add_no_write_flag(parser)
    args = parser.parse_args(argv)
    result = measure(args.model or default_name())
    publish("int8", to_markdown(result), write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
