r"""Long-context capture: sparse attention graphs of a model's forward pass, never ``n^2`` per head.

:func:`capture_sparse_graphs` registers its own attention function (``"tgnn_sparse"``) with
``transformers.AttentionInterface`` and a lazy row mask (:mod:`tgnn.convert.row_mask`) with
``AttentionMaskInterface``. Inside each layer the queries are walked in row blocks sized from a
memory budget (:mod:`tgnn.convert.blockwise`): each block's exact softmax rows (mask, grouped-
query attention, soft-capping, sliding windows and learned sinks respected) give the layer output
by eager's arithmetic, and the rows the user asked for are kept as graph edges together with
exact per-row facts (:mod:`tgnn.convert.row_graph`). Peak memory is
``O(H x rows x n + kept edges)``; the model continues with the exact layer output.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data
from tqdm.auto import tqdm

from tgnn._attention_switch import switched_attention
from tgnn.convert.blockwise import BYTES_PER_ENTRY, Workspace, blockwise_attention
from tgnn.convert.capture import _padding_mask
from tgnn.convert.context import Overflow, as_overflow, context_windows, fitted_inputs
from tgnn.convert.model_call import LayerCounter, check_model_call, num_layers
from tgnn.convert.row_graph import RowGraphBuilder, SparseSpec
from tgnn.convert.row_mask import row_mask_interface
from tgnn.convert.to_graph import HeadReduction
from tgnn.errors import AttentionUnavailableError, OptionError, ShapeError

__all__ = [
    "SPARSE_IMPLEMENTATION",
    "DEFAULT_MEMORY_BUDGET",
    "capture_sparse_graphs",
    "sparse_attention_forward",
]

Kernel = Literal["auto", "eager"]
"""How the sparse capture computes a block: the fused compiled kernel where it applies, or
library calls with eager attention's arithmetic."""

SPARSE_IMPLEMENTATION = "tgnn_sparse"
DEFAULT_MEMORY_BUDGET = 256 * 2**20
"""Bytes of scores and weights alive at once inside one layer (256 MiB)."""

_SORT_BYTES = 24  # top_p sorts each row: values, indices, cumulative mass and the scatter


@dataclass
class _Session:
    """What the registered attention function needs while one forward pass runs."""

    spec: SparseSpec
    padding: Tensor
    token: Tensor | None
    layers: Collection[int] | None
    budget: int
    positions: Tensor | None = None
    progress: Any = None  # a tqdm bar advanced once per attention call, or None
    graphs: dict[int, list[Data]] = field(default_factory=dict)
    counter: LayerCounter = field(default_factory=LayerCounter)
    workspace: Workspace = field(default_factory=Workspace)  # scratch reused by every layer
    fused: bool = True  # the compiled kernel where it applies (kernel="auto")
    selection: tuple[str, int] | None = None  # (head reduction, top_k) the kernel selects


_SESSION: contextvars.ContextVar[_Session | None] = contextvars.ContextVar(
    "tgnn_sparse_session", default=None
)


