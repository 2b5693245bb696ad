"""How fast is serving? Every figure of `python -m fashion bench --json`, measured in one run.

Per-image latency compares four ways to ask the same model about one image:
`model.predict` (builds a data pipeline per call), a direct eager call `model(x)`, a
`tf.function` traced once (the Classifier's `engine="tf-function"`), and the
Classifier's fast path (the model's TFLite twin, `engine="tflite"`). Throughput is the
whole 10k official test set. Ratios are taken within the run, so they stay meaningful
on a busy machine even when the absolute times do not.
"""

from __future__ import annotations

import io
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

# Goals of issue 7.
SPEEDUP_GOAL = 50.0  # fast path vs model.predict, per image (p50)
EVAL_10K_GOAL_S = 2.0  # the whole test set through the fast path
WARMUP_CALLS = 3  # first calls allocate buffers / build pipelines: not what a user waits for


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo ("unknown" where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    """Cores, CPU model and load average: the context every timing needs."""
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }


def import_tensorflow_seconds() -> float:
    """Wall time of `import tensorflow` in a fresh interpreter (this one has it loaded).

    The OS file cache is warm after the first run, so this is a fresh-process import,
    as `streamlit run` or the CLI pay at start-up, not a cold-disk one.
    """
    code = "import time; t = time.perf_counter(); import tensorflow; print(time.perf_counter() - t)"
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def percentiles_ms(seconds: list[float]) -> dict:
    """{"p50", "p95"} in milliseconds of a list of timings in seconds."""
    p50, p95 = np.percentile(np.asarray(seconds) * 1000.0, [50, 95])
    return {"p50": round(float(p50), 4), "p95": round(float(p95), 4)}


def time_per_image(fn: Callable[[np.ndarray], object], images: np.ndarray, repeats: int) -> dict:
    """Latency percentiles of `fn` on one (1, 28, 28, 1) image at a time, cycling `images`."""
    for i in range(WARMUP_CALLS):
        fn(images[i : i + 1])
    times = []
    for i in range(repeats):
        x = images[i % len(images) : i % len(images) + 1]
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return percentiles_ms(times)


# A phone photo's size: the upload cap keeps a JPEG of it under 5 MB at quality 90.
PHOTO_SIZE = (4000, 3000)
PHOTO_GOAL_MS = 250.0  # decode, cut-out and 28x28 of one such photo, p50


def photo_path_ms(repeats: int = 7) -> dict[str, dict]:
    """Latency percentiles of `preprocess.photo` (decode, cut-out, 28x28) on 4000x3000
    JPEGs: a shop photo (plain background: the border-colour path) and a photo taken at
    home (the cut-out), both of test image 0 and seeded."""
    from PIL import Image

    from fashion.data import official, preprocess, renders

    garment = official.test_set().images[0]
    files = {
        "plain_background": renders.shop_photo(garment),
        "home_cut_out": renders.home_photo(garment, np.random.default_rng(0))[0],
    }
    out = {}
    for name, data in files.items():
        big = Image.open(io.BytesIO(data)).convert("RGB").resize(PHOTO_SIZE, Image.BICUBIC)
        data = renders.encode(big, "JPEG", quality=90)
        preprocess.photo(data)  # warm-up: first calls pay for imports and caches
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            preprocess.photo(data)
            times.append(time.perf_counter() - start)
        out[name] = percentiles_ms(times)
    return out


