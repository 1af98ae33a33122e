"""Run a Hugging Face model with another attention implementation, then restore its own.

Shared by the capture (``tgnn.convert.capture``), which needs its registered weight-capturing
attention, and the Jacobian sensitivity (``tgnn.metrics.sensitivity``), which differentiates
eager attention because ``torch.func.vmap`` has no batching rule for fused SDPA backward
kernels. Imports nothing from ``transformers``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tgnn.errors import AttentionUnavailableError

__all__ = ["switched_attention"]

_RUNNING: dict[int, tuple[weakref.ReferenceType[Any], int]] = {}
"""By ``id``: the configs of the models inside a switched block (a causal LM and its
``base_model`` share one config, and with it the attention implementation), and the thread
that switched them."""
_GUARD = threading.Lock()


@contextmanager
def _owned(model: Any, purpose: str) -> Iterator[None]:
    """Mark ``model`` as used by this thread; refuse a model another thread is running.

    ``capture_attention`` runs the forward pass in a worker thread that goes on while the caller
    handles a layer: switching the model's attention from the caller's thread then (for a
    Jacobian, say) would change the implementation under the running forward.
    """
    me = threading.get_ident()
    config = getattr(model, "config", model)
    key = id(config)  # configs are unhashable (they compare by value)
    with _GUARD:
        entry = _RUNNING.get(key)
        owner = entry[1] if entry is not None and entry[0]() is config else None
        if owner is not None and owner != me:
            raise AttentionUnavailableError(
                f"model: {type(model).__name__} is running a forward pass in another thread "
                f"(an unfinished tgnn.capture_attention loop), so tgnn cannot {purpose} now; "
                "finish or break the loop first, or use tgnn.stream_attention with a callback, "
                "which runs in this thread"
            )
        if owner is None:
            _RUNNING[key] = (weakref.ref(config), me)
    try:
        yield
    finally:
        if owner is None:
            with _GUARD:
                _RUNNING.pop(key, None)


@contextmanager
def switched_attention(model: Any, implementation: str | None, purpose: str) -> Iterator[None]:
    """Inside the block ``model`` runs ``implementation`` (``None``: unchanged).

    Raises :class:`~tgnn.errors.AttentionUnavailableError`, saying that tgnn cannot do
    ``purpose``, when the model refuses the switch or ignores it (its layers bypass
    ``transformers.AttentionInterface``), or when another thread is running the model inside
    such a block (an unfinished ``capture_attention`` loop). Nested blocks in one thread work.
    The previous implementation is restored on exit.
    """
    with _owned(model, purpose):
        with _switched(model, implementation, purpose):
            yield


@contextmanager
def _switched(model: Any, implementation: str | None, purpose: str) -> Iterator[None]:
    previous = getattr(model.config, "_attn_implementation", None)
    if implementation is None or implementation == previous:
        yield
        return
    try:
        model.set_attn_implementation(implementation)
    except (ValueError, TypeError, AttributeError) as error:
        raise AttentionUnavailableError(
            f"model: {type(model).__name__} cannot switch its attention implementation "
            f"(currently {previous!r}) to {implementation!r}, so tgnn cannot {purpose}: {error}"
        ) from error
    try:
        if model.config._attn_implementation != implementation:
            raise AttentionUnavailableError(
                f"model: {type(model).__name__} does not use transformers' AttentionInterface "
                f"(attention stays {model.config._attn_implementation!r}), so tgnn cannot "
                f"{purpose}"
            )
        yield
    finally:
        model.set_attn_implementation(previous)
