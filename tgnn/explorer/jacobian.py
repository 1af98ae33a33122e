"""Whether and how the explorer measures the Jacobian sensitivity of the last token.

The exact sensitivity (:func:`tgnn.metrics.sensitivity.jacobian_sensitivity`) costs ``d``
backward passes per layer and ``L n d^2`` floats; the random-probe estimate
(:func:`tgnn.metrics.sensitivity_estimates.probe_sensitivity`) costs ``num_probes`` passes per
layer and comes with a standard error. The automatic choice (``mode=None``) takes both memory
and time into account, with the time estimated by
:func:`tgnn.metrics.sensitivity_estimates.jacobian_seconds_estimate` (timed on at most
``TIMING_TOKENS`` tokens): exact when it fits both budgets, else the probe estimate when that
fits the time budget, else nothing, and the page says why and how to ask for it.
"""

from __future__ import annotations

from typing import Any, Literal

from tgnn.errors import ShapeError
from tgnn.explorer.payload import Sensitivity

__all__ = ["SENSITIVITY_MAX_BYTES", "BACKWARD_MAX_BYTES", "JACOBIAN_BUDGET_S", "TIMING_TOKENS",
           "NUM_PROBES", "SensitivityMode", "measured_sensitivity"]

SENSITIVITY_MAX_BYTES = 256 * 2**20
"""Largest exact Jacobian (``L n d^2`` floats) measured automatically."""

BACKWARD_MAX_BYTES = 2**30
"""Largest eager-attention backward (``2 L H n^2`` float32 scores and weights kept for
autograd) that the automatic choice runs, even only to time it."""

JACOBIAN_BUDGET_S = 20.0
"""Seconds the automatic choice may spend on the sensitivity."""

TIMING_TOKENS = 256
"""Longer inputs are timed at this length and scaled by ``(n / 256)^2`` (attention's cost; an
over-estimate where the rest of the model dominates), so choosing costs at most one backward
batch at 256 tokens."""

NUM_PROBES = 16
"""Random probes per layer of the estimate (standard error about ``1 / sqrt(2 * 16)``)."""

SensitivityMode = bool | Literal["probe"] | None

_ASK = "pass sensitivity=True (tgnn view --sensitivity exact) to measure it anyway"


def _exact(model: Any, ids: Any, layers: list[int]) -> Sensitivity:
    from tgnn.metrics.sensitivity import jacobian_sensitivity

    n = int(ids.shape[-1])
    values = jacobian_sensitivity(model, ids.to(model.device), targets=[n - 1], layers=layers)
    return Sensitivity(values[:, 0].double().cpu().numpy(), None, "exact Jacobian", "")


def _probe(model: Any, ids: Any, layers: list[int], probes: int) -> Sensitivity:
    from tgnn.metrics.sensitivity_estimates import probe_sensitivity

    n = int(ids.shape[-1])
    est = probe_sensitivity(model, ids.to(model.device), targets=[n - 1], layers=layers,
                            num_probes=probes)
    return Sensitivity(est.value[:, 0].double().cpu().numpy(),
                       est.stderr[:, 0].double().cpu().numpy(),
                       f"random-probe estimate, {probes} probes, +- 1 standard error", "")


def _seconds(model: Any, n: int, num_layers: int, num_probes: int | None = None) -> float:
    """:func:`~tgnn.metrics.sensitivity_estimates.jacobian_seconds_estimate`, timed at no more than
    ``TIMING_TOKENS`` and scaled by ``(n / TIMING_TOKENS)^2`` beyond."""
    from tgnn.metrics.sensitivity_estimates import jacobian_seconds_estimate

    m = min(n, TIMING_TOKENS)
    seconds = jacobian_seconds_estimate(model, m, num_layers=num_layers, num_probes=num_probes)
    return seconds * (n / m) ** 2


def measured_sensitivity(
    model: Any, input_ids: Any, num_layers: int, mode: SensitivityMode = None, *,
    budget_s: float = JACOBIAN_BUDGET_S, num_probes: int = NUM_PROBES,
) -> Sensitivity:
    """The ``[L, n]`` sensitivity of the last token at each layer output, or why it is missing.

    ``mode``: ``True`` exact, ``"probe"`` the random-probe estimate, ``False`` none, ``None``
    automatic: none when one backward pass through eager attention would keep more than
    ``BACKWARD_MAX_BYTES`` (both methods differentiate it; the time estimate runs one), else
    exact if it needs at most ``SENSITIVITY_MAX_BYTES`` and about ``budget_s`` seconds, else
    the estimate if it takes at most ``budget_s``, else none (times from
    :func:`~tgnn.metrics.sensitivity_estimates.jacobian_seconds_estimate`, see ``TIMING_TOKENS``).
    """
    if mode not in (True, False, None, "probe"):
        raise ShapeError(f"sensitivity: expected True, False, None or 'probe', got {mode!r}")
    layers = list(range(1, num_layers + 1))
    if mode is False:
        return Sensitivity(note="turned off (sensitivity=False)")
    if mode is True:
        return _exact(model, input_ids, layers)
    if mode == "probe":
        return _probe(model, input_ids, layers, num_probes)
    n = int(input_ids.shape[-1])
    d = int(model.get_input_embeddings().weight.shape[-1])
    heads = int(getattr(model.config, "num_attention_heads", 1))
    backward = 8 * num_layers * heads * n * n
    if backward > BACKWARD_MAX_BYTES:
        return Sensitivity(note=(f"skipped: differentiating {n} tokens through eager attention "
                                 f"keeps about {backward / 2**30:.1f} GiB; {_ASK}"))
    size = 4 * num_layers * n * d * d
    exact_s = _seconds(model, n, num_layers)
    if size <= SENSITIVITY_MAX_BYTES and exact_s <= budget_s:
        return _exact(model, input_ids, layers)
    why = (f"the exact Jacobian needs about {size / 2**20:.0f} MiB"
           if size > SENSITIVITY_MAX_BYTES else
           f"the exact Jacobian would take about {exact_s:.0f} s (budget {budget_s:.0f} s)")
    probe_s = _seconds(model, n, num_layers, num_probes)
    if probe_s <= budget_s:
        found = _probe(model, input_ids, layers, num_probes)
        found.method += f"; {why}: {_ASK}"
        return found
    return Sensitivity(note=(f"skipped: {why}, the {num_probes}-probe estimate about "
                             f"{probe_s:.0f} s (budget {budget_s:.0f} s); {_ASK}, "
                             "or sensitivity='probe' (tgnn view --sensitivity probe) for the "
                             "estimate"))
