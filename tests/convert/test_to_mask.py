"""A graph back to an attention mask: the causal graph reproduces the model."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from tests.convert.conftest import make_model
from tgnn import attention_to_data, graph_to_attention_mask
from tgnn.errors import GraphError
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
