"""Benchmark smoke tests run with one torch thread (as ``tgnn bench --quick`` does): the models
are tiny, and more threads than free cores make them many times slower on shared CPUs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
