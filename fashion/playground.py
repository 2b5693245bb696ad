"""Train one of the tutorial nets live, from the app: bounded, queued, cancellable.

A hosted demo has to survive visitors pressing Train, so a job here is small by
construction and the server runs one at a time:

- bounded: at most MAX_TRAIN training images, MAX_EPOCHS epochs and MAX_TRAIN_SECONDS of
  training (training stops there and keeps what it has); the worker process is killed
  after HARD_LIMIT_SECONDS whatever it is doing;
- one job at a time per server (`TrainingQueue`, one per process): the others wait in a
  queue of at most MAX_WAITING and can see their place in it; one job per session;
- cancellable, queued or running (the worker process is killed);
- never in the way of predictions: the job runs in a separate, niced process
  (`python -m fashion.playground`) with one TensorFlow thread, so it takes at most one
  core and none of the server's threads, locks or Python interpreter time;
- private: the trained model goes back to the session that asked for it (a
  `SessionModel`, which the app keeps in that session's state, so it is freed when the
  session ends); a job whose session has gone is cancelled.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from fashion.card import ModelCard

TUTORIALS = ("flatten-128", "flatten-128-64", "cnn-basic", "dense-sgd")  # fashion.models
CUSTOM = "your-mlp"  # Flatten -> Dense(hidden units, relu) -> Dense 10: the knob to turn
ARCHITECTURES = (*TUTORIALS, CUSTOM)
CUSTOM_DESCRIPTION = "Flatten -> Dense (your hidden units) relu -> Dense 10"
OPTIMIZERS = ("adam", "sgd")
LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
TRAIN_SIZES = (500, 1000, 2000, 5000, 10_000)
HIDDEN_UNITS = (16, 32, 64, 128, 256, 512)
MAX_TRAIN = TRAIN_SIZES[-1]
MAX_EPOCHS = 10
N_VAL = 1000  # validation images scored after every epoch (from the held-out split)
# Training stops here and keeps the epochs done; ~1.5 min is what a visitor will wait.
MAX_TRAIN_SECONDS = 90.0
# Start-up (~10 s to import TensorFlow on a busy box), training, the TFLite export and
# the test-set pass all fit well inside this; past it the worker is killed. The worker is
# niced, so on a machine busy with other work an operator (or a test) can allow more.
HARD_LIMIT_ENV = "FASHION_PLAYGROUND_HARD_LIMIT_S"
HARD_LIMIT_SECONDS = float(os.environ.get(HARD_LIMIT_ENV, "240"))
MAX_WAITING = 8  # queued jobs beyond the running one; more are refused ("try later")
NICENESS = 10  # the worker yields the CPU to the server answering predictions
PROGRESS_STEPS = 20  # progress reports per epoch
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PlaygroundConfig:
    """What a visitor can choose. `None` means "as the architecture's recipe says"."""

    architecture: str = "flatten-128"
    hidden_units: int = 128  # only for CUSTOM
    epochs: int = 3
    optimizer: str | None = None
    learning_rate: float | None = None
    n_train: int = 2000
    seed: int = 0

    def resolved(self) -> PlaygroundConfig:
        """Optimizer and learning rate filled in from the recipe (CUSTOM: Adam, 1e-3)."""
        optimizer, lr = "adam", 1e-3
        if self.architecture in TUTORIALS:
            from fashion import models

            recipe = models.get(self.architecture).recipe
            optimizer, lr = recipe.optimizer, recipe.learning_rate
        return replace(
            self,
            optimizer=self.optimizer or optimizer,
            learning_rate=self.learning_rate or lr,
        )

    def validate(self) -> PlaygroundConfig:
        """Self, if within the playground's bounds; raises ValueError otherwise."""
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}")
        if not 1 <= self.epochs <= MAX_EPOCHS:
            raise ValueError(f"epochs must be 1 to {MAX_EPOCHS}")
        if not 100 <= self.n_train <= MAX_TRAIN:
            raise ValueError(f"training images must be 100 to {MAX_TRAIN:,}")
        if not 1 <= self.hidden_units <= HIDDEN_UNITS[-1]:
            raise ValueError(f"hidden units must be 1 to {HIDDEN_UNITS[-1]}")
        if self.optimizer is not None and self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.learning_rate is not None and not 0 < self.learning_rate <= 1:
            raise ValueError("learning rate must be in (0, 1]")
        return self

    @property
    def batch_size(self) -> int:
        if self.architecture in TUTORIALS:
            from fashion import models

            return models.get(self.architecture).recipe.batch_size
        return 32

    def describe(self) -> str:
        c = self.resolved()
        arch = (
            f"{CUSTOM} ({c.hidden_units} hidden units)"
            if c.architecture == CUSTOM
            else c.architecture
        )
        return (
            f"{arch}, {c.epochs} epoch{'s' * (c.epochs != 1)}, {c.optimizer} at learning rate "
            f"{c.learning_rate:g}, {c.n_train:,} training images"
        )


