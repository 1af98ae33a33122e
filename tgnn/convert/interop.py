r"""Attention from the tools researchers already use: TransformerLens caches and nnsight traces.

Both hand tgnn the same :class:`~tgnn.convert.capture.LayerAttention` items that
:func:`~tgnn.convert.capture.capture_attention` yields (layer index, ``[B, H, n, n]`` weights
where ``A[i, j]`` is how much query ``i`` reads key ``j``, and a ``[B, n]`` padding mask), so
everything downstream (:func:`~tgnn.convert.to_graph.attention_to_data`, the metrics) takes
them unchanged. Neither package is imported here: a TransformerLens cache is read as a mapping
of hook names to tensors, and an nnsight model is used through the Hugging Face model it wraps.

- :func:`lens_attention` reads TransformerLens' ``blocks.{l}.attn.hook_pattern`` entries
  (``[B, H, q, k]``, rows are queries) from an ``ActivationCache`` or any mapping.
- :func:`record_attention` records, with tgnn's own capture (float32 weights, fast kernel for
  the layer output), every forward pass of a Hugging Face model that runs inside the block:
  an nnsight ``model.trace(...)`` with its interventions, or any other caller.
- :func:`attention_layers` wraps tensors saved by hand (eager ``attn.output[1]`` in an nnsight
  trace, say) the same way, after checking them.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor

from tgnn._attention_switch import switched_attention
from tgnn._checks import check_attention
from tgnn.convert.capture import (
    _SESSION,
    CAPTURE_IMPLEMENTATION,
    LayerAttention,
    _padding_mask,
    _register,
    _Session,
)
from tgnn.convert.model_call import LayerCounter, num_layers
from tgnn.errors import AttentionUnavailableError, EmptyInputError, MaskError, ShapeError

__all__ = ["LENS_PATTERN", "attention_layers", "lens_attention", "record_attention"]

LENS_PATTERN = "blocks.{layer}.attn.hook_pattern"
"""TransformerLens' hook name of layer ``layer``'s attention pattern (after softmax)."""

_LENS_KEY = re.compile(r"blocks\.(\d+)\.attn\.hook_pattern")


def _keep_mask(padding_mask: Tensor | None, batch: int, n: int, device: torch.device) -> Tensor:
    if padding_mask is None:
        return torch.ones(batch, n, dtype=torch.bool, device=device)
    if not isinstance(padding_mask, Tensor) or tuple(padding_mask.shape) != (batch, n):
        shown = tuple(padding_mask.shape) if isinstance(padding_mask, Tensor) else padding_mask
        raise MaskError(
            f"padding_mask: expected a [B, n] = [{batch}, {n}] tensor (True or 1 for real "
            f"tokens), got {shown!r}"
        )
    return padding_mask.to(device=device).bool()


def attention_layers(
    patterns: Sequence[Tensor],
    padding_mask: Tensor | None = None,
    *,
    layers: Sequence[int] | None = None,
) -> list[LayerAttention]:
    r"""Check per-layer attention tensors and wrap them as :class:`LayerAttention` items.

    Parameters
    ----------
    patterns
        One tensor per layer, ``[B, H, n, n]`` (or ``[H, n, n]`` for one sequence) with
        ``patterns[l][b, h, i, j]`` the weight of query ``i`` on key ``j``: the layout of
        eager ``output_attentions``, of TransformerLens' ``hook_pattern`` and of nnsight's
        saved eager ``attn.output[1]``. All layers share ``B``, ``H`` and ``n``.
    padding_mask
        ``[B, n]``, True (or 1) for real tokens; default all real. Rows of padding queries are
        not checked, and :func:`~tgnn.convert.to_graph.attention_to_data` drops their nodes.
    layers
        The layer index of each tensor (default ``0 .. L-1``).

    Returns
    -------
    list of LayerAttention
        Weights in float32 (float64 kept), on their own device; no copy for float32 input.

    Raises
    ------
    ShapeError, NotStochasticError, NonFiniteError
        ``patterns`` is not a sequence, a tensor is not ``[(B,) H, n, n]``, the layers disagree
        in shape, or a real query's row is not a probability distribution (rows sum to one).
    EmptyInputError
        ``patterns`` is empty.
    MaskError
        ``padding_mask`` is not ``[B, n]``.

    Examples
    --------
    >>> A = torch.tensor([[[1.0, 0.0], [0.25, 0.75]]])  # [H=1, n=2, n=2]
    >>> [(a.layer, tuple(a.weights.shape)) for a in attention_layers([A, A], layers=[2, 3])]
    [(2, (1, 1, 2, 2)), (3, (1, 1, 2, 2))]
    """
    if isinstance(patterns, Tensor) or not isinstance(patterns, Sequence):
        raise ShapeError(
            "patterns: expected a sequence (list) of [B, H, n, n] tensors, one per layer, got "
            f"{type(patterns).__name__}"
        )
    if not patterns:
        raise EmptyInputError("patterns: expected at least one layer, got an empty sequence")
    indices = list(range(len(patterns))) if layers is None else list(layers)
    if len(indices) != len(patterns):
        raise ShapeError(
            f"layers: expected one index per pattern ({len(patterns)}), got {len(indices)}"
        )
    shape: tuple[int, ...] | None = None
    keep: Tensor | None = None
    items: list[LayerAttention] = []
    for index, pattern in zip(indices, patterns, strict=True):
        name = f"patterns[{len(items)}] (layer {index})"
        check_attention(pattern, name, min_dim=3, max_dim=4, check_values=False)
        weights = pattern.unsqueeze(0) if pattern.dim() == 3 else pattern
        if shape is not None and tuple(weights.shape) != shape:
            raise ShapeError(
                f"{name}: expected the shape of the first layer {list(shape)}, got "
                f"{list(weights.shape)}"
            )
        shape = tuple(weights.shape)
        if keep is None:
            keep = _keep_mask(padding_mask, shape[0], shape[-1], weights.device)
        if weights.dtype != torch.float64:
            weights = weights.float()
        check_attention(weights.detach(), name, row_mask=keep[:, None, :])
        items.append(LayerAttention(int(index), weights.detach(), keep))
    return items


def lens_attention(
    cache: Any,
    *,
    layers: Collection[int] | None = None,
    padding_mask: Tensor | None = None,
) -> list[LayerAttention]:
    """The attention patterns of a TransformerLens ``ActivationCache``, one item per layer.

    Reads ``cache["blocks.{l}.attn.hook_pattern"]`` (``[B, H, q, k]``, or ``[H, q, k]`` when
    the cache was made with ``remove_batch_dim=True``): TransformerLens stores the softmax
    pattern with queries as rows, the layout of :class:`LayerAttention`, so the weights are
    taken as they are (no transpose) and checked by :func:`attention_layers`.

    Parameters
    ----------
    cache
        A ``transformer_lens.ActivationCache`` (from ``model.run_with_cache(tokens)`` of a
        ``TransformerBridge``, or a ``HookedTransformer`` before TransformerLens 4), or any
        mapping with ``keys()`` and ``[name]``. To cache only the patterns, run with
        ``names_filter=lambda name: name.endswith("hook_pattern")``.
    layers
        Layer indices to read (default every layer the cache holds a pattern of).
    padding_mask
        ``[B, n]``, True for real tokens (TransformerLens' ``attention_mask`` when the batch
        was padded); default all real.

    Returns
    -------
    list of LayerAttention
        In increasing layer order.

    Raises
    ------
    AttentionUnavailableError
        The cache holds no pattern, or not one of the layers asked for.

    Examples
    --------
    >>> A = torch.tensor([[[[1.0, 0.0], [0.5, 0.5]]]])  # [B=1, H=1, n=2, n=2]
    >>> cache = {"blocks.0.attn.hook_pattern": A, "blocks.1.attn.hook_pattern": A,
    ...          "blocks.1.attn.hook_z": torch.zeros(1, 2, 1, 4)}
    >>> [item.layer for item in lens_attention(cache)]
    [0, 1]
    >>> lens_attention(cache, layers=[2])
    Traceback (most recent call last):
    ...
    tgnn.errors.AttentionUnavailableError: cache: expected the pattern of layers [2] \
