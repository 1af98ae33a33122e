"""Blocked solvers for Sylvester and Lyapunov equations with lower-triangular coefficients.

``Ga X + X Gb^T = C`` with ``Ga``, ``Gb`` lower triangular needs no Schur decomposition: the
coefficients already are in (reversed) Schur form. Lower quasi-triangular coefficients (1x1 and
2x2 diagonal blocks, a reversed real Schur form) work too: splits never cut a 2x2 block.
We split the larger dimension in two, solve the leading block, move the coupling to the
right-hand side with one matrix product, and solve the trailing block (the recursive blocking of
Jonsson and Kagstrom 2002). Leaves go to LAPACK ``dtrsyl`` on the index-reversed (hence upper
quasi-triangular) blocks. Nearly all flops are matrix
products, so the cost is about ``2 n^3`` flops at BLAS-3 speed.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.lapack import dtrsyl

__all__ = ["solve_lower_sylvester", "solve_lower_lyapunov"]

_LEAF = 96


def _trsyl_leaf(ga: np.ndarray, gb: np.ndarray, c: np.ndarray) -> np.ndarray:
    # Reversing the index order of a lower-triangular matrix makes it upper triangular:
    # (J Ga J)(J X J') + (J X J')(J' Gb J')^T = J C J'.
    a = np.asfortranarray(ga[::-1, ::-1])
    b = np.asfortranarray(gb[::-1, ::-1])
    rhs = np.asfortranarray(c[::-1, ::-1])
    x, scale, info = dtrsyl(a, b, rhs, trana="N", tranb="T", isgn=1)
    if info < 0:
        raise RuntimeError(f"dtrsyl: illegal argument {-info}")
    return np.asarray(x[::-1, ::-1]) / scale


def _split(g: np.ndarray) -> int:
    """Middle split point of a lower quasi-triangular ``g`` that keeps 2x2 blocks whole."""
    h = g.shape[0] // 2
    return h + 1 if g[h - 1, h] != 0.0 else h


def solve_lower_sylvester(ga: np.ndarray, gb: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Solve ``ga @ x + x @ gb.T = c`` for lower (quasi-)triangular ``ga`` [m, m], ``gb`` [k, k].

    A solution exists and is unique when no ``ga[i, i] + gb[j, j]`` vanishes.
    """
    m, k = c.shape
    if m <= _LEAF and k <= _LEAF:
        return _trsyl_leaf(ga, gb, c)
    x = np.empty((m, k))
    if m >= k:
        h = _split(ga)
        x[:h] = solve_lower_sylvester(ga[:h, :h], gb, c[:h])
        x[h:] = solve_lower_sylvester(ga[h:, h:], gb, c[h:] - ga[h:, :h] @ x[:h])
    else:
        h = _split(gb)
        x[:, :h] = solve_lower_sylvester(ga, gb[:h, :h], c[:, :h])
        x[:, h:] = solve_lower_sylvester(ga, gb[h:, h:], c[:, h:] - x[:, :h] @ gb[h:, :h].T)
    return x


def solve_lower_lyapunov(g: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Solve ``g @ p + p @ g.T = c`` for lower (quasi-)triangular ``g`` and symmetric ``c``.

    The solution is symmetric; only the blocks on and below the diagonal are solved for.
    """
    n = g.shape[0]
    if n <= _LEAF:
        p = _trsyl_leaf(g, g, c)
        return (p + p.T) / 2.0
    h = _split(g)
    p = np.empty((n, n))
    p[:h, :h] = solve_lower_lyapunov(g[:h, :h], c[:h, :h])
    g21 = g[h:, :h]
    p21 = solve_lower_sylvester(g[h:, h:], g[:h, :h], c[h:, :h] - g21 @ p[:h, :h])
    coupling = g21 @ p21.T
    p[h:, h:] = solve_lower_lyapunov(g[h:, h:], c[h:, h:] - coupling - coupling.T)
    p[h:, :h] = p21
    p[:h, h:] = p21.T
    return p