def description(architecture: str) -> str:
    if architecture == CUSTOM:
        return CUSTOM_DESCRIPTION
    from fashion import models

    return models.get(architecture).description


# ---------------------------------------------------------------- the worker process


def build_model(config: PlaygroundConfig):
    """The (uncompiled) Keras model of `config`: a registered tutorial net or CUSTOM."""
    if config.architecture in TUTORIALS:
        from fashion import models

        return models.get(config.architecture).build()
    import keras

    from fashion.classes import INPUT_SHAPE, NUM_CLASSES

    x = inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(config.hidden_units, activation="relu")(x)
    logits = keras.layers.Dense(NUM_CLASSES, name="logits")(x)
    return keras.Model(inputs, logits, name=CUSTOM)


def training_data(config: PlaygroundConfig):
    """(x_fit, y_fit, x_val, y_val): a seeded subset of the shipped models' training split,
    and N_VAL images of their held-out validation split (never the test set)."""
    from fashion import data
    from fashion.train_config import TrainConfig

    val_fraction = TrainConfig(model=config.architecture).val_fraction
    fit_split, val_split = data.model_splits(None, val_fraction, seed=0)
    rng = np.random.default_rng(config.seed)
    fit_idx = np.sort(rng.choice(len(fit_split), config.n_train, replace=False))
    val_idx = np.sort(rng.choice(len(val_split), min(N_VAL, len(val_split)), replace=False))
    return (
        fit_split.as_float()[fit_idx],
        fit_split.labels[fit_idx].astype(np.int64),
        val_split.as_float()[val_idx],
        val_split.labels[val_idx].astype(np.int64),
    )