def time_batch(fn: Callable[[np.ndarray], np.ndarray], images: np.ndarray, repeats: int) -> dict:
    """Median wall time of `fn(images)` over `repeats` runs, and images per second."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(images)
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    return {"seconds": round(seconds, 4), "images_per_s": round(len(images) / seconds, 1)}


def busy_note(
    load: float,
    cores: int | None,
    advice: str = "compare the ratios, which come from the same run",
) -> list[str]:
    """A warning line (and a blank) when the machine was busier than its cores."""
    if cores and load > cores:
        return [
            f"**The machine was busy** (load {load:.1f} on {cores} cores, e.g. a model "
            f"training; benchmarks run under `nice -n 19`), so absolute times are "
            f"pessimistic; {advice}.",
            "",
        ]
    return []


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.1f}x"


def _ratio(slow: float, fast: float) -> float:
    return round(slow / fast, 2) if fast > 0 else float("inf")


def run(
    name: str | None = None,
    repeats: int = 200,
    predict_repeats: int = 50,
    batch_repeats: int = 3,
    measure_import: bool = True,
) -> dict:
    """Measure everything once and return one JSON-ready dict.

    Args:
        name: shipped model name (default: the best one).
        repeats: single-image calls timed per fast method (direct call, tf.function, fast path).
        predict_repeats: single-image `model.predict` calls timed (each costs tens of ms).
        batch_repeats: full 10k passes timed per method (the median is reported).
        measure_import: time `import tensorflow` in a subprocess.

    Returns:
        model, date, machine, import/load seconds, latency_ms, throughput, ratios, goals.
    """
    import_s = import_tensorflow_seconds() if measure_import else None

    import keras  # noqa: F401 - imported (with TensorFlow) before the load is timed

    from fashion.card import default_name
    from fashion.data import official
    from fashion.serving.classifier import Classifier
    from fashion.serving.engines import BATCH

    name = name or default_name()
    test = official.test_set()
    images = test.as_float()  # (10000, 28, 28, 1)

    start = time.perf_counter()
    clf = Classifier.load(name)  # .keras + .tflite + the consistency probe, as the app pays it
    load_s = time.perf_counter() - start
    model = clf.model
    traced = Classifier.load(name, engine="tf-function")

    def evaluate(x: np.ndarray, classifier: Classifier = clf) -> np.ndarray:
        # What a full evaluation costs: probabilities, then the predicted labels.
        return classifier.predict_proba(x).argmax(axis=1)

    latency = {
        "model_predict": time_per_image(
            lambda x: model.predict(x, verbose=0), images, predict_repeats
        ),
        "direct_call": time_per_image(lambda x: model(x, training=False), images, repeats),
        "tf_function": time_per_image(traced.predict, images, repeats),
        "fast_path": time_per_image(clf.predict, images, repeats),
    }
    throughput = {
        "model_predict": time_batch(
            lambda x: model.predict(x, batch_size=BATCH, verbose=0), images, batch_repeats
        ),
        "tf_function": time_batch(lambda x: evaluate(x, traced), images, batch_repeats),
        "fast_path": time_batch(evaluate, images, batch_repeats),
    }
    accuracy = float((evaluate(images) == test.labels).mean())
    ratios, photos = _ratios(latency, throughput), photo_path_ms()
    return {
        "model": clf.name,
        "n_params": clf.n_params,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "repeats": {"single": repeats, "model_predict": predict_repeats, "batch": batch_repeats},
        "import_tensorflow_s": None if import_s is None else round(import_s, 3),
        "model_load_s": round(load_s, 3),
        "engine": clf.engine,
        "latency_ms": latency,
        "throughput": throughput | {"n_images": len(images)},
        "test_accuracy": round(accuracy, 6),
        "photo_path_ms": photos,
        "ratios": ratios,
        "goals": {
            "fast_path_50x_model_predict": ratios["fast_path_vs_model_predict_p50"] >= SPEEDUP_GOAL,
            "eval_10k_within_2s": throughput["fast_path"]["seconds"] <= EVAL_10K_GOAL_S,
            "photo_path_within_250ms": photos["home_cut_out"]["p50"] <= PHOTO_GOAL_MS,
        },
    }


def _ratios(latency: dict, throughput: dict) -> dict[str, float]:
    """How many times faster than `model.predict` each path is (p50, p95, the 10k pass)."""
    predict_p50 = latency["model_predict"]["p50"]
    ratios = {
        f"{path}_vs_model_predict_p50": _ratio(predict_p50, latency[path]["p50"])
        for path in latency
        if path != "model_predict"
    }
    ratios["fast_path_vs_model_predict_p95"] = _ratio(
        latency["model_predict"]["p95"], latency["fast_path"]["p95"]
    )
    ratios["fast_path_vs_model_predict_10k"] = _ratio(
        throughput["model_predict"]["seconds"], throughput["fast_path"]["seconds"]
    )
    return ratios


def to_markdown(result: dict) -> str:
    """The `speed` section of benchmarks/RESULTS.md for one `run()` result."""
    m = result["machine"]
    lat, thr, ratios = result["latency_ms"], result["throughput"], result["ratios"]
    labels = {
        "model_predict": "`model.predict(x)`",
        "direct_call": "direct call `model(x)`",
        "tf_function": '`tf.function` traced once (`engine="tf-function"`)',
        "fast_path": "**fast path** `Classifier.predict` (TFLite twin)",
    }
    rows = [
        "| path | per image p50 (ms) | p95 (ms) | vs `model.predict` (p50) "
        "| 10k test set (s) | images/s |",
        "|---|---|---|---|---|---|",
    ]
    for path, label in labels.items():
        if path not in lat:
            continue
        ratio = ratios.get(f"{path}_vs_model_predict_p50", 1.0)
        speedup = _times(ratio) if path != "model_predict" else "1x"
        batch = (
            f"{thr[path]['seconds']:.3f} | {thr[path]['images_per_s']:,.0f}"
            if path in thr
            else "- | -"
        )
        rows.append(
            f"| {label} | {lat[path]['p50']:.3f} | {lat[path]['p95']:.3f} | {speedup} | {batch} |"
        )
    met = {k: "met" if v else "NOT met" for k, v in result["goals"].items()}
    imp = result["import_tensorflow_s"]
    lines = [
        f"Model `{result['model']}` ({result['n_params']:,} params), measured {result['date']} "
        f"on {m['cores']} cores ({m['cpu_model']}), 1-min load average {m['load_average_1m']} "
        "at the start.",
        "",
        *rows,
        "",
        *busy_note(m["load_average_1m"], m["cores"]),
        f"- `import tensorflow` (fresh process): {imp:.2f} s; model load + warm-up: "
        f"{result['model_load_s']:.2f} s"
        if imp is not None
        else f"- model load + warm-up: {result['model_load_s']:.2f} s",
        f"- fast path vs `model.predict`: {_times(ratios['fast_path_vs_model_predict_p50'])} "
        f"at p50, {_times(ratios['fast_path_vs_model_predict_p95'])} at p95 "
        f"(goal >= {SPEEDUP_GOAL:.0f}x: {met['fast_path_50x_model_predict']})",
        f"- full 10k evaluation through the fast path: {thr['fast_path']['seconds']:.2f} s "
        f"(goal <= {EVAL_10K_GOAL_S:.0f} s: {met['eval_10k_within_2s']}); "
        f"test accuracy in that pass {result['test_accuracy']:.4f}",
        f"- the photo path (decode, cut-out, 28x28) on a {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG: "
        f"{result['photo_path_ms']['home_cut_out']['p50']:.0f} ms p50 for a photo taken at "
        f"home (the cut-out; goal <= {PHOTO_GOAL_MS:.0f} ms: "
        f"{met['photo_path_within_250ms']}), "
        f"{result['photo_path_ms']['plain_background']['p50']:.0f} ms for a shop photo "
        "(a plain background: the border-colour path every photo took before)",
        f"- repeats: {result['repeats']['single']} single-image calls per path "
        f"({result['repeats']['model_predict']} for `model.predict`), median of "
        f"{result['repeats']['batch']} full passes; {WARMUP_CALLS} warm-up calls untimed.",
    ]
    return "\n".join(lines)
