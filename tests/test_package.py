"""The package installs with theory/ as tgnn.theory and exposes its version."""

import importlib

import tgnn


def test_version_is_a_string() -> None:
    assert isinstance(tgnn.__version__, str) and tgnn.__version__.count(".") == 2


def test_theory_installs_as_subpackage() -> None:
    theory = importlib.import_module("tgnn.theory")
    assert theory.__file__ is not None and theory.__file__.replace("\\", "/").endswith(
        "theory/__init__.py"
    )


def test_benchmarks_install_as_subpackage() -> None:
    assert importlib.import_module("tgnn.benchmarks") is not None


def _imported_modules(folder: str) -> dict[str, set[str]]:
    """``{file: modules it imports}`` for the Python files of ``folder`` (docstrings ignored)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / folder
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[path.relative_to(root.parent).as_posix()] = names
    return found


def test_metrics_and_theory_import_nothing_from_the_converter() -> None:
    """The layers of DESIGN.md: checks and errors at the bottom, metrics and theory above them,
    the converter (which runs models) on top; metrics and theory never import tgnn.convert."""
    for folder in ("tgnn/metrics", "theory"):
        for path, modules in _imported_modules(folder).items():
            wrong = sorted(m for m in modules if m.split(".")[:2] == ["tgnn", "convert"])
            assert not wrong, f"{path} imports {wrong}"
