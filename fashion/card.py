"""The model card: what a shipped model is, how it was made and how well it does.

`assets/models/NAME.json` sits next to `NAME.keras` (and its TFLite twin). Training
writes it, evaluation and calibration add to it, and the app, the CLI and the
benchmarks read it, always through `ModelCard`: the JSON keys are spelled here only.
The file stays one flat JSON object (other tools read it); keys this class does not
know are kept as they were.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"


@dataclass
class ModelCard:
    """One model's card. Figures on the test set come from `fashion.analysis.evaluate`."""

    name: str
    description: str = ""
    # The exact command (or chain of commands) that reproduces the weights.
    command: str = ""
    config: dict = field(default_factory=dict)  # TrainConfig of the last stage, as a dict
    stages: list[dict] = field(default_factory=list)
    recipe_source: str = ""
    epochs: int = 0
    train_seconds: float = 0.0
    n_train: int = 0
    n_val: int = 0
    val_accuracy: float | None = None
    history: dict[str, list[float]] = field(default_factory=dict)  # per epoch
    dataset_source: str = ""
    trained_on: dict = field(default_factory=dict)
    file_bytes: int = 0
    # From `fashion.analysis.evaluate` on the official 10k test set.
    n_params: int = 0
    test_accuracy: float | None = None
    per_class_accuracy: list[float] = field(default_factory=list)
    confusion_matrix: list[list[int]] = field(default_factory=list)  # rows = true label
    # From `python -m fashion calibrate` (chosen / fitted on the validation split).
    # Test-time views the Classifier averages (fashion.serving.engines.VIEWS): "image" alone, or
    # "image+mirror" when the mirror image's logits helped on validation.
    views: str = "image"
    val_accuracy_by_views: dict[str, float] = field(default_factory=dict)
    temperature: float = 1.0
    # Isotonic map of the top probability, [knots_x, knots_y] (fashion.trust.confidence);
    # empty when the temperature alone calibrates well enough.
    confidence_map: list[list[float]] = field(default_factory=list)
    calibration: str = ""
    ece_before: float | None = None
    ece_temperature: float | None = None  # with the temperature alone
    ece_after: float | None = None  # as the app shows them (temperature + map)
    nll_val_before: float | None = None
    nll_val_after: float | None = None
    ood_score: str = ""  # the scores combined, e.g. "feature+pixel" (fashion.trust.not_garment)
    ood_thresholds: dict[str, float] = field(default_factory=dict)  # score -> flag above
    ood_flag_rate_val: float | None = None
    ood_flag_rate_val_photos: float | None = None  # validation images as shop photos
    ood_flag_rate_val_homes: float | None = None  # ... and as photos taken at home
    ood_flagged_val_sketches: int | None = None  # of the confident, correct drawn ones
    ood_flag_rate_test: float | None = None
    ood_flag_rate_generated: float | None = None
    ood_flag_rate_by_kind: dict[str, float] = field(default_factory=dict)
    ood_generated: str = ""
    # Keys written by other tools or older versions: kept, never interpreted.
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, values: dict) -> ModelCard:
        known = {f.name for f in fields(cls)} - {"extra"}
        card = cls(**{k: v for k, v in values.items() if k in known})
        card.extra = {k: v for k, v in values.items() if k not in known}
        return card

    def to_dict(self) -> dict:
        values = asdict(self)
        return {k: v for k, v in values.items() if k != "extra"} | values["extra"]

    @classmethod
    def read(cls, path: str | os.PathLike) -> ModelCard:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def write(self, path: str | os.PathLike) -> Path:
        """Write atomically (a temporary file, then a rename): the app never reads half."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        os.replace(tmp, path)
        return path

    def update(self, **values) -> ModelCard:
        """Set some fields (unknown names go to `extra`); returns self."""
        known = {f.name for f in fields(self)} - {"extra"}
        for k, v in values.items():
            if k in known:
                setattr(self, k, v)
            else:
                self.extra[k] = v
        return self

    @property
    def calibrated(self) -> bool:
        return self.temperature != 1.0

    @property
    def confidence_knots(self) -> tuple[np.ndarray, np.ndarray] | None:
        if not self.confidence_map:
            return None
        return np.asarray(self.confidence_map[0]), np.asarray(self.confidence_map[1])

    @property
    def has_ood_check(self) -> bool:
        return bool(self.ood_thresholds)


def card_path(name: str, models_dir: str | os.PathLike = MODELS_DIR) -> Path:
    return Path(models_dir) / f"{name}.json"


def model_path(name: str, models_dir: str | os.PathLike = MODELS_DIR) -> Path:
    return Path(models_dir) / f"{name}.keras"


def shipped(models_dir: str | os.PathLike = MODELS_DIR) -> list[ModelCard]:
    """Cards of every shipped model (a card with its .keras file), best test accuracy first."""
    cards = [
        ModelCard.read(p)
        for p in sorted(Path(models_dir).glob("*.json"))
        if p.with_suffix(".keras").exists()
    ]
    return sorted(cards, key=lambda c: -(c.test_accuracy or 0))


def default_name(models_dir: str | os.PathLike = MODELS_DIR) -> str:
    """The model every page and command uses unless told otherwise: the most accurate."""
    cards = shipped(models_dir)
    if not cards:
        raise FileNotFoundError(f"no trained models in {models_dir}; run python -m fashion train")
    return cards[0].name


def read(name: str, models_dir: str | os.PathLike = MODELS_DIR) -> ModelCard:
    """The card of model `name`, or a bare one (only the name) if it has none."""
    path = card_path(name, models_dir)
    return ModelCard.read(path) if path.exists() else ModelCard(name=name)