def _sparse_forward(
    module: torch.nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Any,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[Tensor, None]:
    """Attention function registered as ``"tgnn_sparse"`` (signature of transformers')."""
    session = _SESSION.get()
    if session is None:
        raise AttentionUnavailableError(
            f"model: attention {SPARSE_IMPLEMENTATION!r} runs only inside "
            "tgnn.capture_sparse_graphs; switch the model back with set_attn_implementation"
        )
    cross = bool(getattr(module, "is_cross_attention", False))  # GPT-2 style: same layer_idx
    layer = session.counter.layer_of(module)
    wanted = not cross and (session.layers is None or layer in session.layers)
    sink_logits = kwargs.get("s_aux")
    if wanted and key.shape[2] != query.shape[2]:
        raise AttentionUnavailableError(
            f"model: layer {layer} attends {query.shape[2]} queries to {key.shape[2]} keys "
            "(cross-attention or a key/value cache); the sparse capture builds graphs of "
            "self-attention over the input tokens only: pass layers= without it, no cache"
        )
    builder = RowGraphBuilder(
        session.spec, session.padding, query.shape[1], key.shape[2], sink_logits is not None
    ) if wanted else None
    sorting = _SORT_BYTES if wanted and session.spec.top_p is not None else 0
    output = blockwise_attention(
        module, query, key, value, attention_mask,
        scale=query.shape[-1] ** -0.5 if scaling is None else scaling,
        softcap=kwargs.get("softcap"),
        sink_logits=sink_logits,
        budget=session.budget,
        bytes_per_entry=BYTES_PER_ENTRY + sorting,
        dropout=dropout,
        consume=None if builder is None else builder.add,
        workspace=session.workspace,
        fused=session.fused,
        selection=session.selection if builder is not None else None,
    )
    if builder is not None:
        session.graphs[layer] = builder.graphs(session.token, layer, session.positions)
    if session.progress is not None:
        session.progress.update(1)
    return output, None


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(SPARSE_IMPLEMENTATION, _sparse_forward)
    AttentionMaskInterface.register(SPARSE_IMPLEMENTATION, row_mask_interface)


def _spec(
    head_reduction: HeadReduction, threshold: float | None, top_k: int | None,
    top_p: float | None, self_loops: bool, memory_budget: int,
) -> SparseSpec:
    """Validate the options up front (before the model runs) and bundle them."""
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget < 1:
        raise ShapeError(
            f"memory_budget: expected a positive number of bytes, got {memory_budget!r}"
        )
    if head_reduction not in ("mean", "max", "sum", None):
        raise OptionError(
            f"head_reduction: expected 'mean', 'max', 'sum' or None, got {head_reduction!r}"
        )
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ShapeError(f"top_k: expected a positive integer, got {top_k!r}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ShapeError(f"top_p: expected a cumulative mass in (0, 1], got {top_p!r}")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ShapeError(f"threshold: expected a weight in [0, 1], got {threshold!r}")
    return SparseSpec(head_reduction, threshold, top_k, top_p, bool(self_loops))


def _fused(kernel: str) -> bool:
    """Whether ``kernel`` asks for the fused kernel (checked before the model runs)."""
    if kernel not in ("auto", "eager"):
        raise OptionError(f"kernel: expected 'auto' or 'eager', got {kernel!r}")
    return kernel == "auto"


def sparse_attention_forward(
    model: Any,
    inputs: Mapping[str, Any],
    *,
    layers: Collection[int] | None = None,
    head_reduction: HeadReduction = "mean",
    threshold: float | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
    self_loops: bool = True,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    overflow: str | Overflow = "error",
    positions: Tensor | None = None,
    progress: bool = False,
    kernel: Kernel = "auto",
    **forward_kwargs: Any,
) -> tuple[list[Data | Batch], Any]:
    """Run ``model(**inputs)`` with blockwise attention; return its sparse graphs and its output.

    The same as :func:`capture_sparse_graphs`, but the model runs as given (with its head, so
    a causal LM computes its ``[B, n, vocab]`` logits), in one forward pass (``overflow``
    ``"windows"`` is refused), and its output is returned beside the graphs. ``positions``
    ``[B, n]`` sets the graphs' ``pos`` (default: the column index); ``progress`` shows a bar
    of the layers on stderr; ``kernel`` as in :func:`capture_sparse_graphs`.
    """
    spec = _spec(head_reduction, threshold, top_k, top_p, self_loops, memory_budget)
    fused = _fused(kernel)
    check_model_call(model, inputs, layers, "sparse_attention_forward")
    inputs = fitted_inputs(inputs, model, overflow, "sparse_attention_forward")
    return _run(model, inputs, spec, layers, memory_budget, positions, progress, fused,
                forward_kwargs)


def _run(
    model: Any, inputs: Mapping[str, Any], spec: SparseSpec, layers: Collection[int] | None,
    budget: int, positions: Tensor | None, progress: bool, fused: bool,
    forward_kwargs: dict[str, Any],
) -> tuple[list[Data | Batch], Any]:
    """One forward pass of checked inputs that fit the context: the graphs and the output."""
    depth = num_layers(model)
    padding = _padding_mask(inputs)
    bar = tqdm(total=depth, desc="tgnn sparse capture", unit="layer", file=sys.stderr,
               disable=not progress)
    # the kernel selects the edges in its own pass where no sequence is padded
    selection = spec.kernel_selection() if fused and bool(padding.all()) else None
    session = _Session(spec, padding, inputs.get("input_ids"), layers, budget, positions,
                       bar if progress else None, fused=fused, selection=selection)
    token = _SESSION.set(session)
    try:
        _register()
        purpose = "capture its attention as sparse graphs"
        with switched_attention(model, SPARSE_IMPLEMENTATION, purpose), torch.no_grad():
            output = model(**inputs, **forward_kwargs)
    finally:
        _SESSION.reset(token)
        bar.close()
    wanted = sorted(set(range(depth) if layers is None else layers))
    missing = [layer for layer in wanted if layer not in session.graphs]
    if missing:
        raise AttentionUnavailableError(
            f"model: expected attention from layers {wanted}, got none from {missing}; this "
            "model's attention does not go through transformers' AttentionInterface"
        )
    graphs = [session.graphs[layer] for layer in wanted]
    return [g[0] if len(g) == 1 else Batch.from_data_list(g) for g in graphs], output


def capture_sparse_graphs(
    model: Any,
    inputs: Mapping[str, Any],
    *,
    layers: Collection[int] | None = None,
    head_reduction: HeadReduction = "mean",
    threshold: float | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
    self_loops: bool = True,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    overflow: str | Overflow = "error",
    progress: bool = False,
    kernel: Kernel = "auto",
    **forward_kwargs: Any,
) -> list[Data | Batch]:
    r"""Sparse attention graphs of every layer, for long inputs (never ``H x n x n`` in memory).

    Inside each layer the queries are processed in row blocks sized for the CPU caches and at
    most ``memory_budget / (bytes H n)`` rows; each block's exact softmax rows give the layer output
    (eager attention's arithmetic, so the model continues exactly) and are reduced to what is
    asked before they are dropped. The graphs equal :func:`~tgnn.convert.capture_graphs` with the
    same options (edges, order and weights), and carry exact per-row facts computed from the
    full rows. A causal LM runs without its head (``model.base_model``): the graphs do not need
    the ``[n, vocab]`` logits (use :func:`sparse_attention_forward` to get them).

    Parameters
    ----------
    model
        A ``transformers`` model whose attention goes through ``AttentionInterface`` (GPT-2,
        BERT, Llama, Mistral, Qwen, gpt-oss, ... in transformers 5).
    inputs
        Keyword inputs of the model (``input_ids``, ``attention_mask``, ...).
    layers
        Layer indices to capture (default all); other layers run blockwise without recording.
    head_reduction
        ``"mean"``, ``"max"`` or ``"sum"`` of the query heads into ``edge_weight [E]``, or
        ``None`` to keep every head in ``edge_attr [E, H]`` (edges: union over heads).
    threshold, top_k, top_p
        Per-row sparsification, as in :func:`~tgnn.convert.to_graph.attention_to_data`
        (applied to the reduced rows, or to each head when ``head_reduction=None``). With none of
        them every non-zero weight is kept (the dense graph, built without the dense matrix).
    self_loops
        Keep ``A[i, i]`` as self-loop edges.
    memory_budget
        Bytes of scores and weights alive at once inside a layer (default 256 MiB).
    overflow
        What to do with an input longer than the model's context (checked before the model
        runs): ``"error"`` (default, :class:`~tgnn.errors.ContextLengthError`), ``"keep_last"``,
        ``"keep_first"`` or ``"windows"``, as in :func:`~tgnn.convert.capture_graphs` (windows:
        a flat window-major list, each graph with ``window``, ``row`` and the original ``pos``).
    progress
        Show a bar of the layers (of each window) on stderr: a 32k-token capture takes a minute.
    kernel
        ``"auto"`` (default): blocks go through tgnn's compiled fused kernel where it applies
        (float32 on the CPU, head width a multiple of 16, no soft-capping, learned sinks or
        additive mask values; see :func:`~tgnn.convert.fused_kernel.fused_kernel_status`),
        2 to 3 times faster than library calls on heads of width 32 to 64; its weights agree
        with eager attention's to a few units in the last place, so a key whose weight ties the
        ``top_k`` / ``top_p`` cut within that may fall on the other side. ``"eager"``: library
        calls with eager attention's arithmetic, equal to :func:`~tgnn.convert.capture_graphs`
        bit for bit.
    **forward_kwargs
        Passed to the model's forward.

    Returns
    -------
    list of Data (or Batch for a batch of sequences), in layer order
        Edges ``j -> i`` with weight ``A[i, j]`` (float32), ordered by target then source;
        ``pos``, ``token``, ``layer``, ``is_causal``, ``head_reduction``; node attributes
        ``kept_mass`` (``[n]``, or ``[n, H]`` per head), ``row_entropy``, ``first_token_mass``
        and ``column_sum`` (``[n, H]``). With learned sinks: node 0 is the sink (see
        :mod:`tgnn.convert.row_graph`), with ``learned_sink_mass [n + 1, H]`` and
        ``is_learned_sink``.

    Notes
    -----
    Time O(L B H n^2 d) as eager attention (keys a causal block cannot read are skipped), plus
    the sparsification (``top_k``: O(n) per row, ``top_p``: O(n log n) per row). Memory
    O(memory_budget + kept edges + L n H) besides the model's own activations.

    Examples
    --------
    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=10)).eval()
    >>> graphs = capture_sparse_graphs(model, {"input_ids": torch.arange(6)[None]}, top_k=2)
    >>> [(g.layer, g.num_nodes, g.num_edges, g.is_causal) for g in graphs]
    [(0, 6, 11, True), (1, 6, 11, True)]
    >>> tuple(graphs[0].row_entropy.shape), float(graphs[0].kept_mass[0])
    ((6, 2), 1.0)
    """
    from tgnn.convert.from_model import _mark

    spec = _spec(head_reduction, threshold, top_k, top_p, self_loops, memory_budget)
    fused = _fused(kernel)
    check_model_call(model, inputs, layers, "capture_sparse_graphs")
    base = getattr(model, "base_model", model)
    windowed = as_overflow(overflow).mode == "windows"
    graphs: list[Data | Batch] = []
    for window in context_windows(inputs, model, overflow):  # checked once, run per window
        found, _ = _run(base, window.inputs, spec, layers, memory_budget, window.positions,
                        progress, fused, forward_kwargs)
        graphs += [_mark(g, window) for g in found] if windowed else found
    return graphs
