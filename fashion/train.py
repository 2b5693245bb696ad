"""Train a registered model and write `<name>.keras` and its model card `<name>.json`."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from fashion import data, models
from fashion.augment import augment_batch
from fashion.classes import NUM_CLASSES
from fashion.evaluate import evaluate_file
from fashion.export import export_tflite
from fashion.inference import MODELS_DIR


@dataclass
class TrainConfig:
    """Everything that decides the trained weights; `None` means "the model's recipe"."""

    model: str
    epochs: int | None = None
    seed: int = 0  # drives the split, init, shuffling and augmentation
    batch_size: int | None = None
    optimizer: str | None = None
    learning_rate: float | None = None
    weight_decay: float | None = None
    schedule: str | None = None
    warmup_epochs: int | None = None
    label_smoothing: float | None = None
    augment: bool | None = None
    erasing: float | None = None
    # Start from this saved model instead of fresh weights: the second stage of a
    # two-stage schedule (e.g. a short low-LR fine-tune without random erasing). The
    # card then extends the starting model's card: epochs, history and time add up.
    init_from: str | None = None
    # Stochastic weight averaging: keep the mean of the weights at the end of every epoch
    # of this run (meant for a stage at a constant, moderate learning rate) and save that.
    swa: bool = False
    val_fraction: float = 0.1  # 6,000 training images held out to choose and calibrate
    limit: int | None = None  # train on the first N images only (smoke tests)
    out_dir: str = str(MODELS_DIR)

    def resolved(self) -> TrainConfig:
        """A copy with every `None` filled from the model's recipe."""
        recipe = models.get(self.model).recipe
        values = asdict(self)
        for f in fields(models.Recipe):
            if f.name in values and values[f.name] is None:
                values[f.name] = getattr(recipe, f.name)
        return TrainConfig(**values)

    def command(self) -> str:
        """The exact command that reproduces this run (every setting spelled out)."""
        c = self.resolved()
        parts = ["python -m fashion train", c.model, f"--epochs {c.epochs}", f"--seed {c.seed}"]
        parts += [
            f"--batch-size {c.batch_size}",
            f"--optimizer {c.optimizer}",
            f"--learning-rate {c.learning_rate:g}",
            f"--weight-decay {c.weight_decay:g}",
            f"--schedule {c.schedule}",
            f"--warmup-epochs {c.warmup_epochs}",
            f"--label-smoothing {c.label_smoothing:g}",
            "--augment" if c.augment else "--no-augment",
        ]
        if c.augment:
            parts.append(f"--erasing {c.erasing:g}")
        parts.append(f"--val-fraction {c.val_fraction:g}")
        if c.init_from:
            parts.append(f"--init-from {_relative(c.init_from)}")
        if c.swa:
            parts.append("--swa")
        if c.limit:
            parts.append(f"--limit {c.limit}")
        # No --out-dir: where the files are written does not change the weights, and a
        # trial run written elsewhere (so it cannot overwrite the shipped model) should
        # record the command that reproduces it in place once it is promoted.
        return " ".join(parts)


def _relative(path: str) -> str:
    """A path as the reproducing command should spell it: relative to the repository."""
    p = Path(path).resolve()
    root = MODELS_DIR.parent.parent
    return str(p.relative_to(root)) if p.is_relative_to(root) else str(p)


