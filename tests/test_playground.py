"""The Playground: the training queue with real worker processes (tiny runs: a few hundred
images, one epoch), and the page under AppTest with several sessions at once."""

from __future__ import annotations

import dataclasses
import gc
import json
import time
from pathlib import Path

import pytest

from fashion.classes import CLASS_NAMES
from fashion.training import jobs
from fashion.training import playground as pg
from fashion.training.train_config import TrainConfig
from fashion.ui import pages

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
# Generous: the first run loads TensorFlow and the default model, niced below whatever
# else the machine runs.
TIMEOUT = 400
TINY = pg.playground_config("flatten-128", epochs=1, n_train=500)
# Long enough to still be running while a test looks (it is cancelled, never finished).
LONG = pg.playground_config("cnn-basic", epochs=10, n_train=10_000)


class Owner:
    """Stands for a session, as the page's token does."""


@pytest.fixture
def patient(monkeypatch):
    """A hard limit for a machine that is busy with other work (a training run, other
    tests): the worker is niced, so its wall time depends on everything else. The limit
    itself is tested with a tiny value in `test_the_hard_time_limit_kills_the_worker`."""
    monkeypatch.setattr(jobs, "HARD_LIMIT_SECONDS", 1200.0)


def wait_until(condition, timeout: float = 1260.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_configs_out_of_bounds_are_refused():
    pg.check_limits(pg.playground_config())
    for bad in (
        {"epochs": pg.MAX_EPOCHS + 1},
        {"epochs": 0},
        {"n_train": pg.MAX_TRAIN + 1},
        {"architecture": "wrn-16-2"},  # registered, but not a tutorial net
        {"optimizer": "rmsprop"},
        {"learning_rate": 5.0},
        {"architecture": pg.CUSTOM, "hidden_units": 100_000},
    ):
        with pytest.raises(ValueError):
            pg.check_limits(pg.playground_config(**bad))
    with pytest.raises(ValueError):
        jobs.TrainingQueue().submit(Owner(), pg.playground_config(epochs=99))


def test_the_limits_are_a_check_of_the_pipelines_own_config():
    """A Playground run is a TrainConfig: more time, more validation images or any
    setting the Playground does not offer (augmentation, a resumed run) is refused."""
    ok = pg.playground_config("cnn-basic", epochs=2, n_train=500)
    assert isinstance(ok, TrainConfig) and pg.check_limits(ok) is ok
    for change in (
        {"max_seconds": pg.MAX_TRAIN_SECONDS + 1},
        {"max_seconds": None},
        {"val_images": pg.N_VAL + 1},
        {"augment": True},
        {"init_from": "assets/models/cnn-basic.keras"},
    ):
        with pytest.raises(ValueError):
            pg.check_limits(dataclasses.replace(ok, **change))
    custom = pg.playground_config(pg.CUSTOM, hidden_units=64)
    assert (custom.model, custom.hidden_units, pg.architecture(custom)) == (
        "flatten-128",
        64,
        pg.CUSTOM,
    )
    assert "your-mlp (64 hidden units)" in pg.describe(custom)


def test_recipe_defaults_fill_the_optimizer_and_learning_rate():
    from fashion.training import registry

    for name in pg.TUTORIALS:
        c = pg.playground_config(name).resolved()
        recipe = registry.get(name).recipe
        assert (c.optimizer, c.learning_rate) == (recipe.optimizer, recipe.learning_rate)
        assert c.optimizer in pg.OPTIMIZERS and c.learning_rate in pg.LEARNING_RATES
    assert pg.playground_config(pg.CUSTOM, optimizer="sgd").resolved().optimizer == "sgd"


def test_two_sessions_get_one_job_and_one_queue_position(patient, test_split):
    """A runs, B waits at position 1, A pressing again gets its own job back, C's session
    ends while it waits (so its job never starts); A's model comes back and classifies."""
    queue = jobs.TrainingQueue()
    a, b, c = Owner(), Owner(), Owner()
    job_a = queue.submit(a, TINY)
    job_b = queue.submit(b, TINY)
    job_c = queue.submit(c, TINY)
    assert queue.submit(a, TINY) is job_a  # one job per session
    wait_until(lambda: job_a.state == jobs.RUNNING, 10, "the first job to start")
    assert (queue.position(job_a), queue.position(job_b), queue.position(job_c)) == (0, 1, 2)
    assert job_b.state == job_c.state == jobs.QUEUED
    del c
    gc.collect()
    queue.cancel(job_b)
    assert job_b.state == jobs.CANCELLED and job_b.started is None
    assert queue.position(job_b) == -1
    wait_until(lambda: not job_a.active and not job_c.active, what="the jobs to end")
    assert job_a.state == jobs.DONE, job_a.message
    assert job_c.state == jobs.CANCELLED and job_c.started is None, job_c.message
    assert "session ended" in job_c.message
    # One epoch, its curves, and a model that is the Classifier a shipped one is.
    assert len(job_a.history["loss"]) == 1 and len(job_a.history["val_accuracy"]) == 1
    model = job_a.result
    assert model.name == job_a.name and model.card.n_train == TINY.fit_images
    assert model.test_logits.shape == (len(test_split), 10)
    pred = model.test_logits.argmax(1)
    assert model.card.test_accuracy == pytest.approx((pred == test_split.labels).mean(), abs=1e-6)
    assert model.card.test_accuracy > 0.5  # 500 images, one epoch: well above chance
    answer = model.classifier.predict(test_split.images[0] / 255.0)
    assert answer.class_name in CLASS_NAMES and answer.probs.sum() == pytest.approx(1.0)
    assert queue.status() == (None, 0)


def test_predictions_keep_answering_while_a_job_runs_and_cancel_kills_it(
    patient, classifier, test_split
):
    queue = jobs.TrainingQueue()
    owner = Owner()
    job = queue.submit(owner, LONG)
    wait_until(lambda: job.phase.startswith("training"), what="training to start")
    images = test_split.as_float()[:50]
    answers = [classifier.predict(x) for x in images]  # a third session, meanwhile
    assert job.state == jobs.RUNNING, "the job ended before the predictions: test inconclusive"
    expected = classifier.predict_proba(images).argmax(1)
    assert [a.label for a in answers] == expected.tolist()
    queue.cancel(job)
    wait_until(lambda: not job.active, 30, "the cancelled job to stop")
    assert job.state == jobs.CANCELLED and job.result is None
    assert queue.status() == (None, 0)


def test_the_hard_time_limit_kills_the_worker():
    queue = jobs.TrainingQueue(runner=lambda job: jobs.run_in_subprocess(job, hard_limit=2.0))
    owner = Owner()
    job = queue.submit(owner, TINY)
    wait_until(lambda: not job.active, 60, "the worker to be stopped")
    assert job.state == jobs.FAILED and "longer than 2 s" in job.message
    assert job.result is None


# ------------------------------------------------------------------ the page (AppTest)


def _clean(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _playground(at: AppTest, epochs: int = 1, n_train: int = 500) -> AppTest:
    at.switch_page(pages.path("playground")).run()
    at.select_slider(key="pg_n").set_value(n_train).run()
    at.slider(key="pg_epochs").set_value(epochs).run()
    return at


def test_playground_page_two_sessions_a_queue_and_a_model_to_classify_with(
    patient, monkeypatch, test_split
):
    first = _playground(AppTest.from_file(APP, default_timeout=TIMEOUT).run())
    second = _playground(AppTest.from_file(APP, default_timeout=TIMEOUT).run())
    third = AppTest.from_file(APP, default_timeout=TIMEOUT).run()  # classifies meanwhile
    first.button(key="pg_train").click().run()
    second.button(key="pg_train").click().run()
    _clean(first)
    _clean(second)
    job = first.session_state["playground_job"]
    assert job.active
    waiting = " ".join(i.value for i in second.info)
    assert "number 1 in the queue" in waiting, waiting
    third.run()  # the Classify page predicts again (its opening example)
    _clean(third)
    assert any("%)" in h.value for h in third.subheader), "no prediction in the third session"
    assert job.active, "the job ended before the third session's prediction"
    second.button(key="pg_cancel").click().run()
    assert "cancelled" in " ".join(i.value for i in second.info)
    # The job ends by itself: done, or killed by the worker's hard time limit.
    deadline = time.monotonic() + jobs.HARD_LIMIT_SECONDS + 60  # the patient limit
    while job.active and time.monotonic() < deadline:
        time.sleep(1)
        first.run()
    first.run()
    _clean(first)
    assert job.state == jobs.DONE, job.message
    assert any("is trained" in s.value for s in first.success)
    curves = [json.loads(c.proto.spec) for c in first.get("plotly_chart")]
    assert any(t.get("name") == f"{job.name} (validation)" for c in curves for t in c["data"])
    assert any(job.name in o for o in first.sidebar.selectbox[0].options)
    # "Classify with it": the Classify page answers with this model. The page's inputs
    # are another page's business, so the check is on the model: its answers are shown.
    answers = []
    clf = job.result.classifier
    real_predict = clf.predict

    def recording_predict(image):
        answers.append(real_predict(image))
        return answers[-1]

    monkeypatch.setattr(clf, "predict", recording_predict)
    first.button(key="pg_use").click().run()
    _clean(first)
    assert first.session_state["model_name"] == job.name
    assert [t.value for t in first.title] == ["What's this garment?"]
    first.switch_page(pages.path("classify")).run()  # AppTest's own page from now on
    _clean(first)
    assert answers, "the Classify page did not ask the trained model"
    shown = f"{answers[-1].class_name} ({answers[-1].confidence:.1%})"
    headlines = [s.value for s in first.subheader]
    assert any(shown in h for h in headlines), (shown, headlines)
    # Beside the shipped models on the Models page; private to its session.
    first.switch_page(pages.path("models")).run()
    _clean(first)
    assert job.name in list(first.dataframe[0].value["model"])
    third.run()
    assert not any(job.name in o for o in third.sidebar.selectbox[0].options)
