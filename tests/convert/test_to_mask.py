"""A graph back to an attention mask: the causal graph reproduces the model."""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Data

from tests.convert.conftest import make_model
from tgnn import attention_to_data, graph_to_attention_mask
from tgnn.errors import GraphError, NonFiniteError, ShapeError
from tgnn.graphs import sliding_window, uniform_causal


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_causal_graph_mask_reproduces_the_model(kind: str) -> None:
    model = make_model(kind)
    ids = torch.randint(1, 50, (1, 9), generator=torch.Generator().manual_seed(0))
    mask = graph_to_attention_mask(attention_to_data(uniform_causal(9)))
    with torch.no_grad():
        reference = model(input_ids=ids).logits
        masked = model(input_ids=ids, attention_mask=mask).logits
    torch.testing.assert_close(masked, reference, rtol=1e-5, atol=1e-5)


def test_sliding_window_graph_changes_the_model() -> None:
    model = make_model("gpt2")
    ids = torch.randint(1, 50, (1, 9), generator=torch.Generator().manual_seed(0))
    mask = graph_to_attention_mask(attention_to_data(sliding_window(9, 2)))
    with torch.no_grad():
        reference = model(input_ids=ids).logits
        local = model(input_ids=ids, attention_mask=mask).logits
    torch.testing.assert_close(local[:, :2], reference[:, :2], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(local[:, 2:], reference[:, 2:], atol=1e-4)


def test_log_weights_reweight_attention() -> None:
    graph = attention_to_data(uniform_causal(3))
    bias = graph_to_attention_mask(graph, weights="log")[0, 0]
    probabilities = torch.softmax(bias, -1)  # zero scores: the result is the graph's weights
    torch.testing.assert_close(probabilities, uniform_causal(3).float())


def test_orphan_tokens_and_bad_weights_are_rejected() -> None:
    graph = Data(edge_index=torch.tensor([[0], [0]]), edge_weight=torch.ones(1), num_nodes=2)
    with pytest.raises(GraphError, match="tokens \\[1\\]"):
        graph_to_attention_mask(graph)
    graph = Data(edge_index=torch.tensor([[0, 1], [0, 1]]), edge_weight=torch.zeros(2), num_nodes=2)
    with pytest.raises(GraphError, match="positive"):
        graph_to_attention_mask(graph, weights="log")


def _graph(edge_index: list[list[int]], num_nodes: object = 3, **extra: object) -> Data:
    return Data(edge_index=torch.tensor(edge_index), num_nodes=num_nodes, **extra)


FULL = [[0, 0, 1, 0, 1, 2], [0, 1, 1, 2, 2, 2]]  # causal: every token reads itself and before


def test_negative_ids_are_refused_not_wrapped():
    # before: key -1 was read as the last token, so token 1 "read" token 2 (the future)
    with pytest.raises(GraphError, match=r"ids in \[0, 3\) in both rows, got range \[-1, 2\]"):
        graph_to_attention_mask(_graph([[0, -1, 0, 2], [0, 1, 1, 2]]))
    with pytest.raises(GraphError, match=r"range \[-3, 2\]"):
        graph_to_attention_mask(_graph([[0, 1, 2, 0], [0, 1, 2, -3]]))


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (_graph([[0, 3], [0, 1]]), GraphError, r"\[0, 3\) in both rows, got range \[0, 3\]"),
        (_graph([[0, 1], [0, 3]]), GraphError, r"got range \[0, 3\]"),
        (Data(edge_index=torch.tensor([[0.0, 1.0], [0.0, 1.0]]), num_nodes=2), ShapeError,
         "edge_index: expected an integer dtype"),
        (_graph([[0, 1], [0, 1], [0, 0]]), ShapeError, r"edge_index: expected shape \[2, E\]"),
        (_graph([[0, 1], [0, 1]], 2.5), GraphError, "num_nodes: expected an integer >= 0, got 2.5"),
        (Data(edge_index=torch.tensor([[0, 1], [0, 1]])), GraphError, "num_nodes: .*explicitly"),
    ],
)
def test_bad_graphs_raise_named_errors(data: Data, error: type[Exception], message: str):
    with pytest.raises(error, match=message):
        graph_to_attention_mask(data)


def test_bad_log_weights_and_options_raise_named_errors():
    def weighted(weight: list[float]) -> Data:
        return _graph([[0, 0, 1], [0, 1, 1]], 2, edge_weight=torch.tensor(weight))

    with pytest.raises(NonFiniteError, match="edge_weight: expected finite"):  # a NaN mask before
        graph_to_attention_mask(weighted([1.0, math.nan, 0.5]), weights="log")
    with pytest.raises(NonFiniteError, match="edge_weight"):  # an inf bias: NaN softmax
        graph_to_attention_mask(weighted([1.0, math.inf, 0.5]), weights="log")
    with pytest.raises(ShapeError, match=r"edge_weight: expected shape \[3\]"):  # broadcast before
        graph_to_attention_mask(weighted([1.0]), weights="log")
    graph = weighted([1.0, 0.5, 0.5])
    for kwargs, message in [
        ({"weights": "soft"}, "weights: expected one of 'mask', 'log', got 'soft'"),
        ({"dtype": torch.int64}, "dtype: expected a floating torch.dtype"),
        ({"batch_size": 0}, "batch_size: expected an integer >= 1, got 0"),
        ({"batch_size": -1}, "batch_size: .*-1"),
        ({"batch_size": 1.5}, "batch_size: .*1.5"),
    ]:
        with pytest.raises(ShapeError, match=message):
            graph_to_attention_mask(graph, **kwargs)


def test_parallel_edges_add_their_log_weights():
    # key 0 -> query 1 twice (0.3 + 0.2) and key 1 -> query 1 once (0.5): row 1 reads 0.5 / 0.5
    graph = _graph([[0, 0, 0, 1], [0, 1, 1, 1]], 2, edge_weight=torch.tensor([1.0, 0.3, 0.2, 0.5]))
    probabilities = torch.softmax(graph_to_attention_mask(graph, weights="log")[0, 0], -1)
    torch.testing.assert_close(probabilities, torch.tensor([[1.0, 0.0], [0.5, 0.5]]))


def test_valid_mask_is_unchanged_by_the_checks():
    mask = graph_to_attention_mask(_graph(FULL), batch_size=2, dtype=torch.float64)
    assert mask.shape == (2, 1, 3, 3) and mask.dtype == torch.float64
    low = torch.finfo(torch.float64).min
    expected = torch.tensor([[0, low, low], [0, 0, low], [0, 0, 0]], dtype=torch.float64)
    assert torch.equal(mask[0, 0], expected) and torch.equal(mask[1], mask[0])
