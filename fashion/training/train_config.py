"""`TrainConfig`: every setting that decides a model's weights, and the CLI flags and
reproducing command derived from it. Light to import (no TensorFlow), so the command
line can build its parser without loading Keras."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from fashion.card import MODELS_DIR
from fashion.training.augment import ERASING_FILLS

PRECISIONS = ("float32", "bfloat16")


def _opt(help: str, **extra) -> dict:
    """Field metadata read by `cli_arguments`: the flag's help and any argparse extras."""
    return {"help": help, **extra}


@dataclass
class TrainConfig:
    """Everything that decides the trained weights; `None` means "the model's recipe".

    The CLI flags and the reproducing command are both derived from these fields, so a
    new hyper-parameter is one field here (and, if it has a default per model, one in
    `registry.Recipe`).
    """

    model: str = field(metadata=_opt("registered model name (python -m fashion models)"))
    epochs: int | None = field(default=None, metadata=_opt("training epochs"))
    # Drives the split, init, shuffling and augmentation.
    seed: int = field(default=0, metadata=_opt("random seed"))
    batch_size: int | None = field(default=None, metadata=_opt("images per step"))
    optimizer: str | None = field(
        default=None, metadata=_opt("optimizer", choices=["adam", "sgd", "sgd-nesterov"])
    )
    learning_rate: float | None = field(default=None, metadata=_opt("peak learning rate"))
    weight_decay: float | None = field(
        default=None, metadata=_opt("decoupled weight decay applied by the optimizer")
    )
    schedule: str | None = field(
        default=None, metadata=_opt("learning-rate schedule", choices=["constant", "cosine"])
    )
    warmup_epochs: int | None = field(default=None, metadata=_opt("linear warm-up epochs"))
    label_smoothing: float | None = field(default=None, metadata=_opt("label smoothing"))
    augment: bool | None = field(default=None, metadata=_opt("flip + shift (+ erasing)"))
    erasing: float | None = field(
        default=None, metadata=_opt("random-erasing probability per image when augmenting")
    )
    erasing_area: float | None = field(
        default=None, metadata=_opt("largest share of the image one erasing covers")
    )
    erasing_fill: str | None = field(
        default=None, metadata=_opt("what erased pixels become", choices=list(ERASING_FILLS))
    )
    precision: str | None = field(
        default=None,
        metadata=_opt(
            "training arithmetic; auto = bfloat16 where the CPU has bf16 instructions",
            choices=["auto", *PRECISIONS],
        ),
    )
    # Start from this saved model instead of fresh weights: the second stage of a
    # two-stage schedule (e.g. a short low-LR fine-tune without random erasing). The
    # card then extends the starting model's card: epochs, history and time add up.
    init_from: str | None = field(
        default=None, metadata=_opt("start from this saved .keras model (a second stage)")
    )
    # Stochastic weight averaging: keep the mean of the weights at the end of every epoch
    # of this run (meant for a stage at a constant, moderate learning rate) and save that.
    swa: bool = field(
        default=False,
        metadata=_opt("save the average of the per-epoch weights, BatchNorm re-estimated"),
    )
    # Residual nets only: each block starts as its shortcut (registry.zero_init_residual_branches).
    zero_init_residual: bool = field(
        default=False,
        metadata=_opt("start the BatchNorm closing each residual branch at scale 0"),
    )
    # Residual nets only: channels per stage instead of the registered ones, e.g.
    # "32,64,160" widens wrn-16-2's last stage, where a parameter costs the fewest
    # multiply-adds (7x7 positions).
    widths: str | None = field(
        default=None,
        metadata=_opt("channels per stage, comma-separated (residual nets; default: the model's)"),
    )
    # Flatten-128 only: the width of its one hidden layer (the Playground's own MLP).
    hidden_units: int | None = field(
        default=None, metadata=_opt("hidden units of flatten-128 (default: its 128)")
    )
    # A quick run on part of the data (the Playground): images drawn at random, with the
    # seed, from the split's fit and validation parts.
    fit_images: int | None = field(
        default=None, metadata=_opt("train on this many images of the fit split")
    )
    val_images: int | None = field(
        default=None, metadata=_opt("validate on this many images of the held-out split")
    )
    # A budget: training stops after this long (mid-epoch if need be) and keeps the model.
    max_seconds: float | None = field(
        default=None, metadata=_opt("stop training after this many seconds")
    )
    # Photo views (fashion.training.photo_views): this many fit images are also rendered
    # as photos and cut out by the app's photo path; each epoch shows an image's view
    # instead of the image with probability `photo_share`.
    photo_views: int | None = field(
        default=None, metadata=_opt("render this many fit images as photos (0: none)")
    )
    photo_share: float | None = field(
        default=None, metadata=_opt("chance an image with a photo view is shown as it")
    )
    # Outlier exposure (fashion.training.outliers): drawn non-garments added to every
    # epoch with the uniform answer as their target.
    outliers: int | None = field(
        default=None, metadata=_opt("non-garments trained towards the uniform answer (0: none)")
    )
    # 6,000 training images held out to choose and calibrate.
    val_fraction: float = field(default=0.1, metadata=_opt("share of train held out"))
    limit: int | None = field(
        default=None, metadata=_opt("use only the first N training images (smoke tests)")
    )
    # Neither changes the weights, so neither is in the reproducing command: a trial run
    # written elsewhere should record the command that reproduces it in place.
    out_dir: str = field(
        default=str(MODELS_DIR),
        metadata=_opt("where to write NAME.keras and NAME.json", in_command=False),
    )
    name: str | None = field(
        default=None,
        metadata=_opt("save as NAME.keras instead of the model's name", in_command=False),
    )
    resume: bool = field(
        default=True,
        metadata=_opt(
            "continue from the run's last epoch checkpoint if one exists", in_command=False
        ),
    )

    def resolved(self) -> TrainConfig:
        """A copy with every `None` filled from the model's recipe, and precision decided."""
        from fashion.training import registry  # imports Keras: only when a run is configured

        recipe = registry.get(self.model).recipe
        values = asdict(self)
        for f in fields(registry.Recipe):
            if f.name in values and values[f.name] is None:
                values[f.name] = getattr(recipe, f.name)
        if values["precision"] == "auto":
            values["precision"] = "bfloat16" if cpu_has_bf16() else "float32"
        return TrainConfig(**values)

    def build_overrides(self) -> dict:
        """Builder arguments that replace the registered ones for this run."""
        overrides = {} if self.hidden_units is None else {"units": self.hidden_units}
        if self.widths is None:
            return overrides
        try:
            widths = tuple(int(w) for w in self.widths.split(","))
        except ValueError:
            wanted = "integers like 32,64,160"
            raise ValueError(f"--widths wants {wanted}, not {self.widths!r}") from None
        if min(widths) < 1:  # split always gives at least one
            raise ValueError(f"--widths wants positive channel counts, not {self.widths!r}")
        return overrides | {"widths": widths}

    def command(self) -> str:
        """The exact command that reproduces this run (every setting spelled out)."""
        c = self.resolved()
        parts = ["python -m fashion train", c.model]
        for f in fields(self):
            value = getattr(c, f.name)
            if f.name == "model" or not f.metadata.get("in_command", True) or value is None:
                continue
            flag = "--" + f.name.replace("_", "-")
            if isinstance(value, bool):
                # --swa and --zero-init-residual are off by default: said only when on.
                if value or f.default is None:
                    parts.append(flag if value else "--no-" + flag[2:])
            elif f.name == "init_from":
                parts.append(f"{flag} {_relative(value)}")
            elif isinstance(value, float):
                parts.append(f"{flag} {value:g}")
            else:
                parts.append(f"{flag} {value}")
        return " ".join(parts)


def cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per `TrainConfig` field (the model name is positional)."""
    for f in fields(TrainConfig):
        kwargs = {k: v for k, v in f.metadata.items() if k != "in_command"}
        if f.name == "model":
            parser.add_argument("model", **kwargs)
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = f.type if isinstance(f.type, str) else str(f.type)
        default = None if f.default is MISSING else f.default
        if kind.startswith("bool"):
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=default, **kwargs
            )
        else:
            convert = int if kind.startswith("int") else float if kind.startswith("float") else str
            parser.add_argument(flag, type=convert, default=default, **kwargs)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})


def cpu_has_bf16() -> bool:
    """True where the CPU computes bfloat16 natively (AVX-512 BF16 or AMX), so mixed
    bfloat16 training is fast; elsewhere TF emulates it and it is slower than float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _relative(path: str) -> str:
    """A path as the reproducing command should spell it: relative to the repository."""
    p = Path(path).resolve()
    root = MODELS_DIR.parent.parent
    return str(p.relative_to(root)) if p.is_relative_to(root) else str(p)
