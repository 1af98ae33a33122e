"""The numbers the explorer page shows: per-token colourings and per-layer graph numbers.

Nothing is computed here that another tgnn module computes: this module only calls
:mod:`tgnn.metrics` and :mod:`tgnn.theory` and arranges their results per layer / head.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from torch import Tensor

from tgnn.errors import TgnnError

__all__ = [
    "Quantity",
    "TOKEN_QUANTITIES",
    "LAYER_NUMBERS",
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

    Returns ``{key: [S, n]}``: sink mass and entropy (:mod:`tgnn.metrics.attention`), and
    absorbing resistance for causal attention. Cost O(S n^2).

    Examples
    --------
    >>> import torch
    >>> u = torch.tril(torch.ones(4, 4)) / torch.arange(1, 5)[:, None]
    >>> # tokens 0..2: s n / (n - 1); the last: its escape resistance 1 / (1 - A[3, 3])
    >>> head_token_values(u[None], causal=True)["absorbing_resistance"].round(3).tolist()
    [[1.333, 2.667, 4.0, 1.333]]
    """
    from tgnn.metrics.attention import attention_entropy, sink_mass

    shape = stack.shape[:2]
    out = {
        "sink_mass": sink_mass(stack).numpy().reshape(shape),
        "entropy": attention_entropy(stack, reduction="none").numpy().reshape(shape),
    }
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
    from tgnn.convert import attention_to_data
    from tgnn.metrics import balanced_forman_curvature

    graph = attention_to_data(attention, top_k=top_k)
    values = balanced_forman_curvature(graph).numpy()
    finite = values[np.isfinite(values)]  # self-loops are NaN
    return float(finite.min()) if finite.size else float("nan")


def layer_numbers(attention: Tensor, top_k: int | None = None) -> dict[str, float]:
    """Graph numbers of one ``[n, n]`` attention matrix, symmetrised by ``(W + W^T) / 2``.

    Spectral gap (:func:`tgnn.metrics.spectral_gap`) and total effective resistance
    (:func:`tgnn.metrics.total_effective_resistance`) of the full graph; the minimum balanced
    Forman curvature (:func:`tgnn.metrics.balanced_forman_curvature`) of the graph that keeps
    each query's ``top_k`` strongest keys (all with
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
