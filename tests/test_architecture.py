"""The package's shape, checked: no import cycles, stages that import only downwards,
Streamlit only in the UI, short functions, one list of pages, benchmarks and tests
importing in one direction, and a training setting is one `TrainConfig` field."""

from __future__ import annotations

import ast
import dataclasses
import shlex
import subprocess
import sys
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
    assert (
        "fashion.serving.classifier" in graph
        and "fashion.card" in graph["fashion.serving.classifier"]
    )
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


# Lowest first: a module may import its own stage and those before it, never one after.
STAGES = (
    ("fashion.classes", "fashion.card"),
    ("fashion.data",),
    ("fashion.trust",),
    ("fashion.serving",),
    ("fashion.analysis",),
    ("fashion.training",),
    ("fashion.ui",),
)
ENTRY = "fashion.__main__"  # the command line sits above every stage
MAX_FUNCTION_LINES = 80


def _stage(module: str) -> int | None:
    for rank, prefixes in enumerate(STAGES):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def test_every_module_belongs_to_a_stage():
    loose = [m for m in _graph() if _stage(m) is None and m not in (ENTRY, "fashion")]
    assert not loose, f"modules outside every stage folder: {loose}"
    for prefixes in STAGES[1:]:
        init = PACKAGE / prefixes[0].split(".")[1] / "__init__.py"
        assert "May import" in init.read_text() or "only stage" in init.read_text(), init


def test_stages_import_only_downwards():
    upward = sorted(
        f"{module} -> {imported}"
        for module, imports in _graph().items()
        if module not in (ENTRY, "fashion")
        for imported in imports
        if imported not in (ENTRY, "fashion") and _stage(imported) > _stage(module)
    )
    assert not upward, "imports from a lower stage to a higher one:\n" + "\n".join(upward)


def test_the_stage_check_catches_an_upward_import():
    assert _stage("fashion.data.preprocess") < _stage("fashion.serving.classifier")
    assert _stage("fashion.card") < _stage("fashion.data") < _stage("fashion.ui.pages.map")


def test_no_function_is_longer_than_a_screen():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if node.end_lineno - first + 1 > MAX_FUNCTION_LINES:
                    long.append(f"{_module_name(path)}.{node.name}: {node.end_lineno - first + 1}")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_loading_a_classifier_imports_no_image_generator():
    """Serving needs the not-a-garment check, not the images its thresholds were fitted on."""
    generators = [
        "fashion.data.renders",
        "fashion.data.non_garments",
        "fashion.data.bad_files",
        "fashion.training.flag_thresholds",
        "fashion.training",
        "fashion.analysis",
    ]
    code = (
        "import sys; from fashion.serving.classifier import Classifier; Classifier.load(); "
        f"print([m for m in {generators!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_one_list_of_pages():
    from fashion.ui import pages

    files = {p.stem for p in (PACKAGE / "ui" / "pages").glob("*.py")} - {"__init__"}
    assert {p.slug for p in pages.PAGES} == files
    assert sum(p.default for p in pages.PAGES) == 1
    assert "pages.PAGES" in (ROOT / "app.py").read_text()
    typed = [
        str(p.relative_to(ROOT))
        for p in [*PACKAGE.rglob("*.py"), *(ROOT / "tests").glob("*.py"), ROOT / "app.py"]
        if "fashion/ui/pages/" in p.read_text()
        and p.name not in ("__init__.py", Path(__file__).name)
    ]
    assert not typed, f"page paths typed outside fashion/ui/pages/__init__.py: {typed}"


def test_one_list_of_upload_types():
    from PIL import Image

    from fashion.data.uploads import ALLOWED_FORMATS, FILE_EXTENSIONS

    Image.init()
    offered = {Image.registered_extensions()["." + ext] for ext in FILE_EXTENSIONS}
    assert offered == set(ALLOWED_FORMATS)
    typed = [
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*.py")
        if '"jpeg", "webp"' in p.read_text() or "'jpeg', 'webp'" in p.read_text()
    ]
    assert not typed, typed


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

    from fashion.training import train_config

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
    from fashion.training.train_config import TrainConfig, config_from_args

    config = TrainConfig(model="wrn-16-2", epochs=3, limit=500, precision="float32")
    argv = shlex.split(config.command())[3:]  # drop "python -m fashion"
    again = config_from_args(build_parser().parse_args(argv))
    assert again.resolved() == config.resolved()


@pytest.mark.parametrize("value", ["bfloat16", "float32"])
def test_precision_is_spelled_out_in_the_command(value):
    from fashion.training.train_config import TrainConfig

    assert f"--precision {value}" in TrainConfig(model="wrn-16-2", precision=value).command()
