"""The Playground's worker process: trains one checked run through the pipeline.

    python -m fashion.training.worker CONFIG_JSON OUT_DIR NAME

It runs niced, with one TensorFlow thread, so it takes at most one core and none of the
server's threads, locks or interpreter time; it prints one JSON event per line (the
pipeline's reports, then {"event": "done"}) for fashion.training.jobs to read, and ends
itself if the server that started it goes away.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from fashion.card import ModelCard, card_path
from fashion.training import playground
from fashion.training.train_config import TrainConfig

NICENESS = 10  # the worker yields the CPU to the server answering predictions
TEST_LOGITS = "test_logits.npy"  # beside the model: the session's pages read it


def run(config: TrainConfig, out_dir: Path, name: str, report) -> ModelCard:
    """Train `config` (checked against the Playground's limits) as NAME into `out_dir`:
    NAME.keras, its TFLite twin, its card and the test set's logits."""
    from fashion.data import official
    from fashion.serving.classifier import Classifier
    from fashion.training.pipeline import train

    config = playground.check_limits(replace(config, out_dir=str(out_dir), name=name))
    card = train(config, verbose=0, report=report)
    arch = playground.architecture(config)
    card.update(
        description=playground.description(arch).replace(
            "your hidden units", str(config.hidden_units)
        )
        if arch == playground.CUSTOM
        else card.description,
        recipe_source="trained live in the Playground; kept for this session only",
        playground=playground.describe(config),
    )
    card_file = card.write(card_path(name, out_dir))
    logits = Classifier(card_file.with_suffix(".keras")).logits(official.test_set().as_float())
    np.save(out_dir / TEST_LOGITS, logits)
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
    argv = sys.argv[1:] if argv is None else argv
    config = TrainConfig(**json.loads(argv[0]))
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

    card = run(config, out_dir, name, report)
    report(
        {"event": "done", "test_accuracy": card.test_accuracy, "stopped": card.extra.get("stopped")}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
