"""Cheap estimates of the Jacobian sensitivity and of its cost (companions of
:mod:`tgnn.metrics.sensitivity`).

:func:`probe_sensitivity` estimates the Frobenius norms ``||dy_i^(l) / dx_s||_F`` of
:func:`tgnn.metrics.sensitivity.jacobian_sensitivity` with random probes (Hutchinson 1990:
``E ||J^T v||^2 = ||J||_F^2`` for probes ``v`` with identity covariance), ``num_probes`` backward
passes per target and layer instead of ``d``, with a standard error.
:func:`jacobian_seconds_estimate` estimates the exact computation's wall time from one timed
forward pass and a batch of backward passes, so a caller can choose between the two.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.func import vjp, vmap

from tgnn._attention_switch import switched_attention
from tgnn.errors import OptionError
from tgnn.metrics._input import integer
from tgnn.metrics.sensitivity import (
    _default_chunk,
    _forward_fn,
    _frozen,
    _prepare,
    _targets_layers,
)

__all__ = ["ProbeSensitivity", "TIMED_PASSES", "jacobian_seconds_estimate", "probe_sensitivity"]


@dataclass(frozen=True)
class ProbeSensitivity:
    """A random-probe estimate of the Frobenius sensitivity, with its standard error.

    All tensors have the shape of
    :func:`~tgnn.metrics.sensitivity.jacobian_sensitivity`'s result,
    ``[len(layers), len(targets), n]``.

    Attributes
    ----------
    squared
        Unbiased estimate of ``S^2 = ||J[l, t, s]||_F^2``: the mean over probes.
    squared_stderr
        Its standard error: the sample standard deviation over probes over
        ``sqrt(num_probes)``.
    value
        ``sqrt(squared)``, the estimate of ``S`` (consistent; biased low by at most
        ``O(1 / num_probes)`` relative, by Jensen's inequality).
    stderr
        Standard error of ``value`` by the delta method, ``squared_stderr / (2 value)``
        (0 where ``value`` is 0: then every probe gave exactly 0, as for a token a causal
        target cannot see).
    num_probes
        Probes per target and layer.
    """

    squared: torch.Tensor
    squared_stderr: torch.Tensor
    value: torch.Tensor
    stderr: torch.Tensor
    num_probes: int


def _probe_vectors(count: int, d: int, distribution: str, seed: int) -> torch.Tensor:
    """``[count, d]`` probes with identity covariance, drawn on the CPU (same on any device)."""
    generator = torch.Generator().manual_seed(seed)
    if distribution == "rademacher":
        return torch.randint(0, 2, (count, d), generator=generator).double() * 2 - 1
    if distribution == "gaussian":
        return torch.randn(count, d, generator=generator, dtype=torch.float64)
    raise OptionError(f"distribution: expected 'rademacher' or 'gaussian', got {distribution!r}")


def probe_sensitivity(
    model: Any, input_ids: torch.Tensor | None = None, *, inputs_embeds: torch.Tensor | None = None,
    targets: Sequence[int] | None = None, layers: Sequence[int] | None = None,
    num_probes: int = 16, seed: int = 0, distribution: str = "rademacher",
    chunk_size: int | None = None, attn_implementation: str | None = "eager",
) -> ProbeSensitivity:
    """Random-probe estimate of :func:`~tgnn.metrics.sensitivity.jacobian_sensitivity`
    (Frobenius norm) with error bars.

    For a block ``J = J[l, t, s]`` (``d_out x d_in``) and a probe ``v`` in ``R^{d_out}`` with
    ``E[v v^T] = I``, ``E ||J^T v||^2 = tr(J^T E[v v^T] J) = ||J||_F^2`` (Hutchinson 1990).
    One vector-Jacobian product with ``v`` placed at target ``t`` of layer ``l`` gives
    ``J[l, t, s]^T v`` for every source ``s`` at once, so ``num_probes`` backward passes per
    target and layer replace the exact method's ``d``. The variance of one probe is
    ``2 (||A||_F^2 - sum_i A_ii^2)`` for Rademacher probes (default) and ``2 ||A||_F^2`` for
    Gaussian ones, ``A = J J^T``; the standard error falls as ``1 / sqrt(num_probes)``.
    Reference: Hutchinson, "A stochastic estimator of the trace of the influence matrix for
    Laplacian smoothing splines", Commun. Stat. Simul. Comput. 19 (1990); Avron & Toledo,
    J. ACM 58 (2011) for the variances.

    Parameters
    ----------
    num_probes
        Probes per target and layer (at least 2, for the standard error).
    seed
        Seed of the probes (drawn on the CPU, so the same on every device).
    distribution
        ``"rademacher"`` (entries +-1) or ``"gaussian"``.
    chunk_size, attn_implementation
        As in :func:`tgnn.metrics.sensitivity.jacobian_blocks`.

    Returns
    -------
    ProbeSensitivity
        The estimate of ``S`` and of ``S^2`` with standard errors, each
        ``[len(layers), len(targets), n]`` in the model's dtype.

    Examples
    --------
    >>> from tgnn.models import random_config_model
    >>> m, tok = random_config_model("gpt2", seed=0, n_layer=1, hidden=8, n_head=2)
    >>> est = probe_sensitivity(m, tok("abcd")["input_ids"], targets=[1], num_probes=4)
    >>> est.value.shape, bool((est.value[0, 0, 2:] == 0).all()), est.num_probes
    (torch.Size([1, 1, 5]), True, 4)
    """
    x = _prepare(model, input_ids, inputs_embeds)
    t, ls = _targets_layers(model, x.shape[0], targets, layers)
    probes = integer(num_probes, "num_probes", minimum=2, error=OptionError)
    if chunk_size is not None:
        chunk_size = integer(chunk_size, "chunk_size", minimum=1, error=OptionError)
    purpose = (f"differentiate it with attn_implementation={attn_implementation!r} "
               "(pass attn_implementation=None to keep its own)")
    with switched_attention(model, attn_implementation, purpose), _frozen(model):
        y, pullback = vjp(_forward_fn(model, t, ls), x)[:2]
        slots, d = len(ls) * len(t), y.shape[-1]
        v = _probe_vectors(slots * probes, d, distribution, seed).to(y)  # row k: slot k // P
        step = chunk_size or _default_chunk(model, x.shape[0], slots * probes, y.device.type)
        samples = []
        for start in range(0, slots * probes, step):
            rows = torch.arange(start, min(start + step, slots * probes), device=y.device)
            cotangents = y.new_zeros(len(rows), slots, d)
            cotangents[torch.arange(len(rows)), rows // probes] = v[rows]
            grads = vmap(pullback)(cotangents.reshape(len(rows), *y.shape))[0]  # [c, n, d_in]
            samples.append(grads.pow(2).sum(-1))
    z = torch.cat(samples).reshape(len(ls), len(t), probes, x.shape[0])
    squared, spread = z.mean(2), z.var(2) / probes
    value = squared.sqrt()
    squared_stderr = spread.sqrt()
    stderr = torch.where(value > 0, squared_stderr / (2 * value), torch.zeros_like(value))
    return ProbeSensitivity(squared, squared_stderr, value, stderr, probes)


TIMED_PASSES = 8
"""Backward passes that :func:`jacobian_seconds_estimate` times as one batch."""


def _synchronized(device: torch.device) -> float:
    """``time.perf_counter()`` after the device's queued work (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def jacobian_seconds_estimate(
    model: Any, n: int, *, num_targets: int = 1, num_layers: int = 1,
    num_probes: int | None = None, attn_implementation: str | None = "eager",
) -> float:
    """Estimated wall time (seconds) of
    :func:`~tgnn.metrics.sensitivity.jacobian_sensitivity` on ``n`` tokens.

    An estimate, not a measurement of the Jacobian: times one forward pass ``t_f`` on ``n``
    tokens and one batch of ``c = min(TIMED_PASSES, chunk)`` backward passes (``vmap`` over
    ``c`` cotangents, after a one-pass warm-up at the same size), and returns
    ``t_f + k t_b`` with ``t_b`` the time per pass and ``k = num_layers * num_targets * d``
    passes, or ``k = num_layers * num_targets * num_probes`` for :func:`probe_sensitivity`.
    Costs about ``c + 1`` backward passes. The real run batches up to ``chunk`` passes: on a
    GPU (256 at a time) it is faster than estimated, on a CPU about the same.

    Examples
    --------
    >>> from tgnn.models import random_config_model
    >>> m, _ = random_config_model("gpt2", seed=0, n_layer=1, hidden=8, n_head=2)
    >>> 0 < jacobian_seconds_estimate(m, 16) < 60
    True
    """
    n = integer(n, "n", minimum=1, error=OptionError)
    width = int(model.get_input_embeddings().weight.shape[-1])
    per_slot = width if num_probes is None else integer(num_probes, "num_probes", minimum=1,
                                                        error=OptionError)
    k = (integer(num_targets, "num_targets", minimum=1, error=OptionError)
         * integer(num_layers, "num_layers", minimum=1, error=OptionError) * per_slot)
    vocab = int(model.get_input_embeddings().weight.shape[0])
    x = _prepare(model, torch.arange(n) % vocab, None)
    forward = _forward_fn(model, torch.tensor([n - 1]), [int(model.config.num_hidden_layers)])
    with switched_attention(model, attn_implementation, "time a forward and backward pass"), \
            _frozen(model):
        begin = _synchronized(x.device)
        y, pullback = vjp(forward, x)[:2]
        forward_s = _synchronized(x.device) - begin
        c = min(TIMED_PASSES, y.numel(), _default_chunk(model, n, y.numel(), x.device.type))
        cotangents = torch.eye(y.numel(), dtype=y.dtype, device=y.device)[:c]
        cotangents = cotangents.reshape(c, *y.shape)
        vmap(pullback)(cotangents[:1])  # warm-up: allocations at this size
        begin = _synchronized(x.device)
        vmap(pullback)(cotangents)
        per_pass = (_synchronized(x.device) - begin) / c
    return forward_s + k * per_pass
