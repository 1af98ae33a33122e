"""Row-wise sparsification: the mask-free top-k selection equals the mask, ties included."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tgnn.convert.sparsify import sparsify_mask, top_k_entries
from tgnn.errors import ShapeError


@st.composite
def attention_rows(draw: st.DrawFn) -> tuple[torch.Tensor, int]:
    """Non-negative rows with many exact ties and zeros (quarter steps), and a k."""
    rows, cols = draw(st.integers(1, 6)), draw(st.integers(1, 12))
    steps = draw(st.lists(st.integers(0, 4), min_size=rows * cols, max_size=rows * cols))
    return torch.tensor(steps, dtype=torch.float32).view(rows, cols) / 4, draw(st.integers(1, 14))


@settings(max_examples=300, deadline=None)
@given(attention_rows())
def test_top_k_entries_equal_the_mask(case: tuple[torch.Tensor, int]) -> None:
    attention, k = case
    rows, cols = sparsify_mask(attention, top_k=k).nonzero(as_tuple=True)
    got_rows, got_cols = top_k_entries(attention, k)
    assert torch.equal(got_rows, rows) and torch.equal(got_cols, cols)


def test_top_k_entries_on_softmax_rows() -> None:
    attention = torch.softmax(torch.randn(200, 300, generator=torch.Generator().manual_seed(0)), -1)
    attention[:, 100:] = 0.0  # causal-like zeros, so rows 0.. have fewer non-zeros than k
    rows, cols = sparsify_mask(attention, top_k=8).nonzero(as_tuple=True)
    got_rows, got_cols = top_k_entries(attention, 8)
    assert torch.equal(got_rows, rows) and torch.equal(got_cols, cols)
    assert got_rows.numel() == 200 * 8


@pytest.mark.parametrize("k", [0, -1, True, 2.0])
def test_bad_k_is_named(k: object) -> None:
    with pytest.raises(ShapeError, match="top_k"):
        top_k_entries(torch.ones(2, 3), k)  # type: ignore[arg-type]
