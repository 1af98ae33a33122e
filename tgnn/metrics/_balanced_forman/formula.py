r"""Balanced Forman curvature: the paper's formula, the legacy (released-code) formula, and one edge
on neighbour sets (the incremental updates of SDRF).

Paper definition (Topping et al. 2022, Def. 1) for an edge ``i ~ j`` of a simple graph with
degrees ``d_i, d_j``: ``Ric(i, j) = 0`` if ``min(d_i, d_j) = 1``, else

.. math::

    \frac{2}{d_i} + \frac{2}{d_j} - 2 + 2\frac{\sharp_\Delta}{\max(d_i, d_j)}
    + \frac{\sharp_\Delta}{\min(d_i, d_j)}
    + \frac{\gamma_{\max}^{-1}}{\max(d_i, d_j)} (\sharp_\square^i + \sharp_\square^j)

with ``#Δ`` the triangles on the edge; ``#□^i`` the neighbours ``k`` of ``i`` (``k != j``, not
adjacent to ``j``) that close a 4-cycle ``i - k - w - j`` with ``w != i`` not adjacent to ``i``;
``γ_k`` the number of such ``w`` for ``k``, and ``γ_max`` the largest ``γ_k`` on either side
(the term is 0 when there is no 4-cycle). Closed forms: ``K_n -> n/(n-1)``, ``C_4 -> 1``,
``C_n (n >= 5) -> 0``, corner edge of the 3x3 grid ``-> 1/3``.

The ``reference`` variant is the formula of the authors' released code (with its early-``break``
bug fixed, which otherwise leaves most curvatures at 0): it counts ``k`` with ``A^2`` entries
and no diagonal checks, and disagrees with Def. 1 (``K_5``: 1.75 instead of 1.25). It is offered
only to reproduce published numbers.

The all-edges passes are in :mod:`tgnn.metrics._balanced_forman.kernels` (paper) and
:mod:`tgnn.metrics._balanced_forman.variants` (both variants on chosen edges).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

__all__ = [
    "affected_edges",
    "bfc_edge",
    "bfc_reference_edge",
    "bfc_value",
    "compiled_bfc_value",
    "legacy_value",
]


def bfc_value(di: int, dj: int, tri: int, squares: int, gamma: int) -> float:
    """Definition 1 from its counts (``min(d_i, d_j) >= 2``); the one formula of the paper BFC.

    ``squares = |#sq^i| + |#sq^j|``, ``gamma = gamma_max`` (0: no 4-cycle). Plain Python for
    :func:`bfc_edge`; :data:`compiled_bfc_value` for the compiled kernels.
    """
    dmax, dmin = max(di, dj), min(di, dj)
    ric = 2.0 / di + 2.0 / dj - 2.0
    if tri > 0:  # the sum of the paper's order, left to right, without the zero terms
        ric = ric + 2.0 * tri / dmax + tri / dmin
    if gamma > 0:
        ric += squares / (gamma * dmax)
    return ric


compiled_bfc_value = numba.njit(cache=True, nogil=True)(bfc_value)


def legacy_value(dmax: Any, dmin: Any, tri: Any, sharp: Any, lam: Any) -> Any:
    """Legacy (released SDRF code) formula from its counts; scalars or arrays alike."""
    ric = 2 / dmax + 2 / dmin - 2 + (2 / dmax + 1 / dmin) * tri
    return ric + sharp / (dmax * np.maximum(lam, 1))  # sharp = 0 whenever lam = 0


def bfc_edge(adj: list[set[int]], i: int, j: int) -> float:
    """Paper balanced Forman curvature of one edge from neighbour sets, ``O(d_i d_max)``."""
    ni, nj = adj[i], adj[j]
    di, dj = len(ni), len(nj)
    if min(di, dj) <= 1:
        return 0.0
    count, gmax = 0, 0
    for a, b, na, nb in ((i, j, ni, nj), (j, i, nj, ni)):
        for k in na:
            if k == b or k in nb:
                continue
            gamma = sum(1 for w in adj[k] & nb if w != a and w not in na)
            if gamma:
                count += 1
                gmax = max(gmax, gamma)
    return bfc_value(di, dj, len(ni & nj), count, gmax)


def bfc_reference_edge(adj: list[set[int]], i: int, j: int) -> float:
    """The released SDRF code's curvature formula (legacy; ``break`` bug fixed)."""
    ni, nj = adj[i], adj[j]
    dmax, dmin = max(len(ni), len(nj)), min(len(ni), len(nj))
    if dmin == 0:
        return 0.0
    sharp, lam = 0, 0
    for k in nj:
        t = len(ni & adj[k]) - (k in ni)
        if t > 0:
            sharp, lam = sharp + 1, max(lam, t)
    for k in ni:
        t = len(adj[k] & nj) - (k in nj)
        if t > 0:
            sharp, lam = sharp + 1, max(lam, t)
    return float(legacy_value(dmax, dmin, len(ni & nj), sharp, lam))


def affected_edges(adj: list[set[int]], a: int, b: int) -> set[tuple[int, int]]:
    """Edges whose curvature may change when the pair ``{a, b}`` is toggled.

    Curvature of ``(i, j)`` reads adjacency only among ``{i, j}`` and ``N(i) ∪ N(j)``; a toggle
    of ``{a, b}`` therefore touches only edges with an endpoint in ``N[a] ∪ N[b]``.
    """
    ball = adj[a] | adj[b] | {a, b}
    return {(min(x, y), max(x, y)) for x in ball for y in adj[x]}
