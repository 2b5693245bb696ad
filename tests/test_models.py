"""The registry and the shipped models: every card is re-checked against a fresh
evaluation of the committed model on the real 10k test set."""

from __future__ import annotations

import json
import shlex
from dataclasses import fields

import numpy as np
import pytest

from fashion.__main__ import build_parser
from fashion.analysis.evaluate import evaluate_classifier
from fashion.card import MODELS_DIR, card_path, shipped
from fashion.serving.classifier import Classifier
from fashion.training import registry

CARD_FIELDS = {
    "name",
    "test_accuracy",
    "per_class_accuracy",
    "confusion_matrix",
    "n_params",
    "epochs",
    "train_seconds",
    "history",
    "command",
}
SHIPPED = [c.name for c in shipped()]


@pytest.mark.parametrize("name", list(registry.MODELS))
def test_registered_builder_maps_images_to_logits(name):
    model = registry.get(name).build()
    out = model(np.zeros((2, 28, 28, 1), np.float32))
    assert tuple(out.shape) == (2, 10)


def test_unknown_model_lists_the_registry():
    with pytest.raises(KeyError, match="flatten-128"):
        registry.get("resnet-9000")


@pytest.mark.parametrize("name", SHIPPED)
def test_card_commands_spell_out_every_setting(name):
    # A command that leaves a setting to the recipe would train something else as soon as
    # the recipe changes; every stage must reproduce on its own.
    card = next(c for c in shipped() if c.name == name)
    stages = card.command.split(" && ")
    assert len(stages) == max(1, len(card.stages))
    parser = build_parser()
    for stage in stages:
        argv = shlex.split(stage)[3:]  # drop "python -m fashion"
        assert argv[:2] == ["train", name]
        args = parser.parse_args(argv)
        for f in fields(registry.Recipe):
            if f.name == "source" or (f.name.startswith("erasing") and not args.augment):
                continue
            assert getattr(args, f.name) is not None, f"{name}: {stage!r} omits --{f.name}"


@pytest.mark.parametrize("name", SHIPPED)
def test_card_totals_are_the_sum_of_its_stages(name):
    # The models table shows the totals and the card's command reproduces the stages: a
    # total corrected by hand without its stage would make the two disagree.
    card = next(c for c in shipped() if c.name == name)
    if not card.stages:
        return
    assert card.epochs == sum(s["epochs"] for s in card.stages)
    stage_seconds = sum(s["train_seconds"] for s in card.stages)
    assert card.train_seconds == pytest.approx(stage_seconds, abs=0.2)


def test_every_registered_model_is_shipped():
    assert set(registry.MODELS) <= set(SHIPPED)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_card_matches_a_fresh_evaluation(name):
    card = next(c for c in shipped() if c.name == name)
    assert CARD_FIELDS <= set(json.loads(card_path(name).read_text()))
    assert card.command.startswith(f"python -m fashion train {name} ")
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(card.history)
    assert all(len(v) == card.epochs for v in card.history.values())
    assert card.train_seconds > 0
    assert (MODELS_DIR / f"{name}.keras").stat().st_size < 16 * 2**20

    fresh = evaluate_classifier(Classifier.load(name))
    assert round(fresh["test_accuracy"], 4) == round(card.test_accuracy, 4)
    assert fresh["confusion_matrix"] == card.confusion_matrix
    assert np.sum(fresh["confusion_matrix"]) == 10000
    assert fresh["n_params"] == card.n_params
    assert fresh["test_accuracy"] >= registry.get(name).floor


def test_default_model_is_the_best_shipped():
    cards = shipped()
    assert Classifier.load().name == cards[0].name
    assert cards[0].test_accuracy == max(c.test_accuracy for c in cards)


def test_zero_init_residual_makes_every_block_its_shortcut():
    model = registry.get("wrn-16-2").build()
    assert registry.zero_init_residual_branches(model) == 6  # 3 stages x 2 blocks
    # With every branch closed, perturbing a branch's inner conv cannot move the output:
    # only the stem and the shortcuts carry the image through.
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    before = np.asarray(model(x))
    inner = model.get_layer("s1b1a_conv")
    inner.kernel.assign(inner.kernel * 3.0 + 0.1)
    np.testing.assert_allclose(np.asarray(model(x)), before, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="no residual branches"):
        registry.zero_init_residual_branches(registry.get("fashion-cnn").build())


def test_zero_init_residual_is_said_only_when_on():
    from fashion.training.train_config import TrainConfig

    assert "--zero-init-residual" in TrainConfig("wrn-16-2", zero_init_residual=True).command()
    assert "zero-init" not in TrainConfig("wrn-16-2").command()


def test_widths_override_changes_only_this_run():
    from fashion.training.train_config import TrainConfig

    wide = TrainConfig("wrn-16-2", widths="32,64,160")
    assert wide.build_overrides() == {"widths": (32, 64, 160)}
    assert "--widths 32,64,160" in wide.command()
    assert "--widths" not in TrainConfig("wrn-16-2").command()
    entry = registry.get("wrn-16-2")
    model = entry.build(**wide.build_overrides())
    # The last stage at 160 channels: 3x3 convs 64->160 and 160->160 (x3), a 1x1 shortcut
    # 64->160, five BatchNorms of 4 x 160, and the classifier 160 -> 10, on top of the
    # registered net's first two stages.
    assert model.get_layer("s2b1b_conv").kernel.shape == (3, 3, 160, 160)
    assert model.count_params() == 968_554
    assert entry.build().count_params() == 698_282  # the registered net is untouched
    with pytest.raises(ValueError, match="does not take widths"):
        registry.get("flatten-128").build(**wide.build_overrides())
    for bad in ("32,64,x", "32,0,64", ""):
        with pytest.raises(ValueError, match="--widths"):
            TrainConfig("wrn-16-2", widths=bad).build_overrides()
