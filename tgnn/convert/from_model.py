"""One call from a ``transformers`` model and its inputs to per-layer PyG graphs."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from torch import Tensor
from torch_geometric.data import Batch, Data

from tgnn.convert.capture import LayerAttention, _capture, _stream
from tgnn.convert.context import ContextWindow, Overflow, as_overflow, context_windows
from tgnn.convert.model_call import check_model_call
from tgnn.convert.to_graph import attention_to_data
from tgnn.errors import ShapeError

__all__ = ["capture_graphs"]


def capture_graphs(
    model: Any,
    inputs: Mapping[str, Any],
    *,
    layers: Collection[int] | None = None,
    hidden_states: bool = False,
    overflow: str | Overflow = "error",
    **convert: Any,
) -> list[Data | Batch]:
    """Run ``model`` once (once per window) and return one graph per captured layer.

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
    overflow
        An input longer than the model's context (checked before anything runs):
        ``"error"`` (default, :class:`~tgnn.errors.ContextLengthError`), ``"keep_last"``,
        ``"keep_first"``, ``"windows"``, or an :class:`~tgnn.convert.context.Overflow` (overlap
        of windows, special tokens kept in every piece); see
        :func:`~tgnn.convert.context.fit_context`.
    **convert
        Options of :func:`~tgnn.convert.to_graph.attention_to_data` (``head_reduction``,
        ``top_k``, ``self_loops``, ...).

    Returns
    -------
    list of Data (or Batch for a batch of sequences)
        In layer order; graph weights float32. When the input was cut to the context, ``pos``
        is each node's column in the ``inputs`` given (not in the cut input) and ``token`` its
        id. With ``overflow="windows"`` the list is flat, window-major: the layer graphs of
        window 0, then of window 1, ...; every graph has ``window`` (its number) and ``row``
        (the batch row of each sequence: a window holds only the sequences still running, so
        it is a ``Data`` once only one is left). Nodes in the overlap of two windows (and kept
        special tokens) appear in both. An input that fits gives one window.

    Examples
    --------
    >>> import torch
    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=10)).eval()
    >>> graphs = capture_graphs(model, {"input_ids": torch.arange(4)[None]})
    >>> [(g.layer, g.num_nodes, g.num_edges, g.is_causal) for g in graphs]
    [(0, 4, 10, True), (1, 4, 10, True)]
    >>> model.config.n_positions = 3  # as if the context were 3 tokens: two windows
    >>> graphs = capture_graphs(model, {"input_ids": torch.arange(4)[None]}, overflow="windows")
    >>> [(g.window, g.layer, g.pos.tolist()) for g in graphs]
    [(0, 0, [0, 1, 2]), (0, 1, [0, 1, 2]), (1, 0, [3]), (1, 1, [3])]
    """
    check_model_call(model, inputs, layers, "capture_graphs")
    windows = context_windows(inputs, model, overflow)
    width = windows[0].positions.shape[1]
    if len(windows) == 1 and width == _width(inputs):  # fits: no window, positions as given
        found = _capture_window(model, inputs, layers, hidden_states, convert)
        return [_mark(g, windows[0]) for g in found] if _windowed(overflow) else found
    if "pos" in convert:
        raise ShapeError("pos: cannot be given with an input cut to the context; the graphs' "
                         "pos are then the original columns of the kept tokens")
    graphs: list[Data | Batch] = []
    for window in windows:
        found = _capture_window(model, window.inputs, layers, hidden_states,
                                {**convert, "pos": window.positions})
        graphs += [_mark(g, window) for g in found] if _windowed(overflow) else found
    return graphs


def _width(inputs: Mapping[str, Any]) -> int:
    ids = inputs.get("input_ids")
    return int((ids if ids is not None else inputs["inputs_embeds"]).shape[1])


def _windowed(overflow: str | Overflow) -> bool:
    return as_overflow(overflow).mode == "windows"


def _capture_window(
    model: Any, inputs: Mapping[str, Any], layers: Collection[int] | None,
    hidden_states: bool, convert: dict[str, Any],
) -> list[Data | Batch]:
    """The layer graphs of one input that fits the context."""
    graphs: list[Data | Batch] = []
    order: list[int] = []  # layer of each graph (a Batch's ``layer`` is a tensor)
    token = inputs.get("input_ids")

    def convert_layer(item: LayerAttention) -> None:
        order.append(item.layer)
        options = dict(convert)
        if isinstance(options.get("pos"), Tensor):
            options["pos"] = options["pos"].to(item.weights.device)
        graphs.append(
            attention_to_data(
                item.weights, item.padding_mask, token=token, layer=item.layer, **options
            )
        )

    # capture_graphs checked the call and the context once: the windows run without rechecks
    if not hidden_states:  # convert here while the worker thread computes the next layer
        for item in _capture(model, inputs, layers, {}):
            convert_layer(item)
        return graphs
    output = _stream(model, inputs, convert_layer, layers, {"output_hidden_states": True})
    mask = inputs.get("attention_mask")
    return [_with_features(g, output.hidden_states[layer], mask)
            for g, layer in zip(graphs, order, strict=True)]


def _mark(graph: Data | Batch, window: ContextWindow) -> Data | Batch:
    """Set ``window`` and ``row`` on ``graph`` (on each sequence of a Batch)."""
    members = graph.to_data_list() if isinstance(graph, Batch) else [graph]
    for member, row in zip(members, window.rows.tolist(), strict=True):
        member.window, member.row = window.index, row
    return Batch.from_data_list(members) if isinstance(graph, Batch) else members[0]


def _with_features(graph: Data | Batch, states: Tensor, mask: Tensor | None) -> Data | Batch:
    """Attach ``states[b]`` (padding dropped) as ``x`` of each sequence's graph."""
    members = graph.to_data_list() if isinstance(graph, Batch) else [graph]
    for index, member in enumerate(members):
        keep = slice(None) if mask is None else mask[index].bool()
        member.x = states[index][keep].float()
    return Batch.from_data_list(members) if isinstance(graph, Batch) else members[0]