def epoch_data(
    x: np.ndarray, y: np.ndarray, seed: int, epoch: int, augment: bool, erasing: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """The shuffled (and augmented) training arrays of one epoch.

    Depends only on (seed, epoch), so a run is reproducible. Whole-epoch numpy arrays
    fed to `fit` train ~2x faster here than a `keras.utils.PyDataset` of batches.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(x))
    xe, ye = x[order], y[order]
    if augment:
        xe = augment_batch(xe, rng, erasing)
    return xe, ye


def _optimizer(c: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    lr: float | keras.optimizers.schedules.LearningRateSchedule = c.learning_rate
    if c.schedule == "cosine":
        warmup = c.warmup_epochs * steps_per_epoch
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=c.learning_rate / 10 if warmup else c.learning_rate,
            decay_steps=max(1, c.epochs * steps_per_epoch - warmup),
            warmup_target=c.learning_rate if warmup else None,
            warmup_steps=warmup,
        )
    elif c.schedule != "constant":
        raise ValueError(f"unknown schedule {c.schedule!r}")
    wd = c.weight_decay or None
    if c.optimizer == "adam":
        return keras.optimizers.Adam(lr, weight_decay=wd)
    if c.optimizer == "sgd":
        return keras.optimizers.SGD(lr, weight_decay=wd)
    if c.optimizer == "sgd-nesterov":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=wd)
    raise ValueError(f"unknown optimizer {c.optimizer!r}")


class _EpochLog(keras.callbacks.Callback):
    """One line per epoch with its duration, for logs of long background runs."""

    def __init__(self, total_epochs: int):
        super().__init__()
        self.total_epochs = total_epochs

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        dt = time.perf_counter() - self._t0
        shown = " ".join(f"{k}={v:.4f}" for k, v in logs.items() if k != "learning_rate")
        print(f"epoch {epoch + 1}/{self.total_epochs} {dt:.1f}s {shown}", flush=True)


class _WeightAverage:
    """Running mean of a model's trainable weights, one sample per epoch."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: list[np.ndarray] = []

    def add(self, model: keras.Model) -> None:
        current = [np.asarray(w) for w in model.trainable_weights]
        self.count += 1
        if self.count == 1:
            self.mean = [w.astype(np.float64) for w in current]
        else:
            for m, w in zip(self.mean, current, strict=True):
                m += (w - m) / self.count

    def apply(self, model: keras.Model, x: np.ndarray, batch_size: int) -> None:
        """Load the averaged weights, then recompute BatchNorm's statistics for them.

        The running statistics belong to the last weights, not the average; one pass in
        training mode over the (unaugmented) training images re-estimates them.
        """
        for var, m in zip(model.trainable_weights, self.mean, strict=True):
            var.assign(m.astype(var.dtype))
        norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
        if not norms:
            return
        saved = [layer.momentum for layer in norms]
        for layer in norms:
            layer.moving_mean.assign(np.zeros(layer.moving_mean.shape))
            layer.moving_variance.assign(np.ones(layer.moving_variance.shape))
        for k, start in enumerate(range(0, len(x), batch_size)):
            # momentum = k / (k + 1) makes the running value the plain mean of the batches.
            # Eager calls on purpose: a tf.function would freeze the first momentum.
            for layer in norms:
                layer.momentum = k / (k + 1)
            model(x[start : start + batch_size], training=True)
        for layer, momentum in zip(norms, saved, strict=True):
            layer.momentum = momentum


def train(config: TrainConfig, verbose: int | None = None) -> dict:
    """Fit the model, save it and its card, and return the card.

    The card's test figures come from re-loading the saved file and evaluating it the
    same way `python -m fashion evaluate` does, so the two always agree.
    """
    c = config.resolved()
    entry = models.get(c.model)
    keras.utils.set_random_seed(c.seed)
    tf.config.experimental.enable_op_determinism()

    ds = data.load()
    train_split = ds.train
    if c.limit:
        train_split = data.Split(train_split.images[: c.limit], train_split.labels[: c.limit])
    fit_split, val_split = data.train_val_split(train_split, c.val_fraction, c.seed)
    x_fit, y_fit = fit_split.as_float(), keras.utils.to_categorical(fit_split.labels, NUM_CLASSES)
    x_val, y_val = val_split.as_float(), keras.utils.to_categorical(val_split.labels, NUM_CLASSES)

    steps_per_epoch = math.ceil(len(x_fit) / c.batch_size)
    previous: dict = {}
    if c.init_from:
        # Read the starting point before anything is written: it is often the same file
        # this run will replace.
        model = keras.saving.load_model(c.init_from, compile=False)
        start_card = Path(c.init_from).with_suffix(".json")
        previous = json.loads(start_card.read_text()) if start_card.exists() else {}
    else:
        model = entry.build()
    first_epoch = previous.get("epochs", 0)  # fresh shuffles/augmentations for a 2nd stage
    model.compile(
        optimizer=_optimizer(c, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=c.label_smoothing
        ),
        metrics=["accuracy"],
    )
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 0
    print(
        f"training {c.model}: {model.count_params():,} params, {len(x_fit):,} train / "
        f"{len(x_val):,} val images, data from {ds.source}",
        flush=True,
    )
    t0 = time.perf_counter()
    history: dict[str, list[float]] = {}
    log = _EpochLog(c.epochs)
    average = _WeightAverage() if c.swa else None
    for epoch in range(c.epochs):
        xe, ye = epoch_data(x_fit, y_fit, c.seed, first_epoch + epoch, c.augment, c.erasing)
        hist = model.fit(
            xe,
            ye,
            batch_size=c.batch_size,
            initial_epoch=epoch,
            epochs=epoch + 1,
            shuffle=False,  # epoch_data already shuffled, reproducibly
            validation_data=(x_val, y_val) if len(x_val) else None,
            verbose=verbose,
            callbacks=[log],
        )
        for k, v in hist.history.items():
            history.setdefault(k, []).append(float(v[-1]))
        if average is not None:
            average.add(model)
    swa: dict = {}
    if average is not None:
        average.apply(model, x_fit, c.batch_size)
        swa = {"epochs_averaged": average.count}
        if len(x_val):  # --val-fraction 0 leaves nothing to compare on
            val_logits = model.predict(x_val, batch_size=1000, verbose=0)
            swa["val_accuracy_last_epoch"] = history["val_accuracy"][-1]
            swa["val_accuracy"] = float(np.mean(val_logits.argmax(1) == val_split.labels))
        print(f"weight average of {average.count} epochs: {swa}", flush=True)
    train_seconds = time.perf_counter() - t0

    out_dir = Path(c.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / f"{c.model}.keras"
    # Save a fresh, uncompiled copy: the optimizer state is not needed to predict and
    # would triple the file size for Adam.
    clean = entry.build()
    clean.set_weights(model.get_weights())
    clean.save(model_path)
    # The Classifier serves the TFLite twin; writing it here saves every later load
    # the few seconds a conversion costs.
    export_tflite(clean, model_path.with_suffix(".tflite"))

    stage = {"command": c.command(), "epochs": c.epochs, "train_seconds": round(train_seconds, 1)}
    if swa:
        stage["swa"] = swa
    stages = previous.get("stages", [previous] if previous else []) + [stage]
    for k, v in previous.get("history", {}).items():
        history[k] = v + history.get(k, [])
    card = {
        "name": c.model,
        "description": entry.description,
        "command": " && ".join(s["command"] for s in stages),
        "config": asdict(c) | {"out_dir": None},
        "stages": [
            {k: s[k] for k in ("command", "epochs", "train_seconds", "swa") if k in s}
            for s in stages
        ],
        "recipe_source": entry.recipe.source,
        "epochs": sum(s["epochs"] for s in stages),
        "train_seconds": round(sum(s["train_seconds"] for s in stages), 1),
        "n_train": len(x_fit),
        "n_val": len(x_val),
        # The saved model's: the weight average's when there is one, else the last epoch's.
        "val_accuracy": swa.get("val_accuracy", history.get("val_accuracy", [None])[-1]),
        "history": history,
        "dataset_source": ds.source,
        "trained_on": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "date": time.strftime("%Y-%m-%d"),
        },
        "file_bytes": model_path.stat().st_size,
    }
    card |= evaluate_file(model_path)
    card_path = out_dir / f"{c.model}.json"
    card_path.write_text(json.dumps(card, indent=1) + "\n")
    print(f"wrote {model_path} and {card_path}: test accuracy {card['test_accuracy']:.4f}")
    return card
