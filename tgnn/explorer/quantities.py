r"""The numbers the explorer page shows, per layer and slot (heads, then the heads' mean).

Row facts come from the full attention rows (dense matrices, or the exact node attributes of a
sparse capture, :func:`tgnn.capture_sparse_graphs`); nothing here needs ``n x n`` per head on
the sparse path. Per slot ``s`` of ``S = H + 1`` (heads ``0..H-1``, then the mean):

- ``entropy`` :math:`-\sum_j A^h_{ij} \log A^h_{ij}` of query ``i``'s row (nats); the last slot
  is the *mean over heads of the row entropies* (not the entropy of the head-mean row);
- ``first_token_mass`` :math:`A^h_{i,0}` (mean over heads in the last slot);
- ``sink_mass`` :math:`\alpha_k = \frac{1}{|T_k|}\sum_{t \in T_k} A^h_{t,k}` with ``T_k`` the
  queries that can read key ``k`` (``t >= k`` for causal attention, all queries otherwise; Gu
  et al. 2024), computed from the column sums;
- ``drawn_mass`` the share of query ``i``'s row the page stores (its top-k edges).

Profiles over positions, per layer: the rollout resistance to the last token (head-mean,
:func:`tgnn.theory.rollout_row`) and the measured Jacobian sensitivity (when measured).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "Quantity",
    "ROW_QUANTITIES",
    "PROFILES",
    "LAYER_NUMBERS",
    "dense_row_facts",
    "sparse_row_facts",
    "rollout_resistance_rows",
    "layer_numbers",
]

Scale = Literal["linear", "log"]


@dataclass(frozen=True)
class Quantity:
    """How the page names and scales one quantity."""

    key: str
    label: str
    scale: Scale
    note: str


ROW_QUANTITIES: tuple[Quantity, ...] = (
    Quantity("sink_mass", "sink mass", "log",
             "mean attention key k receives from the queries that can read it (Gu et al. 2024)"),
    Quantity("entropy", "row entropy", "linear",
             "entropy of query t's full attention row (nats); head-mean slot: mean over heads"),
    Quantity("drawn_mass", "drawn (kept) mass", "linear",
             "share of query t's attention row carried by the edges the page stores (top-k)"),
    Quantity("first_token_mass", "first-token mass", "linear",
             "attention query t gives to token 0 (the usual sink)"),
)

PROFILES: tuple[Quantity, ...] = (
    Quantity("rollout_resistance", "rollout resistance to last token", "log",
             "1 / Phi[last, s] of the head-mean rollout through layers 0..l (rho residual)"),
    Quantity("sensitivity", "Jacobian sensitivity of last token", "log",
             "||d y_last / d x_s||_F at the output of layer l, measured on the model"),
)

LAYER_NUMBERS: tuple[tuple[str, str], ...] = (
    ("spectral_gap", "spectral gap (sym. normalised)"),
    ("total_resistance", "total effective resistance"),
    ("min_curvature", "min balanced Forman curvature"),
)


def _sink(columns: Tensor, causal: bool) -> Tensor:
    """``[S, n]`` sink mass from ``[S, n]`` column sums."""
    n = columns.shape[-1]
    counts = (torch.arange(n, 0, -1, dtype=columns.dtype) if causal
              else torch.full((n,), float(n), dtype=columns.dtype))
    return columns / counts


def _with_mean(per_head: Tensor) -> Tensor:
    """``[H, n]`` -> ``[H + 1, n]``: the heads, then their mean."""
    return torch.cat([per_head, per_head.mean(0, keepdim=True)])


def dense_row_facts(layer: Tensor, causal: bool) -> dict[str, np.ndarray]:
    """Row facts (``{key: [H + 1, n]}``) of one dense layer ``[H, n, n]``. Cost O(H n^2).

    Examples
    --------
    >>> u = torch.tril(torch.ones(3, 3)) / torch.arange(1, 4)[:, None]
    >>> facts = dense_row_facts(u[None].double(), causal=True)
    >>> facts["sink_mass"][0].round(4).tolist()  # (1 + 1/2 + 1/3) / 3, (1/2 + 1/3) / 2, 1/3
    [0.6111, 0.4167, 0.3333]
    """
    from tgnn.metrics.attention import attention_entropy

    a = layer.double()
    facts = {
        "entropy": attention_entropy(a, reduction="none").reshape(a.shape[:2]),
        "first_token_mass": a[:, :, 0],
        "sink_mass": _sink(a.sum(-2), causal),
    }
    return {key: _with_mean(value).float().numpy() for key, value in facts.items()}


def sparse_row_facts(data: Any, causal: bool) -> dict[str, np.ndarray]:
    """Row facts (``{key: [H + 1, n]}``) from a sparse capture's node attributes. Cost O(H n).

    Uses ``row_entropy``, ``first_token_mass`` and ``column_sum`` (``[n, H]``, exact: computed
    by the capture from the full rows).
    """
    facts = {
        "entropy": data.row_entropy.T.double(),
        "first_token_mass": data.first_token_mass.T.double(),
        "sink_mass": _sink(data.column_sum.T.double(), causal),
    }
    return {key: _with_mean(value.cpu()).float().numpy() for key, value in facts.items()}


def rollout_resistance_rows(layers: Sequence[Any], rho: float, causal: bool) -> np.ndarray:
    """``[L, n]``: ``1 / Phi_l[last, s]``, the rollout of layers ``0..l`` to the last token.

    ``layers`` are the head-mean layers (dense ``[n, n]`` arrays or scipy sparse matrices; rows
    of sparse ones may sum to less than one: the rollout of the kept edges, a lower bound of the
    full rollout entry by entry, so the resistance is an upper bound). ``inf`` where a source
    does not reach the last token. Cost O(L^2 (nnz + n)) (dense: O(L^2 n^2)).

    Examples
    --------
    >>> u = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    >>> rollout_resistance_rows([u, u], rho=1.0, causal=True)[1].round(3).tolist()
    [1.636, 3.6, 9.0]
    """
    from tgnn.theory import rollout_row

    rows = np.stack([rollout_row(list(layers[: l + 1]), target=-1, rho=rho, causal=causal)
                     for l in range(len(layers))])
    with np.errstate(divide="ignore"):
        return np.where(rows > 0, 1.0 / np.where(rows > 0, rows, 1.0), np.inf)


def layer_numbers(data: Any) -> dict[str, float]:
    """Graph numbers of one head-mean layer graph (``Data``), symmetrised by ``(W + W^T) / 2``.

    Spectral gap (:func:`tgnn.metrics.spectral_gap`), total effective resistance
    (:func:`tgnn.metrics.total_effective_resistance`) and minimum balanced Forman curvature
    (:func:`tgnn.metrics.balanced_forman_curvature`; self-loops give NaN and are skipped).
    Cost O(n^3) (dense eigen- and pseudo-inverse) plus the curvature's.

    Examples
    --------
    >>> from tgnn.convert import attention_to_data
    >>> u = torch.tril(torch.ones(3, 3)) / torch.arange(1, 4)[:, None]
    >>> numbers = layer_numbers(attention_to_data(u))
    >>> round(numbers["total_resistance"], 4), numbers["min_curvature"]  # K_3: 3 / 2
    (10.5, 1.5)
    """
    from tgnn.metrics import balanced_forman_curvature, spectral_gap, total_effective_resistance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # disconnected: gap 0, shown as such
        gap = spectral_gap(data)
    curvature = balanced_forman_curvature(data).numpy()
    finite = curvature[np.isfinite(curvature)]
    return {
        "spectral_gap": gap,
        "total_resistance": total_effective_resistance(data),
        "min_curvature": float(finite.min()) if finite.size else float("nan"),
    }
