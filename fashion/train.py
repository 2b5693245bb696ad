"""Train a registered model and write `<name>.keras` and its model card `<name>.json`."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from fashion import data, models
from fashion.augment import augment_batch
from fashion.card import ModelCard, card_path
from fashion.classes import NUM_CLASSES
from fashion.engines import twin_model
from fashion.evaluate import evaluate_file
from fashion.export import export_tflite
from fashion.train_config import TrainConfig, cpu_has_bf16


def epoch_data(
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    epoch: int,
    augment: bool,
    erasing: float = 0.5,
    erasing_area: float = 0.25,
    erasing_fill: str = "noise",
) -> tuple[np.ndarray, np.ndarray]:
    """The shuffled (and augmented) training arrays of one epoch.

    Depends only on (seed, epoch), so a run is reproducible. Whole-epoch numpy arrays
    fed to `fit` train ~2x faster here than a `keras.utils.PyDataset` of batches.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(x))
    xe, ye = x[order], y[order]
    if augment:
        xe = augment_batch(xe, rng, erasing, erasing_area, erasing_fill)
    return xe, ye


def fit_batches(x: np.ndarray, y: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """`fit`'s input: consecutive batches of (x, y) in order, with tf.data's autotuning off.

    Handed numpy arrays, Keras builds a pipeline with autotuned parallelism, and the
    autotuner's thread sleeps up to a minute between rounds; the end of each `fit` call
    waits for it to wake. With one call per epoch that left the CPU idle for a random 0-60
    s after every epoch: ~30 s per 88 s epoch of `wrn-16-2`, a quarter of a run.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    batches = tf.data.Dataset.from_tensor_slices((x, y.astype(np.float32, copy=False)))
    return batches.batch(batch_size).prefetch(2).with_options(options)


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


class Checkpoint:
    """The state of a run after its last finished epoch, so an interrupted run goes on.

    Holds every model variable (BatchNorm statistics included), every optimizer variable
    (momentum and the step count, hence the schedule position) and the history. The data
    of each epoch depends only on (seed, epoch), so a resumed run computes what an
    unbroken run computes. It belongs to one command: a changed setting starts afresh.
    """

    def __init__(self, out_dir: Path, name: str, command: str) -> None:
        self.weights = out_dir / f"{name}.ckpt.npz"
        self.state = out_dir / f"{name}.ckpt.json"
        self.command = command

    def exists(self) -> bool:
        if not (self.weights.exists() and self.state.exists()):
            return False
        state = json.loads(self.state.read_text())
        if state.get("command") != self.command:
            print(f"ignoring checkpoint of another command: {state.get('command')}")
            return False
        return True

    def save(self, model: keras.Model, epochs_done: int, history: dict, seconds: float) -> None:
        values = [np.asarray(v) for v in model.variables + model.optimizer.variables]
        self.weights.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a run killed mid-write leaves the previous checkpoint whole.
        tmp = self.weights.with_suffix(".tmp.npz")
        np.savez(tmp, *values)
        os.replace(tmp, self.weights)
        state = {
            "command": self.command,
            "epochs_done": epochs_done,
            "seconds": seconds,
            "history": history,
        }
        tmp_state = self.state.with_suffix(".tmp")
        tmp_state.write_text(json.dumps(state))
        os.replace(tmp_state, self.state)

    def restore(self, model: keras.Model) -> tuple[int, dict, float]:
        """Load the checkpoint into a compiled model whose optimizer is built."""
        variables = model.variables + model.optimizer.variables
        with np.load(self.weights) as saved:
            values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        if len(values) != len(variables):
            raise RuntimeError(f"{self.weights} does not match this model; delete it")
        for var, value in zip(variables, values, strict=True):
            var.assign(value)
        state = json.loads(self.state.read_text())
        return state["epochs_done"], state["history"], state["seconds"]

    def remove(self) -> None:
        self.weights.unlink(missing_ok=True)
        self.state.unlink(missing_ok=True)


def train(config: TrainConfig, verbose: int | None = None) -> ModelCard:
    """Fit the model, save it and its card, and return the card.

    The card's test figures come from re-loading the saved file and evaluating it the
    same way `python -m fashion evaluate` does, so the two always agree.
    """
    c = config.resolved()
    entry = models.get(c.model)
    overrides = c.build_overrides()  # a bad --widths fails here, before the data loads
    if c.precision == "bfloat16" and not cpu_has_bf16():
        raise RuntimeError(
            "--precision bfloat16 needs a CPU with bf16 instructions (avx512_bf16 or amx); "
            "this one would emulate it slower than float32: use --precision float32"
        )
    keras.utils.set_random_seed(c.seed)
    tf.config.experimental.enable_op_determinism()

    ds = data.load()
    fit_split, val_split = data.model_splits(c.limit, c.val_fraction, c.seed)
    x_fit, y_fit = fit_split.as_float(), keras.utils.to_categorical(fit_split.labels, NUM_CLASSES)
    x_val, y_val = val_split.as_float(), keras.utils.to_categorical(val_split.labels, NUM_CLASSES)

    steps_per_epoch = math.ceil(len(x_fit) / c.batch_size)
    previous = ModelCard(name=c.model)
    # Mixed bf16 computes activations in bfloat16 and keeps float32 weights; the model
    # trains with TF's fused batch-norm kernel and is saved as a plain float32 copy.
    keras.mixed_precision.set_global_policy(
        "mixed_bfloat16" if c.precision == "bfloat16" else "float32"
    )
    try:
        model = entry.build(fused=True, **overrides)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if c.zero_init_residual:
        models.zero_init_residual_branches(model)
    if c.init_from:
        # Read the starting point before anything is written: it is often the same file
        # this run will replace.
        model.set_weights(keras.saving.load_model(c.init_from, compile=False).get_weights())
        start_card = Path(c.init_from).with_suffix(".json")
        if start_card.exists():
            previous = ModelCard.read(start_card)
    first_epoch = previous.epochs  # fresh shuffles/augmentations for a 2nd stage
    model.compile(
        optimizer=_optimizer(c, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=c.label_smoothing
        ),
        metrics=["accuracy"],
    )
    model.optimizer.build(model.trainable_variables)
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 0
    print(
        f"training {c.model}: {model.count_params():,} params, {len(x_fit):,} train / "
        f"{len(x_val):,} val images, {c.precision}, data from {ds.source}",
        flush=True,
    )
    checkpoint = Checkpoint(Path(c.out_dir), c.model, c.command())
    history: dict[str, list[float]] = {}
    done, elapsed = 0, 0.0
    if c.resume and not c.swa and checkpoint.exists():
        done, history, elapsed = checkpoint.restore(model)
        print(f"resuming after epoch {done}/{c.epochs} ({elapsed:.0f} s so far)", flush=True)
    t0 = time.perf_counter() - elapsed
    log = _EpochLog(c.epochs)
    average = _WeightAverage() if c.swa else None
    # The same every epoch: built once (a copy of the validation arrays), not per `fit`.
    val_batches = fit_batches(x_val, y_val, c.batch_size) if len(x_val) else None
    for epoch in range(done, c.epochs):
        xe, ye = epoch_data(
            x_fit,
            y_fit,
            c.seed,
            first_epoch + epoch,
            c.augment,
            c.erasing,
            c.erasing_area,
            c.erasing_fill,
        )
        hist = model.fit(
            fit_batches(xe, ye, c.batch_size),  # in order: epoch_data shuffled, reproducibly
            initial_epoch=epoch,
            epochs=epoch + 1,
            shuffle=False,  # the default True only earns a warning with a dataset
            validation_data=val_batches,
            verbose=verbose,
            callbacks=[log],
        )
        for k, v in hist.history.items():
            history.setdefault(k, []).append(float(v[-1]))
        if average is not None:
            average.add(model)
        elif epoch + 1 < c.epochs:
            checkpoint.save(model, epoch + 1, history, time.perf_counter() - t0)
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
    clean = entry.build(**overrides)
    clean.set_weights(model.get_weights())
    clean.save(model_path)
    # The Classifier serves the TFLite twin; writing it here saves every later load
    # the few seconds a conversion costs.
    export_tflite(twin_model(clean), model_path.with_suffix(".tflite"))

    stage = {
        "command": c.command(),
        "epochs": c.epochs,
        "train_seconds": round(train_seconds, 1),
        "precision": c.precision,
    }
    if swa:
        stage["swa"] = swa
    if previous.stages:
        stages = previous.stages + [stage]
    elif previous.command:  # a starting model trained in one stage
        stages = [
            {
                "command": previous.command,
                "epochs": previous.epochs,
                "train_seconds": previous.train_seconds,
            },
            stage,
        ]
    else:
        stages = [stage]
    for k, v in previous.history.items():
        history[k] = v + history.get(k, [])
    card = ModelCard(
        name=c.model,
        description=entry.description + (f"; this run's widths: {c.widths}" if c.widths else ""),
        command=" && ".join(s["command"] for s in stages),
        config=asdict(c) | {"out_dir": None, "resume": None},
        stages=stages,
        recipe_source=entry.recipe.source,
        epochs=sum(s["epochs"] for s in stages),
        train_seconds=round(sum(s["train_seconds"] for s in stages), 1),
        n_train=len(x_fit),
        n_val=len(x_val),
        # The saved model's: the weight average's when there is one, else the last epoch's.
        val_accuracy=swa.get("val_accuracy", history.get("val_accuracy", [None])[-1]),
        history=history,
        dataset_source=ds.source,
        trained_on={
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "cpu_bf16": cpu_has_bf16(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "date": time.strftime("%Y-%m-%d"),
        },
        file_bytes=model_path.stat().st_size,
    )
    # With the new card's views: a card left in out_dir by an earlier run may name others.
    card.update(**evaluate_file(model_path, views=card.views))
    card_file = card.write(card_path(c.model, out_dir))
    checkpoint.remove()
    print(f"wrote {model_path} and {card_file}: test accuracy {card.test_accuracy:.4f}")
    return card
