"""Issue 5: many sessions at once and many predictions in a row, through the app's code path.

The functions are those of benchmarks/concurrency_memory.py (the full-size run): the
Classify page's preprocessing, then `Classifier.predict` on the shared Classifier.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.concurrency_memory import (
    MAX_GROWTH_MB,
    MAX_TAIL_GROWTH_MB,
    app_inputs,
    classify,
    concurrency_check,
    memory_check,
    same,
)
from fashion.card import default_name


@pytest.fixture(scope="module")
def name() -> str:
    return default_name()  # the model the app opens with


def test_inputs_cover_every_way_into_the_app():
    kinds = [item.kind for item in app_inputs(9)]
    assert sorted(set(kinds)) == ["photo", "sample", "sketch"]


def test_comparison_notices_a_different_result(name):
    item = app_inputs(1)[0]
    a = classify(name, item)
    assert same(a, classify(name, item))
    nudged = dataclasses.replace(a, probs=a.probs + np.eye(10)[0] * 1e-12)
    assert not same(a, nudged)


def test_20_sessions_x_20_predictions_are_error_free_and_exact(name):
    report = concurrency_check(name, n_threads=20, per_thread=20)
    assert report["predictions"] == 400
    assert report["errors"] == 0, report["error_examples"]
    assert report["mismatches"] == 0


def test_300_predictions_do_not_grow_memory(name):
    report = memory_check(name, n=300)
    assert report["growth_mb"] < MAX_GROWTH_MB, report
    assert report["tail_growth_mb"] < MAX_TAIL_GROWTH_MB, report
