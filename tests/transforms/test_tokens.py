"""AddSinkNode, AddPauseTokens, VirtualNode: exact attention matrices and invariants."""

from __future__ import annotations

import pytest
import torch
from rewire_measure import row_sums, spectral_gap

from tgnn.convert import attention_to_data, to_dense_attention
from tgnn.errors import NotCausalError, ShapeError
from tgnn.graphs import pause_tokens, sliding_window, uniform_bidirectional, uniform_causal
from tgnn.transforms import AddPauseTokens, AddSinkNode, VirtualNode


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_sink_node_exact_matrix(p: float):
    n = 5
    data = attention_to_data(sliding_window(n, 2))
    out = AddSinkNode(p=p)(data)
    expected = torch.zeros(n + 1, n + 1, dtype=torch.float64)
    expected[0, 0] = 1.0
    expected[1:, 0] = p
    expected[1:, 1:] = (1 - p) * sliding_window(n, 2)
    torch.testing.assert_close(to_dense_attention(out).double(), expected)
    assert out.pos.tolist() == list(range(n + 1))
    assert out.node_added.tolist() == [True] + [False] * n
    assert int(out.edge_added.sum()) == n + 1 and out.is_causal


def test_sink_node_scales_heads_and_shifts_node_features():
    attention = torch.stack([uniform_causal(4), sliding_window(4, 2)]).float()
    data = attention_to_data(attention, head_reduction=None, x=torch.ones(4, 3))
    before = data.edge_attr.clone()
    out = AddSinkNode(p=0.25)(data)
    torch.testing.assert_close(out.edge_attr[~out.edge_added], 0.75 * before)
    assert torch.all(out.edge_attr[out.edge_added][1:] == 0.25)
    assert out.x[0].abs().sum() == 0 and torch.all(out.x[1:] == 1)
    assert torch.equal(data.edge_attr, before) and data.num_nodes == 4


def test_sink_raises_spectral_gap_of_local_attention():
    data = attention_to_data(sliding_window(24, 2))
    assert spectral_gap(AddSinkNode(p=0.2)(data)) > spectral_gap(data)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize(("start", "end"), [(2, 0), (0, 2), (2, 3), (1, 1)])
def test_pause_tokens_reproduce_the_pattern(causal: bool, start: int, end: int):
    attention = uniform_causal(5) if causal else uniform_bidirectional(5)
    out = AddPauseTokens(start, end, pause_mass=0.3)(attention_to_data(attention))
    expected = pause_tokens(5, start, end, pause_mass=0.3, causal=causal)
    torch.testing.assert_close(to_dense_attention(out).double(), expected)
    assert out.pos.tolist() == list(range(5 + start + end))
    assert out.node_added.tolist() == [True] * start + [False] * 5 + [True] * end


def test_pause_tokens_on_non_uniform_rows_stay_stochastic_and_causal():
    data = attention_to_data(sliding_window(7, 3))
    out = AddPauseTokens(2, 2, pause_mass=0.4)(data)
    torch.testing.assert_close(row_sums(out), torch.ones(11, dtype=torch.float64))
    src, dst = out.edge_index
    assert bool((src <= dst).all())
    with pytest.raises(ShapeError, match="pause_mass"):
        AddPauseTokens(pause_mass=1.0)


def test_virtual_node_exact_matrix_and_causal_guard():
    n, p = 4, 0.2
    out = VirtualNode(p=p)(attention_to_data(uniform_bidirectional(n)))
    expected = torch.zeros(n + 1, n + 1, dtype=torch.float64)
    expected[:n, :n] = (1 - p) / n
    expected[:n, n] = p
    expected[n, :n] = 1 / n
    torch.testing.assert_close(to_dense_attention(out).double(), expected)
    with pytest.raises(NotCausalError, match="AddSinkNode"):
        VirtualNode()(attention_to_data(uniform_causal(3)))


def test_virtual_node_weights_are_exact_in_float64():
    # before: p went through float32, so a row summed to 1 - 1.2e-8 with p = 0.3
    out = VirtualNode(p=0.3)(attention_to_data(uniform_bidirectional(4).double()))
    exact = torch.full((4,), 0.3, dtype=torch.float64)
    assert torch.equal(out.edge_weight[out.edge_added][:4], exact)
    ones = torch.ones(5, dtype=torch.float64)
    torch.testing.assert_close(row_sums(out), ones, rtol=0, atol=1e-15)
