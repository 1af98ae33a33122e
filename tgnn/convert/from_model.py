"""One call from a ``transformers`` model and its inputs to per-layer PyG graphs."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from torch import Tensor
from torch_geometric.data import Batch, Data

from tgnn.convert.capture import LayerAttention, capture_attention, stream_attention
from tgnn.convert.to_graph import attention_to_data

__all__ = ["capture_graphs"]


def capture_graphs(
    model: Any,
    inputs: Mapping[str, Any],
    *,
    layers: Collection[int] | None = None,
    hidden_states: bool = False,
    **convert: Any,
) -> list[Data | Batch]:
    """Run ``model`` once and return one graph per captured layer.

    Each layer's attention is converted with :func:`~tgnn.convert.to_graph.attention_to_data`
    as soon as it is computed (padding dropped, ``token`` ids attached, ``layer`` set), so only
    the graphs are kept: with sparsification (``top_k``, ``top_p``, ``threshold``) memory stays
    far below ``L`` dense ``[B, H, n, n]`` tensors.

    Parameters
    ----------
    model, inputs, layers
        As in :func:`~tgnn.convert.capture.stream_attention`.
    hidden_states
        Attach each layer's input hidden states as node features ``x`` (float32).
    **convert
        Options of :func:`~tgnn.convert.to_graph.attention_to_data` (``head_reduction``,
        ``top_k``, ``self_loops``, ...).

    Returns
    -------
    list of Data (or Batch for a batch of sequences), in layer order; graph weights float32.

    Examples
    --------
    >>> import torch
    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=10)).eval()
    >>> graphs = capture_graphs(model, {"input_ids": torch.arange(4)[None]})
    >>> [(g.layer, g.num_nodes, g.num_edges, g.is_causal) for g in graphs]
    [(0, 4, 10, True), (1, 4, 10, True)]
    """
    graphs: list[Data | Batch] = []
    token = inputs.get("input_ids")

    def convert_layer(item: LayerAttention) -> None:
        graphs.append(
            attention_to_data(
                item.weights, item.padding_mask, token=token, layer=item.layer, **convert
            )
        )

    if not hidden_states:  # convert here while the worker thread computes the next layer
        for item in capture_attention(model, inputs, layers=layers):
            convert_layer(item)
        return graphs
    output = stream_attention(
        model, inputs, convert_layer, layers=layers, output_hidden_states=True
    )
    mask = inputs.get("attention_mask")
    return [_with_features(g, output.hidden_states[g.layer], mask) for g in graphs]


def _with_features(graph: Data | Batch, states: Tensor, mask: Tensor | None) -> Data | Batch:
    """Attach ``states[b]`` (padding dropped) as ``x`` of each sequence's graph."""
    members = graph.to_data_list() if isinstance(graph, Batch) else [graph]
    for index, member in enumerate(members):
        keep = slice(None) if mask is None else mask[index].bool()
        member.x = states[index][keep].float()
    return Batch.from_data_list(members) if isinstance(graph, Batch) else members[0]
