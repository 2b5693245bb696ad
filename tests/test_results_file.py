"""benchmarks/_results.py: each benchmark rewrites its own section of RESULTS.md, only."""

from __future__ import annotations

import importlib
import threading

import pytest

from benchmarks._results import publish, replace_section, write_section

TEMPLATE = """# Results

<!-- section:speed -->
old speed
<!-- /section:speed -->

<!-- section:fuzz -->
old fuzz
<!-- /section:fuzz -->
"""


@pytest.fixture
def results(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(TEMPLATE)
    return path


def test_replacing_a_section_leaves_the_others_alone():
    new = replace_section(TEMPLATE, "speed", "\n\nnew speed\n\n")
    assert "new speed" in new and "old speed" not in new
    assert "old fuzz" in new and new.startswith("# Results")
    assert "<!-- section:speed -->\nnew speed\n<!-- /section:speed -->" in new


def test_a_missing_section_is_an_error_not_a_new_one():
    with pytest.raises(KeyError, match="trust"):
        replace_section(TEMPLATE, "trust", "x")


def test_publish_prints_and_writes_only_when_asked(results, capsys):
    publish("fuzz", "0 failures", write=False, path=results)
    assert capsys.readouterr().out == "0 failures\n"
    assert results.read_text() == TEMPLATE
    publish("fuzz", "0 failures", write=True, path=results)
    assert "0 failures" in results.read_text() and "old speed" in results.read_text()


def test_writers_finishing_together_keep_each_others_sections(results):
    def writer(name: str) -> None:
        for k in range(20):
            write_section(name, f"{name} run {k}", results)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("speed", "fuzz")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = results.read_text()
    assert "speed run 19" in text and "fuzz run 19" in text


@pytest.mark.parametrize(
    "script",
    [
        "accuracy_table",
        "concurrency_memory",
        "fuzz_uploads",
        "home_photos",
        "int8",
        "load",
        "not_garment",
        "photo_robustness",
        "speed",
        "train_speed",
        "trust",
    ],
)
def test_every_benchmark_takes_the_same_print_only_flag(script, capsys):
    module = importlib.import_module(f"benchmarks.{script}")
    with pytest.raises(SystemExit) as done:
        module.main(["--help"])
    assert done.value.code == 0
    assert "--no-write" in capsys.readouterr().out


def test_accuracy_table_lists_the_runs_kept_as_evidence():
    from benchmarks.accuracy_table import other_runs, run_validation, to_markdown

    runs = other_runs()
    assert any(r.name == "fashion-cnn" for r in runs)  # the one-command 30-epoch run
    md = to_markdown([], runs)
    for run in runs:
        assert f"`{run.command}`" in md and f"{run_validation(run):.2%}" in md
        # A bf16 run's time holds only where the CPU has bf16 instructions: the row says so.
        bf16 = run.config.get("precision") == "bfloat16"
        assert (f"with bf16 | `{run.command}`" in md) == bf16
    assert any(r.config.get("precision") == "bfloat16" for r in runs)
    # A run answered with two views is judged on validation with both (what calibrate saw).
    wide = [r for r in runs if r.views != "image"]
    assert all(run_validation(r) == r.val_accuracy_by_views[r.views] for r in wide)
    # The anchors are there too, best first.
    assert md.index("top reported") < md.index("human performance")
