"""The package's shape, checked: no import cycles, Streamlit only in the UI, benchmarks and
tests import in one direction, and a training setting is one `TrainConfig` field."""

from __future__ import annotations

import ast
import dataclasses
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fashion"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function (a lazy import still
    makes a cycle: it only moves the failure to the first call)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from fashion import card` imports the module fashion.card.
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path) & set(modules) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycle_in_the_package():
    graph = _graph()
    assert "fashion.inference" in graph and "fashion.card" in graph["fashion.inference"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_only_the_ui_imports_streamlit():
    outside = [
        _module_name(p)
        for p in PACKAGE.rglob("*.py")
        if "ui" not in p.relative_to(PACKAGE).parts
        and any(m == "streamlit" or m.startswith("streamlit") for m in _imports(p))
    ]
    assert not outside, f"Streamlit imported outside fashion/ui: {outside}"


def test_benchmarks_never_import_the_ui_or_the_tests():
    offenders = {
        p.name: sorted(m for m in _imports(p) if m.startswith(("fashion.ui", "tests")))
        for p in (ROOT / "benchmarks").glob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_a_new_hyper_parameter_is_one_field(monkeypatch):
    """Add a field to TrainConfig and it is a CLI flag and part of the card's command."""
    import argparse

    from fashion import train_config

    fields = [(f.name, f.type, f) for f in dataclasses.fields(train_config.TrainConfig)]
    extended = dataclasses.make_dataclass(
        "TrainConfig",
        [*fields, ("dropout", "float | None", dataclasses.field(default=0.25))],
        bases=(train_config.TrainConfig,),
    )
    monkeypatch.setattr(train_config, "TrainConfig", extended)
    parser = argparse.ArgumentParser()
    train_config.cli_arguments(parser)
    args = parser.parse_args(["cnn-basic", "--dropout", "0.4"])
    config = train_config.config_from_args(args)
    assert config.dropout == 0.4
    assert "--dropout 0.4" in config.command()


def test_card_command_parses_back_to_the_same_config():
    from fashion.__main__ import build_parser
    from fashion.train_config import TrainConfig, config_from_args

    config = TrainConfig(model="wrn-16-2", epochs=3, limit=500, precision="float32")
    argv = shlex.split(config.command())[3:]  # drop "python -m fashion"
    again = config_from_args(build_parser().parse_args(argv))
    assert again.resolved() == config.resolved()


@pytest.mark.parametrize("value", ["bfloat16", "float32"])
def test_precision_is_spelled_out_in_the_command(value):
    from fashion.train_config import TrainConfig

    assert f"--precision {value}" in TrainConfig(model="wrn-16-2", precision=value).command()
