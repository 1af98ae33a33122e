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
