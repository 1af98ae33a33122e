"""Run the doctests of every theory module (pytest's doctest collection covers tests/ only)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "ysl",
    "rollout",
    "absorbing",
    "group_inverse",
    "closed_forms",
    "bounds",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name: str) -> None:
    module = importlib.import_module(f"tgnn.theory.{name}")
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags)
    assert result.attempted > 0 and result.failed == 0