def fit(
    config: PlaygroundConfig,
    out_dir: Path,
    name: str,
    report: Callable[[dict], None],
    max_seconds: float = MAX_TRAIN_SECONDS,
) -> ModelCard:
    """Train `config`, reporting progress; write NAME.keras, its TFLite twin, its card and
    its test-set logits into `out_dir`. Runs inside the worker process.

    Args:
        report: called with small JSON-ready dicts: {"event": "progress", ...} during an
            epoch, {"event": "epoch", "epoch": k, "logs": {...}} after each one and
            {"event": "phase", "phase": ...} when the job moves on.
        max_seconds: training stops after this (mid-epoch if need be) and keeps the model.
    """
    import keras

    from fashion.card import card_path
    from fashion.engines import twin_model
    from fashion.evaluate import evaluation_report
    from fashion.export import export_tflite
    from fashion.inference import Classifier

    c = config.resolved().validate()
    keras.utils.set_random_seed(c.seed)
    report({"event": "phase", "phase": "loading the images"})
    x_fit, y_fit, x_val, y_val = training_data(c)
    model = build_model(c)
    optimizer = (
        keras.optimizers.Adam(c.learning_rate)
        if c.optimizer == "adam"
        else keras.optimizers.SGD(c.learning_rate)
    )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    batches = -(-len(x_fit) // c.batch_size)
    every = max(1, batches // PROGRESS_STEPS)
    t0 = time.perf_counter()
    stopped: list[str] = []

    class Reporter(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if (batch + 1) % every == 0 or batch + 1 == batches:
                report({"event": "progress", "epoch": self.epoch, "batch": batch + 1,
                        "batches": batches})  # fmt: skip
            if time.perf_counter() - t0 > max_seconds and not stopped:
                stopped.append(f"stopped at the {max_seconds:.0f} s time limit")
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"}
            report({"event": "epoch", "epoch": epoch + 1, "logs": logs})

    report({"event": "phase", "phase": "training"})
    hist = model.fit(
        x_fit,
        y_fit,
        batch_size=c.batch_size,
        epochs=c.epochs,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[Reporter()],
    )
    train_seconds = time.perf_counter() - t0
    history = {k: [float(v) for v in vs] for k, vs in hist.history.items() if k != "learning_rate"}

    report({"event": "phase", "phase": "testing on the 10,000 test images"})
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / f"{name}.keras"
    model.save(model_path)
    # The twin (logits + features) is what the Classifier serves; writing it here keeps
    # the conversion's few seconds of CPU out of the server.
    export_tflite(twin_model(model), model_path.with_suffix(".tflite"))
    card = ModelCard(
        name=name,
        description=description(c.architecture),
        command=f"Playground: {c.describe()}",
        config=asdict(c),
        recipe_source="trained live in the Playground; kept for this session only",
        epochs=len(history.get("loss", [])),
        train_seconds=round(train_seconds, 1),
        n_train=len(x_fit),
        n_val=len(x_val),
        val_accuracy=(history.get("val_accuracy") or [None])[-1],
        history=history,
        file_bytes=model_path.stat().st_size,
        n_params=int(model.count_params()),
    )
    card.write(card_path(name, out_dir))
    clf = Classifier(model_path)
    from fashion import data

    test = data.test_set()
    logits = clf.logits(test.as_float())
    np.save(out_dir / "test_logits.npy", logits)
    card.update(**evaluation_report(clf.predict_proba(test.as_float()), test.labels))
    if stopped:
        card.update(stopped=stopped[0])
    card.write(card_path(name, out_dir))
    return card


def _exit_with_parent() -> None:
    """End this worker if the server that started it goes away (nobody would read it)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(2)
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """The worker: `python -m fashion.playground CONFIG_JSON OUT_DIR NAME`.

    Prints one JSON object per line (the events `fit` reports, then {"event": "done"}).
    """
    argv = sys.argv[1:] if argv is None else argv
    config = PlaygroundConfig(**json.loads(argv[0]))
    out_dir, name = Path(argv[1]), argv[2]
    os.nice(NICENESS)
    _exit_with_parent()
    import tensorflow as tf

    # One core for training, before TensorFlow starts its thread pools.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    lock = threading.Lock()

    def report(event: dict) -> None:
        with lock:
            print(json.dumps(event), flush=True)

    card = fit(config, out_dir, name, report)
    report(
        {"event": "done", "test_accuracy": card.test_accuracy, "stopped": card.extra.get("stopped")}
    )
    return 0


# ---------------------------------------------------------------- the server side


@dataclass
class SessionModel:
    """A model trained in one session: what the app needs to use it like a shipped one."""

    name: str
    card: ModelCard
    classifier: object  # fashion.inference.Classifier (imported lazily: TensorFlow)
    test_logits: np.ndarray  # (10000, 10) on the official test set, computed by the worker


class QueueFull(RuntimeError):
    """Too many jobs are waiting; the visitor should try again later."""


QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


@dataclass(eq=False)
class Job:
    """One training job; its fields are written by the queue's worker thread only."""

    id: int
    name: str  # the trained model's name, unique in this process
    config: PlaygroundConfig
    owner: weakref.ref  # the session's token: when it is gone, so is the job
    state: str = QUEUED
    phase: str = "waiting for its turn"
    history: dict[str, list[float]] = field(default_factory=dict)
    progress: float = 0.0  # share of the epochs done, 0..1
    message: str = ""  # why it failed or stopped early
    result: SessionModel | None = None
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    cancel_requested: threading.Event = field(default_factory=threading.Event)

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    @property
    def elapsed(self) -> float:
        """Seconds since the job started (0 while queued)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    def curves(self) -> dict[str, list[float]]:
        """A copy of the per-epoch history, safe to read while the job runs."""
        return {k: list(v) for k, v in list(self.history.items())}

    def owner_gone(self) -> bool:
        return self.owner() is None


class TrainingQueue:
    """One training job at a time, the rest first come, first served.

    Args:
        runner: runs one job to the end (sets its state, history and result); the
            default starts the worker process.
        max_waiting: queued jobs beyond the running one.
    """

    def __init__(
        self, runner: Callable[[Job], None] | None = None, max_waiting: int = MAX_WAITING
    ) -> None:
        self._runner = runner or run_in_subprocess
        self._max_waiting = max_waiting
        self._cond = threading.Condition()
        self._waiting: list[Job] = []
        self._running: Job | None = None
        self._next_id = 1
        self._thread: threading.Thread | None = None

    def submit(self, owner: object, config: PlaygroundConfig) -> Job:
        """Queue a job for `owner` (any object the session keeps; weakly referenced).

        An owner with an active job gets that job back instead of a second one.

        Raises:
            ValueError: the config is out of bounds.
            QueueFull: MAX_WAITING jobs are already waiting.
        """
        config.validate()
        with self._cond:
            for job in self._active():
                if job.owner() is owner:
                    return job
            if len(self._waiting) >= self._max_waiting:
                raise QueueFull(f"{len(self._waiting)} training jobs are waiting already")
            job = Job(
                id=self._next_id,
                name=f"yours-{self._next_id}-{config.architecture}",
                config=config,
                owner=weakref.ref(owner),
            )
            self._next_id += 1
            self._waiting.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="playground-queue", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()
            return job

    def _active(self) -> list[Job]:
        return ([self._running] if self._running else []) + self._waiting

    def position(self, job: Job) -> int:
        """0 while running, k >= 1 for the k-th job waiting, -1 once it is over."""
        with self._cond:
            if job is self._running:
                return 0
            return self._waiting.index(job) + 1 if job in self._waiting else -1

    def cancel(self, job: Job) -> None:
        """Cancel a queued job at once, a running one as soon as its worker is killed."""
        with self._cond:
            job.cancel_requested.set()
            if job in self._waiting:
                self._waiting.remove(job)
                _finish(job, CANCELLED, "cancelled before it started")
            self._cond.notify_all()

    def status(self) -> tuple[Job | None, int]:
        """(the running job, how many are waiting)."""
        with self._cond:
            return self._running, len(self._waiting)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._waiting:
                    self._cond.wait()
                job = self._waiting.pop(0)
                if job.owner_gone():
                    _finish(job, CANCELLED, "its session ended before it started")
                    continue
                self._running = job
                job.state, job.started, job.phase = RUNNING, time.monotonic(), "starting"
            try:
                self._runner(job)
            except Exception as exc:  # noqa: BLE001 - one bad job must not stop the queue
                _finish(job, FAILED, f"{type(exc).__name__}: {exc}")
            finally:
                if job.active:  # a runner that forgot to say how it ended
                    _finish(job, FAILED, "the worker ended without a result")
                with self._cond:
                    self._running = None


def _finish(job: Job, state: str, message: str = "") -> None:
    job.state, job.message, job.finished = state, message, time.monotonic()
    if state == DONE:
        job.progress = 1.0


_QUEUE: TrainingQueue | None = None
_QUEUE_LOCK = threading.Lock()


def training_queue() -> TrainingQueue:
    """The one queue of this server process."""
    global _QUEUE
    with _QUEUE_LOCK:
        if _QUEUE is None:
            _QUEUE = TrainingQueue()
        return _QUEUE


def _apply(job: Job, event: dict) -> None:
    """Fold one event of the worker into the job (called by the reader thread only)."""
    kind = event.get("event")
    epochs = job.config.epochs
    if kind == "phase":
        job.phase = str(event.get("phase", ""))
    elif kind == "progress":
        done = event["epoch"] + event["batch"] / max(1, event["batches"])
        job.progress = min(1.0, done / epochs)
        job.phase = f"training: epoch {event['epoch'] + 1} of {epochs}"
    elif kind == "epoch":
        for k, v in event.get("logs", {}).items():
            job.history.setdefault(k, []).append(float(v))
        job.progress = min(1.0, event["epoch"] / epochs)
    elif kind == "done" and event.get("stopped"):
        job.message = str(event["stopped"])


def run_in_subprocess(job: Job, hard_limit: float | None = None) -> None:
    """Run `job` in a worker process; kill it when cancelled, orphaned or over time.

    Args:
        hard_limit: seconds from the job's start after which the worker is killed
            (default: HARD_LIMIT_SECONDS, read now so a test can change it).
    """
    hard_limit = HARD_LIMIT_SECONDS if hard_limit is None else hard_limit
    out_dir = Path(tempfile.mkdtemp(prefix="fashion-playground-"))
    try:
        env = os.environ | {
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TF_NUM_INTRAOP_THREADS": "1",
            "TF_NUM_INTEROP_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        cmd = [sys.executable, "-m", "fashion.playground", json.dumps(asdict(job.config)),
               str(out_dir), job.name]  # fmt: skip
        with (out_dir / "stderr.txt").open("wb") as err:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True
            )
            finished = threading.Event()

            def read() -> None:
                for line in proc.stdout:
                    if line.startswith("{"):
                        try:
                            event = json.loads(line)
                        except json.JSONDecodeError:
                            continue
                        _apply(job, event)
                        if event.get("event") == "done":
                            finished.set()

            reader = threading.Thread(target=read, name=f"playground-{job.id}", daemon=True)
            reader.start()
            ended: tuple[str, str] | None = None  # (state, why) when we stop it
            while proc.poll() is None:
                if job.cancel_requested.is_set():
                    ended = (CANCELLED, "cancelled")
                elif job.owner_gone():
                    ended = (CANCELLED, "its session ended")
                elif job.elapsed > hard_limit:
                    ended = (FAILED, f"took longer than {hard_limit:.0f} s and was stopped")
                if ended:
                    proc.kill()  # the process this function started, and only it
                    break
                time.sleep(0.2)
            proc.wait()
            reader.join(timeout=10)
        if ended:
            _finish(job, *ended)
            return
        if proc.returncode != 0 or not finished.is_set():
            tail = (out_dir / "stderr.txt").read_text(errors="replace").strip().splitlines()
            _finish(job, FAILED, tail[-1] if tail else f"worker exited with {proc.returncode}")
            return
        job.phase = "loading the trained model"
        from fashion.inference import Classifier

        clf = Classifier(out_dir / f"{job.name}.keras")
        job.result = SessionModel(
            name=job.name,
            card=clf.card,
            classifier=clf,
            test_logits=np.load(out_dir / "test_logits.npy"),
        )
        job.history = dict(clf.card.history)
        _finish(job, DONE, job.message)
    finally:
        # The model now lives in memory only: nothing of a visitor's run stays on disk.
        shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
