"""A short real training run writes a model and a card that load and predict."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fashion.serving.classifier import Classifier


def test_short_training_run_writes_a_usable_model(tmp_path, test_split):
    cmd = [
        sys.executable,
        "-m",
        "fashion",
        "train",
        "cnn-basic",
        "--epochs",
        "1",
        "--limit",
        "400",
        "--seed",
        "7",
        "--out-dir",
        str(tmp_path),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    card = json.loads((tmp_path / "cnn-basic.json").read_text())
    # The split is stratified per class, so 10 % of 400 rounds per class, not overall.
    assert card["epochs"] == 1 and card["n_train"] + card["n_val"] == 400
    assert 35 <= card["n_val"] <= 45
    assert "--limit 400" in card["command"] and "--seed 7" in card["command"]
    # Where the files went does not change the weights, so it is not in the command.
    assert "--out-dir" not in card["command"]
    assert len(card["history"]["val_accuracy"]) == 1
    assert sum(map(sum, card["confusion_matrix"])) == 10000

    clf = Classifier(tmp_path / "cnn-basic.keras")
    # Served from the TFLite twin written next to the model, which matches the Keras model.
    assert (tmp_path / "cnn-basic.tflite").is_file() and clf.engine == "tflite"
    np.testing.assert_allclose(
        clf.logits(test_split.as_float()[:50]),
        clf.model.predict(test_split.as_float()[:50], verbose=0),
        atol=1e-4,
    )
    probs = clf.predict_proba(test_split.as_float()[:50])
    assert probs.shape == (50, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    # Even one epoch on 360 images beats chance by a wide margin.
    accuracy = (probs.argmax(1) == test_split.labels[:50]).mean()
    assert accuracy > 0.3


def test_a_run_with_other_widths_saves_that_net_and_says_so(tmp_path):
    from fashion.training.pipeline import train
    from fashion.training.train_config import TrainConfig

    card = train(
        TrainConfig(model="wrn-16-2", epochs=1, limit=300, widths="16,32,48", out_dir=str(tmp_path))
    )
    assert "--widths 16,32,48" in card.command and "16,32,48" in card.description
    clf = Classifier(tmp_path / "wrn-16-2.keras")
    # The file holds the narrow net, not the registered one: it loads without the flag.
    assert clf.model.get_layer("s2b1b_conv").kernel.shape == (3, 3, 48, 48)
    assert clf.engine == "tflite"


def test_second_stage_continues_from_a_saved_model_and_extends_its_card(tmp_path):
    """`--init-from` starts from saved weights; the card adds the stages up."""
    base = [sys.executable, "-m", "fashion", "train", "flatten-128", "--limit", "400"]
    base += ["--out-dir", str(tmp_path)]
    first = subprocess.run(base + ["--epochs", "1"], capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    stage1 = json.loads((tmp_path / "flatten-128.json").read_text())
    weights1 = Classifier(tmp_path / "flatten-128.keras").model.get_weights()

    model_path = str(tmp_path / "flatten-128.keras")
    second_cmd = base + ["--epochs", "2", "--init-from", model_path, "--augment", "--erasing", "0"]
    second = subprocess.run(second_cmd, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    card = json.loads((tmp_path / "flatten-128.json").read_text())

    assert card["epochs"] == 3
    assert len(card["history"]["loss"]) == 3
    assert card["history"]["loss"][:1] == stage1["history"]["loss"]
    assert [s["epochs"] for s in card["stages"]] == [1, 2]
    assert card["command"].startswith(stage1["command"] + " && ")
    assert "--init-from" in card["command"] and "--erasing 0" in card["command"]
    assert card["train_seconds"] >= stage1["train_seconds"]
    # It really continued from the saved weights rather than starting over: the
    # first-stage loss carries on downwards instead of restarting near ln(10).
    assert card["history"]["loss"][1] < stage1["history"]["loss"][0]
    weights2 = Classifier(tmp_path / "flatten-128.keras").model.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(weights1, weights2))


def test_weight_average_is_the_mean_and_batchnorm_statistics_follow_it():
    """`--swa`'s two steps, on a tiny model where both can be computed by hand."""
    import keras

    from fashion.training.pipeline import _WeightAverage

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.BatchNormalization()(keras.layers.Dense(2)(inputs)))
    dense = model.layers[1]
    kernels = [np.full((3, 2), v, np.float32) for v in (1.0, 2.0, 6.0)]
    average = _WeightAverage()
    for k in kernels:
        dense.kernel.assign(k)
        average.add(model)
    assert average.count == 3

    x = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    average.apply(model, x, batch_size=25)
    np.testing.assert_allclose(dense.kernel.numpy(), np.full((3, 2), 3.0))
    # The recomputed moving mean is the mean of the four batch means of Dense's output,
    # and training momentum is restored afterwards.
    h = x @ dense.kernel.numpy() + dense.bias.numpy()
    batch_means = h.reshape(4, 25, 2).mean(axis=1)
    norm = model.layers[2]
    np.testing.assert_allclose(norm.moving_mean.numpy(), batch_means.mean(axis=0), rtol=1e-5)
    assert norm.momentum == 0.99


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """Cut a run after its first epoch, start the same command again: it goes on from the
    checkpoint (weights, BatchNorm statistics, optimizer state, schedule position) and
    ends where an unbroken run ends."""
    from fashion.training.pipeline import _EpochLog, train
    from fashion.training.train_config import TrainConfig

    def config(out: str) -> TrainConfig:
        # A net with batch norm and momentum: every kind of state has to come back. Narrow
        # widths keep the two runs and their 10k-image evaluations short.
        return TrainConfig(model="wrn-16-2", epochs=2, limit=600, widths="8,16,32", out_dir=out)

    unbroken = train(config(str(tmp_path / "a")))
    want = Classifier(tmp_path / "a" / "wrn-16-2.keras").model.get_weights()

    class Interrupted(Exception):
        pass

    original = _EpochLog.on_epoch_begin

    def cut(self, epoch, logs=None):
        if epoch == 1:
            raise Interrupted
        original(self, epoch, logs)

    monkeypatch.setattr(_EpochLog, "on_epoch_begin", cut)
    with pytest.raises(Interrupted):
        train(config(str(tmp_path / "b")))
    assert (tmp_path / "b" / "wrn-16-2.ckpt.npz").is_file()
    monkeypatch.setattr(_EpochLog, "on_epoch_begin", original)

    resumed = train(config(str(tmp_path / "b")))
    got = Classifier(tmp_path / "b" / "wrn-16-2.keras").model.get_weights()
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert resumed.history["loss"] == pytest.approx(unbroken.history["loss"], rel=1e-5)
    assert resumed.command == unbroken.command
    # Finished: the checkpoint is gone, so the next run of that command starts afresh.
    assert not (tmp_path / "b" / "wrn-16-2.ckpt.npz").exists()
