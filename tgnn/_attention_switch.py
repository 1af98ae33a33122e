"""Run a Hugging Face model with another attention implementation, then restore its own.

Shared by the capture (``tgnn.convert.capture``), which needs its registered weight-capturing
attention, and the Jacobian sensitivity (``tgnn.metrics.sensitivity``), which differentiates
eager attention because ``torch.func.vmap`` has no batching rule for fused SDPA backward
kernels. Imports nothing from ``transformers``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tgnn.errors import AttentionUnavailableError

__all__ = ["switched_attention"]


@contextmanager
def switched_attention(model: Any, implementation: str | None, purpose: str) -> Iterator[None]:
    """Inside the block ``model`` runs ``implementation`` (``None``: unchanged).

    Raises :class:`~tgnn.errors.AttentionUnavailableError`, saying that tgnn cannot do
    ``purpose``, when the model refuses the switch or ignores it (its layers bypass
    ``transformers.AttentionInterface``). The previous implementation is restored on exit.
    """
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
