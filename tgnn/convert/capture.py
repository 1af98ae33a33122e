r"""Capture attention weights from a Hugging Face ``transformers`` model, one layer at a time.

With SDPA or flash attention ``output_attentions=True`` gives no weights, and eager attention
keeps every layer's ``[B, H, n, n]`` weights until the forward pass ends. tgnn instead registers
its own attention function (``"tgnn_capture"``) with ``transformers.AttentionInterface``: for the
layers asked for it computes the weights once in float32, ``softmax(Q K^T * scale + mask)``, uses
them for the layer output (exactly eager's arithmetic for float32 models), hands them to the
consumer and drops them; other layers run SDPA. The matching mask function is transformers' own
``masking_utils.eager_mask``, registered under the same name so causality and padding reach us.
The model's previous attention implementation is restored afterwards.

Grouped-query attention is expanded to one matrix per query head, as eager attention does.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from tgnn._attention_switch import switched_attention
from tgnn.convert.context import Overflow, fitted_inputs
from tgnn.convert.model_call import LayerCounter, check_model_call, num_layers
from tgnn.errors import AttentionUnavailableError, EmptyInputError, MaskError

__all__ = ["LayerAttention", "CAPTURE_IMPLEMENTATION", "stream_attention", "capture_attention"]

CAPTURE_IMPLEMENTATION = "tgnn_capture"


@dataclass
class LayerAttention:
    """One layer's attention as the forward pass computes it.

    Attributes
    ----------
    layer
        Layer index (0-based).
    weights
        ``[B, H, n, n]`` float32 attention (query heads), on the model's device.
    padding_mask
        ``[B, n]`` boolean, True for real tokens (all True without an attention mask).
    """

    layer: int
    weights: Tensor
    padding_mask: Tensor


@dataclass
class _Session:
    """What the registered attention function needs while one forward pass runs."""

    consume: Callable[[LayerAttention], None]
    padding_mask: Tensor
    layers: Collection[int] | None
    seen: list[int] = field(default_factory=list)
    counter: LayerCounter = field(default_factory=LayerCounter)


_SESSION: contextvars.ContextVar[_Session | None] = contextvars.ContextVar(
    "tgnn_capture_session", default=None
)


def _capture_forward(
    module: torch.nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[Tensor, None]:
    """Attention function registered as ``"tgnn_capture"`` (signature of transformers')."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    session = _SESSION.get()
    layer = session.counter.layer_of(module) if session is not None else -1
    if session is None or (session.layers is not None and layer not in session.layers):
        output, _ = sdpa_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
        )
        return output, None
    if kwargs.get("s_aux") is not None:
        raise AttentionUnavailableError(
            "model: learned attention sinks (s_aux) are not supported by tgnn's capture yet"
        )
    groups = query.shape[1] // key.shape[1]
    if groups > 1:
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    scale = query.shape[-1] ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query.float(), key.float().transpose(2, 3)) * scale
    softcap = kwargs.get("softcap")
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    if attention_mask is not None:
        scores = scores + attention_mask[:, :, :, : key.shape[-2]].float()
    weights = torch.softmax(scores, dim=-1)
    mixing = torch.nn.functional.dropout(weights.to(value.dtype), dropout, module.training)
    output = torch.matmul(mixing, value).transpose(1, 2).contiguous()
    session.seen.append(layer)
    session.consume(LayerAttention(layer, weights.detach(), session.padding_mask))
    return output, None


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(CAPTURE_IMPLEMENTATION, _capture_forward)
    AttentionMaskInterface.register(CAPTURE_IMPLEMENTATION, eager_mask)


def _padding_mask(inputs: Mapping[str, Any]) -> Tensor:
    ids = inputs.get("input_ids")
    reference = ids if ids is not None else inputs.get("inputs_embeds")
    if reference is None:
        raise EmptyInputError("inputs: expected input_ids or inputs_embeds, got neither")
    if reference.shape[1] == 0:
        raise EmptyInputError("inputs: expected at least one token, got an empty sequence")
    mask = inputs.get("attention_mask")
    if mask is None or mask.dim() == 4:
        # a 4D mask ([B, 1, n, n], additive or boolean) says which keys each query may read,
        # not which tokens are padding: every token is a node (a 0 of an additive mask read
        # as a padding flag would turn every real token into padding)
        return torch.ones(reference.shape[:2], dtype=torch.bool, device=reference.device)
    if mask.dim() != 2 or tuple(mask.shape) != tuple(reference.shape[:2]):
        raise MaskError(
            f"inputs['attention_mask']: expected a [B, n] = {list(reference.shape[:2])} padding "
            f"mask or a [B, 1, n, n] attention mask, got shape {list(mask.shape)}"
        )
    return mask.bool()


