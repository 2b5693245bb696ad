"""The Playground's job queue: one training job at a time per server, queued, cancellable.

- one job at a time per server (`TrainingQueue`, one per process): the others wait in a
  queue of at most MAX_WAITING and can see their place in it; one job per session;
- cancellable, queued or running (the worker process is killed), and killed after
  HARD_LIMIT_SECONDS whatever it is doing;
- never in the way of predictions: each job runs in its own niced worker process
  (fashion.training.worker);
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fashion.card import ModelCard
from fashion.training import playground
from fashion.training.train_config import TrainConfig
from fashion.training.worker import TEST_LOGITS

# Start-up (~10 s to import TensorFlow on a busy box), training, the TFLite export and
# the test-set pass all fit well inside this; past it the worker is killed. The worker is
# niced, so on a machine busy with other work an operator (or a test) can allow more.
HARD_LIMIT_ENV = "FASHION_PLAYGROUND_HARD_LIMIT_S"
HARD_LIMIT_SECONDS = float(os.environ.get(HARD_LIMIT_ENV, "240"))
MAX_WAITING = 8  # queued jobs beyond the running one; more are refused ("try later")
ROOT = Path(__file__).resolve().parents[2]  # the repository


@dataclass
class SessionModel:
    """A model trained in one session: what the app needs to use it like a shipped one."""

    name: str
    card: ModelCard
    classifier: object  # fashion.serving.classifier.Classifier (imported lazily: TensorFlow)
    test_logits: np.ndarray  # (10000, 10) on the official test set, computed by the worker


class QueueFull(RuntimeError):
    """Too many jobs are waiting; the visitor should try again later."""


QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


@dataclass(eq=False)
class Job:
    """One training job; its fields are written by the queue's worker thread only."""

    id: int
    name: str  # the trained model's name, unique in this process
    config: TrainConfig
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

    def submit(self, owner: object, config: TrainConfig) -> Job:
        """Queue a job for `owner` (any object the session keeps; weakly referenced).

        An owner with an active job gets that job back instead of a second one.

        Raises:
            ValueError: the config is out of bounds.
            QueueFull: MAX_WAITING jobs are already waiting.
        """
        playground.check_limits(config)
        with self._cond:
            for job in self._active():
                if job.owner() is owner:
                    return job
            if len(self._waiting) >= self._max_waiting:
                raise QueueFull(f"{len(self._waiting)} training jobs are waiting already")
            job = Job(
                id=self._next_id,
                name=f"yours-{self._next_id}-{playground.architecture(config)}",
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
        cmd = [sys.executable, "-m", "fashion.training.worker", json.dumps(asdict(job.config)),
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
        from fashion.serving.classifier import Classifier

        clf = Classifier(out_dir / f"{job.name}.keras")
        job.result = SessionModel(
            name=job.name,
            card=clf.card,
            classifier=clf,
            test_logits=np.load(out_dir / TEST_LOGITS),
        )
        job.history = dict(clf.card.history)
        _finish(job, DONE, job.message)
    finally:
        # The model now lives in memory only: nothing of a visitor's run stays on disk.
        shutil.rmtree(out_dir, ignore_errors=True)
