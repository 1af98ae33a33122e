"""Attention tensors to PyG graphs: conventions, round trips, GNN steps, unrolled rollout."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch
from torch_geometric.nn import MessagePassing

from tgnn import attention_to_data, attention_to_unrolled, to_dense_attention
from tgnn.errors import (
    EmptyInputError,
    MaskError,
    NonFiniteError,
    NotCausalError,
    NotStochasticError,
    ShapeError,
)
from tgnn.graphs import uniform_causal


def random_attention(*shape: int, causal: bool = False, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(*shape, generator=generator, dtype=torch.float64)
    if causal:
        n = shape[-1]
        logits = logits.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), float("-inf"))
    return logits.softmax(-1)


class WeightedSum(MessagePassing):
    """Plain GNN step: x_i' = sum over edges j -> i of w_ji x_j."""

    def __init__(self) -> None:
        super().__init__(aggr="add")

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.propagate(edge_index, x=x, w=w)

    def message(self, x_j: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return w[:, None] * x_j


def test_edge_direction_follows_the_convention() -> None:
    attention = torch.tensor([[1.0, 0.0, 0.0], [0.2, 0.8, 0.0], [0.1, 0.3, 0.6]])
    data = attention_to_data(attention)
    for (source, target), weight in zip(data.edge_index.T, data.edge_weight, strict=True):
        assert attention[target, source] == weight
    assert data.is_causal and data.num_nodes == 3 and data.pos.tolist() == [0, 1, 2]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 9), seed=st.integers(0, 10_000), causal=st.booleans())
def test_one_gnn_step_is_attention_times_x(n: int, seed: int, causal: bool) -> None:
    attention = random_attention(n, n, causal=causal, seed=seed)
    x = torch.randn(n, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    data = attention_to_data(attention)
    out = WeightedSum()(x, data.edge_index, data.edge_weight)
    torch.testing.assert_close(out, attention @ x, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(heads=st.integers(1, 4), n=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_round_trip_is_exact(heads: int, n: int, seed: int) -> None:
    attention = random_attention(heads, n, n, seed=seed).float()
    per_head = attention_to_data(attention, head_reduction=None)
    assert per_head.edge_attr.shape == (n * n, heads)
    assert torch.equal(to_dense_attention(per_head), attention)
    mean = attention_to_data(attention, head_reduction="mean")
    assert torch.equal(to_dense_attention(mean), attention.mean(0))


def test_head_reductions() -> None:
    attention = random_attention(3, 4, 4)
    for name, reduce in (("max", attention.amax(0)), ("sum", attention.sum(0))):
        data = attention_to_data(attention, head_reduction=name)  # type: ignore[arg-type]
        torch.testing.assert_close(to_dense_attention(data), reduce)


def test_sparsification_and_self_loops() -> None:
    attention = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.4, 0.35, 0.25]])
    assert attention_to_data(attention, top_k=1).num_edges == 3
    assert attention_to_data(attention, threshold=0.3).num_edges == 5
    assert attention_to_data(attention, top_p=0.7).num_edges == 2 + 1 + 2
    no_loops = attention_to_data(attention, self_loops=False)
    assert bool((no_loops.edge_index[0] != no_loops.edge_index[1]).all())
    assert no_loops.num_edges == 6


def test_batch_with_padding_drops_padded_tokens() -> None:
    n = 5
    mask = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    attention = torch.zeros(2, 2, n, n, dtype=torch.float64)
    attention[0] = uniform_causal(n)
    attention[1, :, 2:, 2:] = uniform_causal(3)
    attention[1, :, :2, :2] = torch.eye(2, dtype=torch.float64)  # padded rows: anything
    x = torch.randn(2, n, 3)
    batch = attention_to_data(attention, mask, x=x, is_causal=True)
    assert isinstance(batch, Batch)
    first, second = batch.to_data_list()
    assert first.num_nodes == 5 and second.num_nodes == 3
    assert second.pos.tolist() == [2, 3, 4]
    assert torch.equal(second.x, x[1, 2:])
    assert torch.equal(to_dense_attention(second), uniform_causal(3))


def test_unrolled_graph_propagates_the_rollout() -> None:
    layers = [random_attention(6, 6, causal=True, seed=s) for s in range(3)]
    rho = 0.5
    graph = attention_to_unrolled(layers, rho=rho)
    n = 6
    assert graph.num_nodes == 4 * n and graph.is_causal
    state = torch.zeros(graph.num_nodes, n, dtype=torch.float64)
    state[:n] = torch.eye(n, dtype=torch.float64)  # one-hot tokens at depth 0
    step = WeightedSum()
    for _ in layers:
        state = step(state, graph.edge_index, graph.edge_weight)
    rollout = torch.eye(n, dtype=torch.float64)
    for attention in layers:
        rollout = (rho * attention + (1 - rho) * torch.eye(n, dtype=torch.float64)) @ rollout
    torch.testing.assert_close(state[3 * n :], rollout, rtol=1e-12, atol=1e-12)
    assert graph.layer.tolist() == [layer for layer in range(4) for _ in range(n)]


@pytest.mark.parametrize(
    ("attention", "kwargs", "error", "match"),
    [
        (torch.ones(2, 3) / 3, {}, ShapeError, "square"),
        (torch.ones(1, 1, 1, 2, 2) / 2, {}, ShapeError, "dimensions"),
        (torch.tensor([[float("nan"), 1.0], [0.5, 0.5]]), {}, NonFiniteError, "NaN"),
        (torch.tensor([[0.9, 0.0], [0.5, 0.5]]), {}, NotStochasticError, "rows summing"),
        (torch.tensor([[0.5, 0.5], [0.5, 0.5]]), {"is_causal": True}, NotCausalError, "causal"),
        (torch.eye(2), {"mask": torch.ones(3)}, MaskError, "mask"),
        (torch.eye(2), {"mask": torch.zeros(2)}, EmptyInputError, "no unmasked"),
        (torch.zeros(0, 0), {}, EmptyInputError, "empty"),
        (torch.eye(2), {"head_reduction": "median"}, ShapeError, "head_reduction"),
        (torch.eye(2), {"x": torch.ones(3, 4)}, ShapeError, "x"),
    ],
)
def test_bad_input_gets_a_clear_error(
    attention: torch.Tensor, kwargs: dict, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        attention_to_data(attention, **kwargs)


def test_half_precision_rows_use_a_dtype_tolerance() -> None:
    attention = random_attention(4, 64, 64).to(torch.bfloat16)
    data = attention_to_data(attention)
    assert data.edge_weight.dtype == torch.float32


def test_unrolled_rejects_bad_layers() -> None:
    with pytest.raises(EmptyInputError):
        attention_to_unrolled([])
    with pytest.raises(ShapeError, match="same"):
        attention_to_unrolled([torch.eye(2), torch.eye(3)])
    with pytest.raises(ShapeError, match="rho"):
        attention_to_unrolled([torch.eye(2)], rho=1.5)
