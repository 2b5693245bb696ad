"""A reduced `bench` run: every promised figure is present and sane. No speed thresholds here.

Timings are noisy (and this machine may be training), so the speed goals are judged in
the benchmark's own output (benchmarks/RESULTS.md), not by a timed test.
"""

from __future__ import annotations

import json

import pytest

from fashion.__main__ import main
from fashion.serving import bench

PATHS = ("model_predict", "direct_call", "tf_function", "fast_path")


@pytest.fixture(scope="module")
def result(shipped_cards) -> dict:
    # The smallest shipped model keeps this quick; the figures' shape does not depend on it.
    name = min(shipped_cards, key=lambda c: c.n_params).name
    return bench.run(name, repeats=5, predict_repeats=3, batch_repeats=1)


def test_result_is_one_json_object_with_every_figure(result):
    decoded = json.loads(json.dumps(result))
    for key in ("model", "date", "machine", "import_tensorflow_s", "model_load_s"):
        assert key in decoded
    assert set(decoded["latency_ms"]) == set(PATHS)
    assert {"model_predict", "tf_function", "fast_path"} <= set(decoded["throughput"])
    assert decoded["engine"] == "tflite"
    assert decoded["machine"]["cores"] >= 1 and decoded["machine"]["cpu_model"]


def test_timings_are_positive_and_ordered(result):
    assert result["import_tensorflow_s"] > 0 and result["model_load_s"] > 0
    for path in PATHS:
        lat = result["latency_ms"][path]
        assert 0 < lat["p50"] <= lat["p95"]
    for path in ("model_predict", "tf_function", "fast_path"):
        thr = result["throughput"][path]
        # images/s and seconds describe the same 10k pass (rounding aside).
        assert thr["images_per_s"] * thr["seconds"] == pytest.approx(10_000, rel=1e-2)


def test_ratios_and_goals_follow_from_the_timings(result):
    lat, ratios = result["latency_ms"], result["ratios"]
    expected = lat["model_predict"]["p50"] / lat["fast_path"]["p50"]
    assert ratios["fast_path_vs_model_predict_p50"] == pytest.approx(expected, rel=1e-2)
    assert result["goals"]["fast_path_50x_model_predict"] == (
        ratios["fast_path_vs_model_predict_p50"] >= bench.SPEEDUP_GOAL
    )
    assert result["goals"]["eval_10k_within_2s"] == (
        result["throughput"]["fast_path"]["seconds"] <= bench.EVAL_10K_GOAL_S
    )


def test_the_timed_evaluation_is_a_real_one(result, shipped_cards):
    # The 10k pass that is timed also predicts: its accuracy is the card's.
    card = next(c for c in shipped_cards if c.name == result["model"])
    assert result["test_accuracy"] == pytest.approx(card.test_accuracy, abs=1e-4)


def test_markdown_names_the_model_and_every_path(result):
    md = bench.to_markdown(result)
    assert result["model"] in md and "model.predict" in md and "fast path" in md
    assert md.count("\n|") >= 5  # header, rule and one row per path


def test_cli_prints_exactly_one_json_object(result, monkeypatch, capsys):
    seen = {}

    def fake_run(name, **kwargs):
        seen.update(kwargs, name=name)
        return result

    monkeypatch.setattr(bench, "run", fake_run)
    assert main(["bench", "--json", "--model", result["model"]]) == 0
    out = capsys.readouterr().out.strip()
    assert json.loads(out) == json.loads(json.dumps(result))
    assert len(out.splitlines()) == 1
    assert seen["name"] == result["model"]
