"""The numbers the explorer page shows: per-token colourings and per-layer graph numbers.

Nothing is computed here that another tgnn module computes: this module only calls
:mod:`tgnn.metrics` and :mod:`tgnn.theory` and arranges their results per layer / head.
Metrics that the installed tgnn does not have yet (looked up by name, see ``_OPTIONAL``) are
left out of the page and listed as unavailable, so they appear as soon as they land.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from torch import Tensor

from tgnn.errors import TgnnError

__all__ = [
    "Quantity",
    "TOKEN_QUANTITIES",
    "LAYER_NUMBERS",
    "available",
    "head_token_values",
    "rollout_to_last",
    "layer_numbers",
]

Scale = Literal["linear", "log"]


@dataclass(frozen=True)
class Quantity:
    """How the page names and scales one quantity (``per_head``: one row per head and the mean)."""

    key: str
    label: str
    scale: Scale
    per_head: bool
    note: str


TOKEN_QUANTITIES: tuple[Quantity, ...] = (
    Quantity("sink_mass", "sink mass", "log", True,
             "mean over queries t >= k of A[t, k] (Gu et al. 2024): how much key k is read"),
    Quantity("entropy", "attention entropy", "linear", True,
             "entropy of query t's attention row (nats)"),
    Quantity("rollout_resistance", "rollout resistance to last token", "log", False,
             "R_roll(s, last) = 1 / Phi[last, s] of the rollout up to this layer (head-mean)"),
    Quantity("absorbing_resistance", "absorbing resistance to last token", "log", True,
             "R_abs(s, last) of this layer's attention walk absorbed at token 0 (causal only)"),
    Quantity("sensitivity", "Jacobian sensitivity of last token", "log", False,
             "||d y_last / d x_s|| at the output of this layer, measured on the model"),
)

LAYER_NUMBERS: tuple[tuple[str, str], ...] = (
    ("spectral_gap", "spectral gap (sym. normalised)"),
    ("total_resistance", "total effective resistance"),
    ("min_curvature", "min balanced Forman curvature (top-k graph)"),
)

# Metrics of other tgnn modules, looked up when used: (module, function, keyword arguments).
_OPTIONAL: dict[str, tuple[str, str, dict[str, Any]]] = {
    "sink_mass": ("tgnn.metrics.attention", "sink_mass", {}),
    "entropy": ("tgnn.metrics.attention", "attention_entropy", {"reduction": "none"}),
    "min_curvature": ("tgnn.metrics.curvature", "balanced_forman_curvature", {}),
}


def _lookup(key: str) -> Callable[..., Any] | None:
    module, name, kwargs = _OPTIONAL[key]
    try:
        metric = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return functools.partial(metric, **kwargs)


def available(key: str) -> bool:
    """Whether the installed tgnn provides the metric behind ``key`` (always True if built in).

    Examples
    --------
    >>> available("rollout_resistance")
    True
    """
    return key not in _OPTIONAL or _lookup(key) is not None


def _absorbing_rows(stack: np.ndarray) -> np.ndarray:
    from tgnn.theory.absorbing import absorbing_resistance

    rows = np.full(stack.shape[:2], np.nan)
    for s, matrix in enumerate(stack):
        try:
            rows[s] = absorbing_resistance(matrix, target=-1)
        except TgnnError:  # assumption H fails for this head: leave it blank
            continue
    return rows


def head_token_values(stack: Tensor, causal: bool) -> dict[str, np.ndarray]:
    """Per-head token values of one layer: ``stack`` is ``[S, n, n]`` (heads, then head-mean).

    Returns ``{key: [S, n]}`` for the per-head quantities the installed tgnn provides
    (absorbing resistance only for causal attention). Cost O(S n^2).

    Examples
    --------
    >>> import torch
    >>> u = torch.tril(torch.ones(4, 4)) / torch.arange(1, 5)[:, None]
    >>> # tokens 0..2: s n / (n - 1); the last: its escape resistance 1 / (1 - A[3, 3])
    >>> head_token_values(u[None], causal=True)["absorbing_resistance"].round(3).tolist()
    [[1.333, 2.667, 4.0, 1.333]]
    """
    out: dict[str, np.ndarray] = {}
    for key in ("sink_mass", "entropy"):
        metric = _lookup(key)
        if metric is not None:
            out[key] = np.asarray(metric(stack), dtype=np.float64).reshape(stack.shape[:2])
    if causal:
        out["absorbing_resistance"] = _absorbing_rows(stack.double().numpy())
    return out


def rollout_to_last(means: Sequence[np.ndarray], rho: float, causal: bool) -> np.ndarray:
    """``[L, n]``: rollout resistance from each token to the last one after layers ``0..l``.

    Row ``l`` is :func:`tgnn.theory.rollout.rollout_resistance` of the head-mean attention of
    layers ``0..l`` with target the last token. Cost O(L^2 n^2).

    Examples
    --------
    >>> u = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    >>> rollout_to_last([u, u], rho=1.0, causal=True)[1].round(3).tolist()  # 1 / (U^2)[2, s]
    [1.636, 3.6, 9.0]
    """
    from tgnn.theory.rollout import rollout_resistance

    return np.stack([
        rollout_resistance(list(means[: l + 1]), rho=rho, target=-1, causal=causal)
        for l in range(len(means))
    ])


def _min_curvature(attention: Tensor, top_k: int | None) -> float:
    metric = _lookup("min_curvature")
    if metric is None:
        return float("nan")
    from tgnn.convert import attention_to_data

    values = np.asarray(metric(attention_to_data(attention, top_k=top_k)), dtype=np.float64)
    finite = values[np.isfinite(values)]  # self-loops are NaN
    return float(finite.min()) if finite.size else float("nan")


def layer_numbers(attention: Tensor, top_k: int | None = None) -> dict[str, float]:
    """Graph numbers of one ``[n, n]`` attention matrix, symmetrised by ``(W + W^T) / 2``.

    Spectral gap (:func:`tgnn.metrics.spectral_gap`) and total effective resistance
    (:func:`tgnn.metrics.total_effective_resistance`) of the full graph; the minimum balanced
    Forman curvature (:func:`tgnn.metrics.balanced_forman_curvature`, NaN when the installed
    tgnn lacks it) of the graph that keeps each query's ``top_k`` strongest keys (all with
    ``None``): on the dense attention graph it is expensive and nearly that of a clique.
    Cost O(n^3) (dense eigen- and pseudo-inverse) plus the curvature's.

    Examples
    --------
    >>> import torch
    >>> u = torch.tril(torch.ones(3, 3)) / torch.arange(1, 4)[:, None]
    >>> round(layer_numbers(u)["total_resistance"], 4)  # R01 = 3, R02 = R12 = 3.75
    10.5
    >>> layer_numbers(u)["min_curvature"]  # triangle K_3: 3 / 2
    1.5
    """
    from tgnn.convert import attention_to_data
    from tgnn.metrics import spectral_gap, total_effective_resistance

    data = attention_to_data(attention)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # disconnected: gap 0, shown as such
        gap = spectral_gap(data)
    return {
        "spectral_gap": gap,
        "total_resistance": total_effective_resistance(data),
        "min_curvature": _min_curvature(attention, top_k),
    }
