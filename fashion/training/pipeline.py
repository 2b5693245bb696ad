"""Train a registered model and write `<name>.keras` and its model card `<name>.json`."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from fashion.analysis.evaluate import evaluate_file
from fashion.card import ModelCard, card_path
from fashion.classes import NUM_CLASSES
from fashion.data import official
from fashion.serving.engines import twin_model
from fashion.serving.export import export_tflite
from fashion.training import registry
from fashion.training.augment import augment_batch
from fashion.training.outliers import outlier_images
from fashion.training.photo_views import photo_views, swap_in
from fashion.training.train_config import TrainConfig, cpu_has_bf16


@dataclass
class PhotoViews:
    """Photo views of the fit images (fashion.training.photo_views), aligned with them."""

    images: np.ndarray  # (N, 28, 28) uint8
    made: np.ndarray  # (N,) bool: this image has a view
    share: float  # chance per epoch that an image with a view is shown as it


# Progress reports per epoch, for a caller that shows a progress bar (the Playground).
PROGRESS_STEPS = 20


def epoch_data(
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    epoch: int,
    augment: bool,
    erasing: float = 0.5,
    erasing_area: float = 0.25,
    erasing_fill: str = "noise",
    views: PhotoViews | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The shuffled (and augmented) training arrays of one epoch.

    Depends only on (seed, epoch), so a run is reproducible. Whole-epoch numpy arrays
    fed to `fit` train ~2x faster here than a `keras.utils.PyDataset` of batches.
    With `views`, images that have a photo view are shown as it at random (before the
    flip, shift and erasing, which apply to both alike).
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(x))
    xe, ye = x[order], y[order]
    if views is not None:
        xe = swap_in(xe, views.images[order], views.made[order], views.share, rng)
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


Report = Callable[[dict], None]


@dataclass
class _Data:
    """The arrays one run fits and validates on (labels one-hot, as the loss wants)."""

    x_fit: np.ndarray  # (N, 28, 28) float32 in [0, 1]
    y_fit: np.ndarray  # (N, 10)
    x_val: np.ndarray
    y_val: np.ndarray
    val_labels: np.ndarray  # (M,) ints
    source: str  # where the dataset was found
    views: PhotoViews | None = None
    x_out: np.ndarray | None = None  # outlier-exposure images (K, 28, 28, 1), or None

    @property
    def epoch_size(self) -> int:
        """Images per epoch: the fit images and the outlier-exposure ones."""
        return len(self.x_fit) + (0 if self.x_out is None else len(self.x_out))


@dataclass
class _Fitted:
    """What the epochs left besides the weights."""

    history: dict[str, list[float]]
    seconds: float
    swa: dict = field(default_factory=dict)
    stopped: str = ""  # why training ended before its last epoch, if it did


def _subset(split: official.Split, n: int | None, rng: np.random.Generator) -> official.Split:
    """`n` images of `split` drawn at random (all when n is None), in their split order."""
    if n is None or n >= len(split):
        return split
    idx = np.sort(rng.choice(len(split), n, replace=False))
    return official.Split(split.images[idx], split.labels[idx])


def _data(c: TrainConfig) -> _Data:
    source = official.load().source
    fit_split, val_split = official.model_splits(c.limit, c.val_fraction, c.seed)
    # One generator for both draws, fit images first: a run's subset depends on its seed.
    rng = np.random.default_rng(c.seed)
    fit_split = _subset(fit_split, c.fit_images, rng)
    val_split = _subset(val_split, c.val_images, rng)
    x_out = None
    if c.outliers:
        x_out = outlier_images(c.outliers, c.seed)[0][..., None]
    return _Data(
        views=_views(fit_split, c, rng),
        x_out=x_out,
        x_fit=fit_split.as_float(),
        y_fit=keras.utils.to_categorical(fit_split.labels, NUM_CLASSES),
        x_val=val_split.as_float(),
        y_val=keras.utils.to_categorical(val_split.labels, NUM_CLASSES),
        val_labels=val_split.labels,
        source=source,
    )


def _views(fit_split: official.Split, c: TrainConfig, rng) -> PhotoViews | None:
    """Photo views of `c.photo_views` fit images drawn at random (None without any)."""
    if not c.photo_views:
        return None
    n = min(c.photo_views, len(fit_split))
    chosen = np.sort(rng.choice(len(fit_split), n, replace=False))
    views, made = photo_views(fit_split.images[chosen], c.seed)
    images = np.zeros_like(fit_split.images)
    images[chosen] = views
    has_view = np.zeros(len(fit_split), bool)
    has_view[chosen] = made
    print(f"photo views: {int(made.sum()):,} of {n:,} rendered photos kept", flush=True)
    share = 0.5 if c.photo_share is None else c.photo_share
    return PhotoViews(images, has_view, share)


def _build(c: TrainConfig, entry: registry.Entry, steps_per_epoch: int) -> tuple:
    """(the compiled model, ready to fit; the card of the model it starts from)."""
    previous = ModelCard(name=c.model)
    # Mixed bf16 computes activations in bfloat16 and keeps float32 weights; the model
    # trains with TF's fused batch-norm kernel and is saved as a plain float32 copy.
    keras.mixed_precision.set_global_policy(
        "mixed_bfloat16" if c.precision == "bfloat16" else "float32"
    )
    try:
        model = entry.build(fused=True, **c.build_overrides())
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if c.zero_init_residual:
        registry.zero_init_residual_branches(model)
    if c.init_from:
        # Read the starting point before anything is written: it is often the same file
        # this run will replace.
        model.set_weights(keras.saving.load_model(c.init_from, compile=False).get_weights())
        start_card = Path(c.init_from).with_suffix(".json")
        if start_card.exists():
            previous = ModelCard.read(start_card)
    model.compile(
        optimizer=_optimizer(c, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=c.label_smoothing
        ),
        metrics=["accuracy"],
    )
    model.optimizer.build(model.trainable_variables)
    return model, previous


class _Progress(keras.callbacks.Callback):
    """Reports progress within an epoch and stops training at the time budget."""

    def __init__(self, report: Report | None, steps: int, t0: float, max_seconds: float | None):
        super().__init__()
        self.report, self.steps, self.t0, self.max_seconds = report, steps, t0, max_seconds
        self.every = max(1, steps // PROGRESS_STEPS)
        self.stopped = ""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.report and ((batch + 1) % self.every == 0 or batch + 1 == self.steps):
            self.report({"event": "progress", "epoch": self.epoch, "batch": batch + 1,
                         "batches": self.steps})  # fmt: skip
        over = self.max_seconds is not None and time.perf_counter() - self.t0 > self.max_seconds
        if over and not self.stopped:
            self.stopped = f"stopped at the {self.max_seconds:.0f} s time limit"
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.report:
            logs = {k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"}
            self.report({"event": "epoch", "epoch": epoch + 1, "logs": logs})


def _with_outliers(d: _Data) -> tuple[np.ndarray, np.ndarray, PhotoViews | None]:
    """The fit images followed by the outlier-exposure ones (target: every class alike)."""
    if d.x_out is None:
        return d.x_fit, d.y_fit, d.views
    uniform = np.full((len(d.x_out), NUM_CLASSES), 1 / NUM_CLASSES, d.y_fit.dtype)
    views = d.views
    if views is not None:
        none = np.zeros((len(d.x_out), *views.images.shape[1:]), views.images.dtype)
        views = PhotoViews(
            np.concatenate([views.images, none]),
            np.concatenate([views.made, np.zeros(len(d.x_out), bool)]),
            views.share,
        )
    return np.concatenate([d.x_fit, d.x_out]), np.concatenate([d.y_fit, uniform]), views


def _fit(
    model: keras.Model, c: TrainConfig, d: _Data, first_epoch: int, verbose: int, report
) -> _Fitted:
    """The epochs: per-epoch data, checkpoints (or a weight average), the time budget."""
    checkpoint = Checkpoint(Path(c.out_dir), c.name or c.model, c.command())
    history: dict[str, list[float]] = {}
    done, elapsed = 0, 0.0
    if c.resume and not c.swa and checkpoint.exists():
        done, history, elapsed = checkpoint.restore(model)
        print(f"resuming after epoch {done}/{c.epochs} ({elapsed:.0f} s so far)", flush=True)
    t0 = time.perf_counter() - elapsed
    steps = math.ceil(d.epoch_size / c.batch_size)
    progress = _Progress(report, steps, t0, c.max_seconds)
    callbacks = [_EpochLog(c.epochs), progress]
    average = _WeightAverage() if c.swa else None
    # The same every epoch: built once (a copy of the validation arrays), not per `fit`.
    val_batches = fit_batches(d.x_val, d.y_val, c.batch_size) if len(d.x_val) else None
    x, y, views = _with_outliers(d)
    for epoch in range(done, c.epochs):
        xe, ye = epoch_data(x, y, c.seed, first_epoch + epoch, c.augment,
                            c.erasing, c.erasing_area, c.erasing_fill, views)  # fmt: skip
        hist = model.fit(
            fit_batches(xe, ye, c.batch_size),  # in order: epoch_data shuffled, reproducibly
            initial_epoch=epoch,
            epochs=epoch + 1,
            shuffle=False,  # the default True only earns a warning with a dataset
            validation_data=val_batches,
            verbose=verbose,
            callbacks=callbacks,
        )
        for k, v in hist.history.items():
            history.setdefault(k, []).append(float(v[-1]))
        if progress.stopped:
            break
        if average is not None:
            average.add(model)
        elif epoch + 1 < c.epochs:
            checkpoint.save(model, epoch + 1, history, time.perf_counter() - t0)
    fitted = _Fitted(history, 0.0, stopped=progress.stopped)
    if average is not None:
        fitted.swa = _average(model, average, c, d, history)
    fitted.seconds = time.perf_counter() - t0
    return fitted


def _average(model: keras.Model, average: _WeightAverage, c: TrainConfig, d: _Data, history):
    """Load the weight average into `model`; its figures for the card."""
    average.apply(model, d.x_fit, c.batch_size)
    swa = {"epochs_averaged": average.count}
    if len(d.x_val):  # --val-fraction 0 leaves nothing to compare on
        val_logits = model.predict(d.x_val, batch_size=1000, verbose=0)
        swa["val_accuracy_last_epoch"] = history["val_accuracy"][-1]
        swa["val_accuracy"] = float(np.mean(val_logits.argmax(1) == d.val_labels))
    print(f"weight average of {average.count} epochs: {swa}", flush=True)
    return swa


def _save(model: keras.Model, c: TrainConfig, entry: registry.Entry) -> Path:
    """Write NAME.keras and its TFLite twin into the run's folder; the .keras path."""
    out_dir = Path(c.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / f"{c.name or c.model}.keras"
    # Save a fresh, uncompiled copy: the optimizer state is not needed to predict and
    # would triple the file size for Adam.
    clean = entry.build(**c.build_overrides())
    clean.set_weights(model.get_weights())
    clean.save(model_path)
    # The Classifier serves the TFLite twin; writing it here saves every later load
    # the few seconds a conversion costs.
    export_tflite(twin_model(clean), model_path.with_suffix(".tflite"))
    return model_path


def _stages(c: TrainConfig, previous: ModelCard, fitted: _Fitted) -> list[dict]:
    """This run as a stage, after those of the model it started from."""
    stage = {
        "command": c.command(),
        "epochs": len(fitted.history.get("loss", [])),
        "train_seconds": round(fitted.seconds, 1),
        "precision": c.precision,
    }
    if fitted.swa:
        stage["swa"] = fitted.swa
    if previous.stages:
        return previous.stages + [stage]
    if previous.command:  # a starting model trained in one stage
        first = {k: getattr(previous, k) for k in ("command", "epochs", "train_seconds")}
        return [first, stage]
    return [stage]


def _card(
    c: TrainConfig, entry: registry.Entry, previous: ModelCard, fitted: _Fitted, d: _Data
) -> ModelCard:
    stages = _stages(c, previous, fitted)
    history = dict(fitted.history)
    for k, v in previous.history.items():
        history[k] = v + history.get(k, [])
    this_run = "".join(
        f"; this run's {label}: {value}"
        for label, value in (("widths", c.widths), ("hidden units", c.hidden_units))
        if value is not None
    )
    card = ModelCard(
        name=c.name or c.model,
        description=entry.description + this_run,
        command=" && ".join(s["command"] for s in stages),
        config=asdict(c) | {"out_dir": None, "resume": None, "name": None},
        stages=stages,
        recipe_source=entry.recipe.source,
        epochs=sum(s["epochs"] for s in stages),
        train_seconds=round(sum(s["train_seconds"] for s in stages), 1),
        n_train=len(d.x_fit),
        n_val=len(d.x_val),
        # The saved model's: the weight average's when there is one, else the last epoch's.
        val_accuracy=fitted.swa.get("val_accuracy", history.get("val_accuracy", [None])[-1]),
        history=history,
        dataset_source=d.source,
        trained_on=_machine(),
    )
    if fitted.stopped:
        card.update(stopped=fitted.stopped)
    return card


def _machine() -> dict:
    return {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "cpu_bf16": cpu_has_bf16(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }


def train(config: TrainConfig, verbose: int | None = None, report: Report | None = None):
    """Fit the model, save it and its card, and return the card (a `ModelCard`).

    The card's test figures come from re-loading the saved file and evaluating it the
    same way `python -m fashion evaluate` does, so the two always agree.

    Args:
        verbose: Keras' progress bar (default: on when stdout is a terminal).
        report: called with small JSON-ready dicts as the run goes on: {"event":
            "phase"}, {"event": "progress"} within an epoch, {"event": "epoch"} after one.
    """
    c = config.resolved()
    entry = registry.get(c.model)
    c.build_overrides()  # a bad --widths fails here, before the data loads
    if c.precision == "bfloat16" and not cpu_has_bf16():
        raise RuntimeError(
            "--precision bfloat16 needs a CPU with bf16 instructions (avx512_bf16 or amx); "
            "this one would emulate it slower than float32: use --precision float32"
        )
    say = report or (lambda event: None)
    keras.utils.set_random_seed(c.seed)
    tf.config.experimental.enable_op_determinism()
    say({"event": "phase", "phase": "loading the images"})
    d = _data(c)
    model, previous = _build(c, entry, math.ceil(d.epoch_size / c.batch_size))
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 0
    print(
        f"training {c.model}: {model.count_params():,} params, {len(d.x_fit):,} train / "
        f"{len(d.x_val):,} val images, {c.precision}, data from {d.source}",
        flush=True,
    )
    say({"event": "phase", "phase": "training"})
    # Fresh shuffles/augmentations for a second stage.
    fitted = _fit(model, c, d, previous.epochs, verbose, report)
    say({"event": "phase", "phase": "testing on the 10,000 test images"})
    model_path = _save(model, c, entry)
    card = _card(c, entry, previous, fitted, d)
    card.update(file_bytes=model_path.stat().st_size)
    # With the new card's views: a card left in out_dir by an earlier run may name others.
    card.update(**evaluate_file(model_path, views=card.views))
    card_file = card.write(card_path(card.name, model_path.parent))
    Checkpoint(Path(c.out_dir), card.name, c.command()).remove()
    print(f"wrote {model_path} and {card_file}: test accuracy {card.test_accuracy:.4f}")
    return card