(blocks.2.attn.hook_pattern), got patterns of layers [0, 1]
    """
    if not callable(getattr(cache, "keys", None)):
        raise AttentionUnavailableError(
            "cache: expected a TransformerLens ActivationCache or a mapping of hook names to "
            f"tensors, got {type(cache).__name__}"
        )
    found = sorted(int(match[1]) for key in cache.keys() if (match := _LENS_KEY.fullmatch(key)))
    wanted = found if layers is None else sorted(layers)
    missing = [layer for layer in wanted if layer not in found]
    if not found or missing:
        asked = "any layer" if layers is None else f"layers {wanted}"
        first = LENS_PATTERN.format(layer=missing[0] if missing else "{l}")
        raise AttentionUnavailableError(
            f"cache: expected the pattern of {asked} ({first}), got patterns of layers {found}"
            + ("" if found else "; run_with_cache must not filter out the hook_pattern hooks")
        )
    patterns = [cache[LENS_PATTERN.format(layer=layer)] for layer in wanted]
    return attention_layers(patterns, padding_mask, layers=wanted)


def _call_inputs(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict:
    """The keyword inputs of a forward call (positional ones named after ``forward``)."""
    try:
        bound = inspect.signature(module.forward).bind_partial(*args, **kwargs)
    except TypeError:
        return dict(kwargs)
    return dict(bound.arguments)


@contextmanager
def record_attention(
    model: Any, *, layers: Collection[int] | None = None
) -> Iterator[list[LayerAttention]]:
    r"""Record each layer's attention of every forward pass that ``model`` runs in the block.

    Inside the block the model's attention runs as tgnn's capture (``"tgnn_capture"``, see
    :mod:`tgnn.convert.capture`: weights computed once in float32, exactly eager's arithmetic
    for float32 models, and used for the layer output); the model's own implementation is
    restored on exit. Whatever calls the model in between is recorded: an nnsight
    ``model.trace(...)`` (with its interventions, which change the recorded attention of later
    layers as they change the model) or a plain call. The padding mask of each pass is read
    from its ``attention_mask`` input. (A TransformerLens bridge replaces the model's attention
    modules with its own: read its cache with :func:`lens_attention` instead.)

    Parameters
    ----------
    model
        A ``transformers.PreTrainedModel``, or an nnsight ``NNsight`` / ``TransformersModel``
        wrapping one (its ``config`` and ``set_attn_implementation`` reach the wrapped model).
    layers
        Layer indices to record (default all); other layers run the fast SDPA kernel.

    Yields
    ------
    list of LayerAttention
        Empty inside the block; after it, ``len(layers)`` items per forward pass, in the order
        they were computed.

    Raises
    ------
    AttentionUnavailableError
        The model cannot switch to tgnn's capture, or a pass did not give every layer asked for.
    ShapeError
        ``layers`` names a layer the model does not have, or a pass attended from fewer
        queries than keys (``generate`` with a key/value cache): record one full forward pass
        (``model.trace``) instead.
    EmptyInputError
        No forward pass ran inside the block.

    Examples
    --------
    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=10)).eval()
    >>> with record_attention(model) as recorded, torch.no_grad():
    ...     _ = model(torch.arange(5)[None])
    >>> [(a.layer, tuple(a.weights.shape)) for a in recorded]
    [(0, (1, 2, 5, 5)), (1, (1, 2, 5, 5))]
    """
    depth = num_layers(model)
    wrong = [layer for layer in layers or () if not 0 <= layer < depth]
    if wrong:
        raise ShapeError(
            f"layers: expected indices in 0 .. {depth - 1} (the model has {depth} layers), "
            f"got {wrong}"
        )
    recorded: list[LayerAttention] = []
    session = _Session(consume=recorded.append, padding_mask=torch.ones(0, dtype=torch.bool),
                       layers=None if layers is None else set(layers))
    passes: list[int] = []

    def start_pass(hooked: torch.nn.Module, args: tuple[Any, ...], kwargs: dict) -> None:
        session.padding_mask = _padding_mask(_call_inputs(hooked, args, kwargs))
        session.counter = LayerCounter()
        passes.append(len(recorded))

    # an nnsight Envoy hands these attributes (and config) on to the module it wraps
    hook = model.register_forward_pre_hook(start_pass, with_kwargs=True)
    token = _SESSION.set(session)
    try:
        _register()
        with switched_attention(model, CAPTURE_IMPLEMENTATION, "record its attention weights"):
            yield recorded
    finally:
        _SESSION.reset(token)
        hook.remove()
    _check_passes(recorded, passes, layers, depth)


def _check_passes(
    recorded: list[LayerAttention], passes: list[int], layers: Collection[int] | None, depth: int
) -> None:
    """Every pass gave each wanted layer once, with square weights."""
    if recorded and (not passes or passes[0] > 0):
        raise AttentionUnavailableError(
            "record_attention: attention ran outside a call of the model given (a submodule "
            "such as model.base_model was called directly); pass that submodule instead"
        )
    if not passes:
        raise EmptyInputError(
            "record_attention: expected a forward pass of the model inside the block (an "
            "nnsight model.trace(...) or a model call), got none"
        )
    wanted = sorted(range(depth) if layers is None else set(layers))
    for number, (start, end) in enumerate(zip(passes, [*passes[1:], len(recorded)], strict=True)):
        got = sorted(item.layer for item in recorded[start:end])
        if got != wanted:
            raise AttentionUnavailableError(
                f"model: expected attention weights from layers {wanted} in forward pass "
                f"{number}, got {got}; this model's attention does not go through "
                "transformers' AttentionInterface (or a wrapper such as a TransformerLens "
                "bridge replaced its attention modules)"
            )
        queries, keys = recorded[start].weights.shape[-2:]
        if queries != keys:
            raise ShapeError(
                f"record_attention: forward pass {number} attended from {queries} queries to "
                f"{keys} keys (generation with a key/value cache); record one full forward "
                "pass (nnsight's model.trace) instead"
            )