def stream_attention(
    model: Any,
    inputs: Mapping[str, Any],
    consume: Callable[[LayerAttention], None],
    *,
    layers: Collection[int] | None = None,
    overflow: str | Overflow = "error",
    **forward_kwargs: Any,
) -> Any:
    """Run ``model(**inputs)`` and hand each layer's attention to ``consume`` as it is computed.

    Only one layer's weights are alive at a time (unless ``consume`` keeps them). The forward
    runs under ``torch.no_grad`` with the model's attention switched to ``"tgnn_capture"`` and
    restored afterwards. The input's length is checked against the model's context before
    anything runs (:func:`~tgnn.convert.context.fit_context`).

    Parameters
    ----------
    model
        A ``transformers.PreTrainedModel`` whose attention modules use ``AttentionInterface``
        (GPT-2, BERT, Llama, Mistral, Qwen, ... in transformers 5).
    inputs
        Keyword inputs of the model (``input_ids``, ``attention_mask``, ...).
    consume
        Called with a :class:`LayerAttention` for each captured layer, in layer order.
    layers
        Layer indices to capture (default all); other layers run the fast SDPA kernel.
    overflow
        An input longer than the model's context: ``"error"`` (default), ``"keep_last"`` or
        ``"keep_first"`` (the model runs on the truncated input, and the weights are its), or an
        :class:`~tgnn.convert.context.Overflow`. ``"windows"`` is refused (one forward pass):
        use :func:`~tgnn.convert.from_model.capture_graphs`, or loop over
        :func:`~tgnn.convert.context.fit_context`.

    Returns
    -------
    The model's output.

    Raises
    ------
    ContextLengthError
        The input is longer than the model's context and ``overflow="error"``.
    AttentionUnavailableError
        The model cannot switch attention implementation, or fewer layers than asked came back.
    """
    check_model_call(model, inputs, layers, "stream_attention")
    inputs = fitted_inputs(inputs, model, overflow, "stream_attention")
    return _stream(model, inputs, consume, layers, forward_kwargs)


def _stream(
    model: Any, inputs: Mapping[str, Any], consume: Callable[[LayerAttention], None],
    layers: Collection[int] | None, forward_kwargs: Mapping[str, Any],
) -> Any:
    """:func:`stream_attention` on checked inputs that fit the context."""
    padding = _padding_mask(inputs)
    session = _Session(consume=consume, padding_mask=padding, layers=layers)
    token = _SESSION.set(session)
    try:
        _register()
        purpose = ("capture its attention weights (load it with attn_implementation='eager' "
                   "and use output_attentions=True instead)")
        with switched_attention(model, CAPTURE_IMPLEMENTATION, purpose), torch.no_grad():
            output = model(**inputs, **forward_kwargs)
    finally:
        _SESSION.reset(token)
    wanted = set(range(num_layers(model)) if layers is None else layers)
    missing = sorted(wanted - set(session.seen))
    if missing:
        raise AttentionUnavailableError(
            f"model: expected attention weights from layers {sorted(wanted)}, got none from "
            f"{missing}; this model's attention does not go through transformers' "
            "AttentionInterface"
        )
    return output


class _Cancelled(Exception):
    """Raised inside the forward pass when the consumer of capture_attention stops early."""


def capture_attention(
    model: Any,
    inputs: Mapping[str, Any],
    *,
    layers: Collection[int] | None = None,
    overflow: str | Overflow = "error",
    **forward_kwargs: Any,
) -> Iterator[LayerAttention]:
    """Iterate over each layer's attention while the forward pass is still running.

    The forward runs in a worker thread that waits for the consumer after each captured layer,
    so at most two layers' weights are alive at once, whatever the depth. Stopping the iteration
    early stops the forward pass. Same arguments as :func:`stream_attention`; the context check
    runs at the call, before the forward pass and before the first item is asked for.

    Examples
    --------
    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=10)).eval()
    >>> inputs = {"input_ids": torch.arange(5)[None]}
    >>> [(a.layer, tuple(a.weights.shape)) for a in capture_attention(model, inputs)]
    [(0, (1, 2, 5, 5)), (1, (1, 2, 5, 5))]
    >>> model.config.n_positions = 4  # as if the context were 4 tokens
    >>> capture_attention(model, inputs)
    Traceback (most recent call last):
    ...
    tgnn.errors.ContextLengthError: inputs: 5 tokens exceed the context of GPT2LMHeadModel \
(n_positions = 4); pass overflow='keep_last', 'keep_first' or 'windows'
    """
    check_model_call(model, inputs, layers, "capture_attention")
    inputs = fitted_inputs(inputs, model, overflow, "capture_attention")
    return _capture(model, inputs, layers, forward_kwargs)


def _capture(
    model: Any, inputs: Mapping[str, Any], layers: Collection[int] | None,
    forward_kwargs: dict[str, Any],
) -> Iterator[LayerAttention]:
    handoff: queue.Queue[LayerAttention | BaseException | None] = queue.Queue(maxsize=1)
    cancelled = threading.Event()

    def hand_over(item: LayerAttention | BaseException | None) -> None:
        while not cancelled.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return
            except queue.Full:
                continue
        raise _Cancelled

    def work() -> None:
        try:
            _stream(model, inputs, hand_over, layers, forward_kwargs)
            hand_over(None)
        except _Cancelled:
            pass
        except BaseException as error:  # handed to the consumer's thread and re-raised there
            try:
                hand_over(error)
            except _Cancelled:
                pass

    worker = threading.Thread(target=work, name="tgnn-capture", daemon=True)
    worker.start()
    try:
        while (item := handoff.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        cancelled.set()
        worker.join()
