"""Suite-wide test settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Run every test on one torch thread, restored afterwards.

    The test models are tiny: on a 2-core machine more threads than free cores make them many
    times slower (OpenMP spinning), and one thread keeps timings-free tests deterministic.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
