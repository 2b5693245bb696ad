"""What a visitor may train on the Playground: the choices, the limits, and the one
`TrainConfig` they make.

A hosted demo has to survive visitors pressing Train, so a Playground run is small by
construction: at most MAX_TRAIN training images, MAX_EPOCHS epochs and MAX_TRAIN_SECONDS
of training (it stops there and keeps what it has). A run is an ordinary `TrainConfig`,
trained by the same pipeline as `python -m fashion train`; the limits are a check of
that config (`check_limits`), not a second kind of config. The job queue that runs these
is fashion.training.jobs, the process that trains one is fashion.training.worker.
"""

from __future__ import annotations

import dataclasses

from fashion.training.train_config import TrainConfig

TUTORIALS = ("flatten-128", "flatten-128-64", "cnn-basic", "dense-sgd")  # the registry's
# Flatten -> Dense(hidden units, relu) -> Dense 10: flatten-128 with its width as the knob.
CUSTOM = "your-mlp"
CUSTOM_BASE = "flatten-128"
ARCHITECTURES = (*TUTORIALS, CUSTOM)
CUSTOM_DESCRIPTION = "Flatten -> Dense (your hidden units) relu -> Dense 10"
OPTIMIZERS = ("adam", "sgd")
LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
TRAIN_SIZES = (500, 1000, 2000, 5000, 10_000)
HIDDEN_UNITS = (16, 32, 64, 128, 256, 512)
MIN_TRAIN, MAX_TRAIN = 100, TRAIN_SIZES[-1]
MAX_EPOCHS = 10
N_VAL = 1000  # validation images scored after every epoch (from the held-out split)
# Training stops here and keeps the model; the worker is killed later (jobs.HARD_LIMIT).
MAX_TRAIN_SECONDS = 90.0


def playground_config(
    architecture: str = TUTORIALS[0],
    epochs: int = 3,
    n_train: int = 2000,
    optimizer: str | None = None,
    learning_rate: float | None = None,
    hidden_units: int = 128,
    seed: int = 0,
) -> TrainConfig:
    """The run a visitor asked for, as the pipeline's config (not yet checked).

    Args:
        architecture: one of ARCHITECTURES (CUSTOM is flatten-128 at `hidden_units`).
        optimizer, learning_rate: None means "as the architecture's recipe says".
    """
    custom = architecture == CUSTOM
    return TrainConfig(
        model=CUSTOM_BASE if custom else architecture,
        hidden_units=hidden_units if custom else None,
        epochs=epochs,
        optimizer=optimizer,
        learning_rate=learning_rate,
        fit_images=n_train,
        val_images=N_VAL,
        max_seconds=MAX_TRAIN_SECONDS,
        precision="float32",
        seed=seed,
        resume=False,
    )


def architecture(config: TrainConfig) -> str:
    """The Playground's name for the net of `config` (CUSTOM when its width is chosen)."""
    return CUSTOM if config.hidden_units is not None else config.model


def check_limits(config: TrainConfig) -> TrainConfig:
    """`config`, if a visitor may run it here; raises ValueError otherwise."""
    if architecture(config) not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}")
    if config.epochs is None or not 1 <= config.epochs <= MAX_EPOCHS:
        raise ValueError(f"epochs must be 1 to {MAX_EPOCHS}")
    if config.fit_images is None or not MIN_TRAIN <= config.fit_images <= MAX_TRAIN:
        raise ValueError(f"training images must be {MIN_TRAIN} to {MAX_TRAIN:,}")
    if config.hidden_units is not None and not 1 <= config.hidden_units <= HIDDEN_UNITS[-1]:
        raise ValueError(f"hidden units must be 1 to {HIDDEN_UNITS[-1]}")
    if config.optimizer is not None and config.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
    if config.learning_rate is not None and not 0 < config.learning_rate <= 1:
        raise ValueError("learning rate must be in (0, 1]")
    if config.max_seconds is None or config.max_seconds > MAX_TRAIN_SECONDS:
        raise ValueError(f"training time must be at most {MAX_TRAIN_SECONDS:.0f} s")
    if config.val_images is None or config.val_images > N_VAL:
        raise ValueError(f"validation images must be at most {N_VAL:,}")
    allowed = {f.name for f in dataclasses.fields(TrainConfig)} - _PLAYGROUND_FIELDS
    changed = [n for n in allowed if getattr(config, n) != getattr(_DEFAULTS, n)]
    if changed:
        raise ValueError(f"the Playground does not set {', '.join(sorted(changed))}")
    return config


# The settings a Playground run may differ in; every other one stays the pipeline's default.
_PLAYGROUND_FIELDS = {
    "model", "hidden_units", "epochs", "optimizer", "learning_rate", "fit_images",
    "val_images", "max_seconds", "seed", "precision", "resume", "name", "out_dir",
}  # fmt: skip
_DEFAULTS = TrainConfig(model=TUTORIALS[0])


def description(arch: str) -> str:
    """One line on the net `arch` (one of ARCHITECTURES)."""
    if arch == CUSTOM:
        return CUSTOM_DESCRIPTION
    from fashion.training import registry  # imports Keras: only when a page asks

    return registry.get(arch).description


def describe(config: TrainConfig) -> str:
    """The run in a sentence, its recipe's optimizer and learning rate filled in."""
    c = config.resolved()
    arch = architecture(c)
    if arch == CUSTOM:
        arch = f"{CUSTOM} ({c.hidden_units} hidden units)"
    return (
        f"{arch}, {c.epochs} epoch{'s' * (c.epochs != 1)}, {c.optimizer} at learning rate "
        f"{c.learning_rate:g}, {c.fit_images:,} training images"
    )
