"""How fast does a training step run on this CPU? Written to the `training-throughput`
section of benchmarks/RESULTS.md.

For each model, the project's own training step (`model.fit` on whole-epoch arrays, SGD
with Nesterov momentum, the recipe's batch size) is timed in four set-ups, all in this
one run so their ratios hold even when the machine is busy:

- float32 with Keras' own BatchNormalization (how every model trained before issue 16);
- float32 with the fused batch-norm kernel (fashion/training/fused_bn.py);
- mixed bfloat16 with Keras' BatchNormalization;
- mixed bfloat16 with the fused kernel (what `train` uses where the CPU has bf16).

    .venv/bin/python benchmarks/train_speed.py [--models wrn-16-2 fashion-cnn]
        [--repeats 3] [--no-write]

Run it on a quiet machine: a training run beside it halves every figure. A CPU without
bf16 instructions writes its own section (`training-throughput-no-bf16`), so the figures
of both kinds of machine stay side by side.
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
from fashion.serving.bench import cpu_model  # noqa: E402
from fashion.training.train_config import cpu_has_bf16  # noqa: E402

SETUPS = (
    ("float32", False),
    ("float32", True),
    ("bfloat16", False),
    ("bfloat16", True),
)
WARMUP_STEPS = 5
TIMED_STEPS = 30
REPEATS = 3  # rounds over all set-ups; the median is reported
EPOCH_IMAGES = 54_000  # the training split


def images_per_second(name: str, precision: str, fused: bool) -> float:
    import keras
    import tensorflow as tf

    from fashion.training import registry

    entry = registry.get(name)
    # As `train` sets up every run: op determinism also keeps TF from running independent
    # ops side by side, which on 2 cores makes them fight over the same threads.
    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(
        "mixed_bfloat16" if precision == "bfloat16" else "float32"
    )
    try:
        model = entry.build(fused=fused)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    batch = entry.recipe.batch_size
    rng = np.random.default_rng(0)
    x = rng.random((batch * (WARMUP_STEPS + TIMED_STEPS), 28, 28, 1), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 10, len(x)), 10)
    warm = batch * WARMUP_STEPS
    # shuffle=False as in `train` (which shuffles each epoch's arrays itself): Keras'
    # own per-call shuffle of numpy inputs costs a third of the step here.
    model.fit(x[:warm], y[:warm], batch_size=batch, verbose=0, shuffle=False)  # traces
    start = time.perf_counter()
    model.fit(x[warm:], y[warm:], batch_size=batch, verbose=0, shuffle=False)
    return batch * TIMED_STEPS / (time.perf_counter() - start)


def measure(names: list[str], repeats: int = REPEATS) -> list[dict]:
    from fashion.training import registry

    rows = []
    for name in names:
        macs = registry.multiply_adds(registry.get(name).build())
        setups = [(p, fused) for p, fused in SETUPS if p == "float32" or cpu_has_bf16()]
        speeds: dict[tuple[str, bool], list[float]] = {s: [] for s in setups}
        # Interleaved rounds: a slow spell of a shared machine lands on every set-up
        # alike instead of on whichever ran then (seen: one set-up at 94 and at 142
        # images/s within minutes on a quiet machine).
        for _ in range(repeats):
            for setup in setups:
                speeds[setup].append(images_per_second(name, *setup))
        base = float(np.median(speeds[setups[0]]))
        for (precision, fused), got in speeds.items():
            speed = float(np.median(got))
            rows.append(
                {
                    "model": name,
                    "macs": macs,
                    "precision": precision,
                    "fused": fused,
                    "images_per_s": speed,
                    "low": min(got),
                    "high": max(got),
                    "epoch_s": EPOCH_IMAGES / speed,
                    "ratio": speed / base,
                }
            )
            print(rows[-1], flush=True)
    return rows


def to_markdown(rows: list[dict], repeats: int = REPEATS) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on {os.cpu_count()} cores "
        f"({cpu_model()}, bf16 instructions: {'yes' if cpu_has_bf16() else 'no'}; 1-min "
        f"load {load:.1f} at the end) by `.venv/bin/python benchmarks/train_speed.py`: "
        f"{TIMED_STEPS} training steps after {WARMUP_STEPS} untimed ones, the recipe's "
        "batch size, random data of the right shape (the input pipeline is not what is "
        f"measured), in {repeats} interleaved rounds over the set-ups: images/s is the "
        "median round, with the slowest and fastest beside it. Ratios are of medians, "
        "against float32 with Keras' batch norm, in the same run.",
        "",
        "| model | multiply-adds / image | arithmetic | batch norm | images/s | range "
        "| epoch of 54k | vs float32 + Keras BN |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['model']}` | {r['macs'] / 1e6:.0f} M | {r['precision']} "
            f"| {'fused (TF kernel)' if r['fused'] else 'Keras'} | {r['images_per_s']:,.0f} "
            f"| {r['low']:,.0f}-{r['high']:,.0f} | {r['epoch_s']:.0f} s | {r['ratio']:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["wrn-16-2", "fashion-cnn"])
    parser.add_argument("--repeats", type=int, default=REPEATS, help="rounds over the set-ups")
    add_no_write_flag(parser)
    args = parser.parse_args(argv)
    text = to_markdown(measure(args.models, args.repeats), args.repeats)
    print(text)
    section = "training-throughput" if cpu_has_bf16() else "training-throughput-no-bf16"
    publish(section, text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
