"""Exact closed forms (sympy) for uniform causal attention and the attention-sink model.

Uniform causal attention ``U[i, j] = 1 / (i + 1)`` for ``j <= i``; sink model
``A_p = p E + (1 - p) U`` with ``E = 1 e_0^T``. Everything here is 0-based like the rest of
:mod:`tgnn.theory` (token 0 is the first token); THEORY.md writes 1-based formulas, so its
``(U^L)_{n, s}`` is ``uniform_rollout_entry(n - 1, s - 1, L)`` here. Arguments may be integers,
sympy Rationals or symbols; results are sympy expressions (exact rationals for numbers).
"""

from __future__ import annotations

from typing import TypeAlias

import sympy as sp

from tgnn.errors import TgnnError

__all__ = [
    "harmonic",
    "uniform_attention",
    "sink_attention",
    "uniform_rollout_entry",
    "uniform_rollout_first",
    "uniform_absorption_time",
    "uniform_absorption_pgf",
    "uniform_fundamental_entry",
    "uniform_hitting_probability",
    "uniform_absorbing_resistance",
    "uniform_group_inverse_resistance",
    "uniform_path_count",
    "sink_rollout_matrix",
    "sink_hitting_probability",
    "sink_fundamental_diagonal",
    "sink_ysl_bound",
    "exact_ysl_resistance",
]

Number: TypeAlias = sp.Expr | int


def harmonic(m: Number, order: int = 1) -> sp.Expr:
    """Generalised harmonic number ``H_m^(order) = sum_{k=1}^m k^-order`` (exact).

    Examples
    --------
    >>> harmonic(3), harmonic(2, 2)
    (11/6, 5/4)
    """
    return sp.harmonic(m, order)


def uniform_attention(n: int) -> sp.Matrix:
    """Uniform causal attention ``U[i, j] = 1 / (i + 1)`` for ``j <= i`` as an exact [n, n] Matrix.

    Examples
    --------
    >>> uniform_attention(2)
    Matrix([
    [  1,   0],
    [1/2, 1/2]])
    """
    return sp.Matrix(n, n, lambda i, j: sp.Rational(1, i + 1) if j <= i else 0)


def sink_attention(n: int, p: Number) -> sp.Matrix:
    """Attention-sink model ``A_p = p E + (1 - p) U``, ``E = 1 e_0^T`` (exact).

    Examples
    --------
    >>> sink_attention(2, sp.Rational(1, 2))
    Matrix([
    [  1,   0],
    [3/4, 1/4]])
    """
    e = sp.Matrix(n, n, lambda i, j: 1 if j == 0 else 0)
    return p * e + (1 - p) * uniform_attention(n)


def uniform_rollout_entry(i: int, s: int, layers: Number, rho: Number = 1) -> sp.Expr:
    r"""``(Uhat^L)[i, s]`` for ``Uhat = (1 - rho) I + rho U`` by the spectral sum (0-based).

    With ``a = i + 1``, ``b = s + 1`` (1-based): eigenvalues ``1/k``, eigenvectors
    ``C(i-1, k-1)``, so ``(U^L)_{a,b} = C(a-1, b-1) sum_{m=0}^{a-b} (-1)^m C(a-b, m) lam_{b+m}^L``
    with ``lam_k = 1 - rho + rho / k``. Zero for ``s > i``.

    Examples
    --------
    >>> uniform_rollout_entry(2, 0, 2)  # (U^2)[3, 1] = H_3 / 3
    11/18
    """
    a, b = i + 1, s + 1
    if b > a:
        return sp.Integer(0)
    total = sum(
        (-1) ** m * sp.binomial(a - b, m) * (1 - rho + rho * sp.Rational(1, b + m)) ** layers
        for m in range(a - b + 1)
    )
    return sp.binomial(a - 1, b - 1) * total


def uniform_rollout_first(n: Number, layers: int) -> sp.Expr:
    r"""``(U^L)[n-1, 0]``, last token to first, in harmonic numbers for ``L <= 4``.

    ``L = 1: 1/n``; ``L = 2: H_n / n``; ``L = 3: (H_n^2 + H_n^(2)) / (2n)``;
    ``L = 4: (H_n^3 + 3 H_n H_n^(2) + 2 H_n^(3)) / (6n)``. It equals ``P(T_n <= L)`` for the
    absorption time of :func:`uniform_absorption_time`. ``n`` may be a symbol.

    Examples
    --------
    >>> uniform_rollout_first(3, 2)
    11/18
    """
    h1, h2, h3 = sp.harmonic(n), sp.harmonic(n, 2), sp.harmonic(n, 3)
    forms = {
        1: sp.Integer(1),
        2: h1,
        3: (h1**2 + h2) / 2,
        4: (h1**3 + 3 * h1 * h2 + 2 * h3) / 6,
    }
    if layers not in forms:
        raise TgnnError(f"layers: expected 1 to 4 (use uniform_rollout_entry), got {layers}")
    return forms[layers] / n


def uniform_absorption_time(n: Number) -> tuple[sp.Expr, sp.Expr]:
    r"""Mean and variance of the absorption time ``T`` from the last of ``n`` tokens.

    ``T = 1 + sum_{j=2}^n Y_j`` with ``P(Y_j >= k) = j^-k``: ``E T = 1 + H_{n-1}``,
    ``Var T = H_{n-1} + H^(2)_{n-1}``.

    Examples
    --------
    >>> uniform_absorption_time(3)
    (5/2, 11/4)
    """
    return 1 + sp.harmonic(n - 1), sp.harmonic(n - 1) + sp.harmonic(n - 1, 2)


def uniform_absorption_pgf(n: int, z: sp.Expr) -> sp.Expr:
    """Probability generating function ``E z^T = z prod_{j=2}^n (j - 1) / (j - z)``.

    Examples
    --------
    >>> z = sp.Symbol("z")
    >>> sp.simplify(uniform_absorption_pgf(2, z))
    -z/(z - 2)
    """
    return z * sp.Mul(*[sp.Integer(j - 1) / (j - z) for j in range(2, n + 1)])


def uniform_fundamental_entry(i: int, s: int) -> sp.Expr:
    """``N[i, s]`` for uniform attention (0-based, ``1 <= s <= i``): ``(i+1)/i`` or ``1/s``.

    Examples
    --------
    >>> uniform_fundamental_entry(4, 4), uniform_fundamental_entry(4, 2)
    (5/4, 1/2)
    """
    return sp.Rational(i + 1, i) if s == i else sp.Rational(1, s)


def uniform_hitting_probability(i: int, s: int) -> sp.Expr:
    """``h[i, s] = 1 / (s + 1)`` for ``1 <= s < i`` (0-based), 1 for ``s in {0, i}``.

    Examples
    --------
    >>> uniform_hitting_probability(5, 2)
    1/3
    """
    return sp.Integer(1) if s in (0, i) else sp.Rational(1, s + 1)


def uniform_absorbing_resistance(s: int, i: int) -> sp.Expr:
    """``R^abs(s, i) = (s + 1)(i + 1) / i`` for ``0 <= s < i`` (1-based: ``s n / (n - 1)``).

    Examples
    --------
    >>> uniform_absorbing_resistance(1, 4)
    5/2
    """
    return sp.Rational((s + 1) * (i + 1), i)


def uniform_group_inverse_resistance(s: int, n: int) -> sp.Expr:
    """``R^G(s, n-1)`` for uniform attention on ``n`` tokens (0-based ``s < n - 1``).

    ``1 + H_{n-1} + n/(n-1)`` for ``s = 0``, ``1 + n/(n-1)`` otherwise.

    Examples
    --------
    >>> uniform_group_inverse_resistance(0, 4), uniform_group_inverse_resistance(2, 4)
    (25/6, 7/3)
    """
    base = 1 + sp.Rational(n, n - 1)
    return base + sp.harmonic(n - 1) if s == 0 else base


def uniform_path_count(s: int, i: int, layers: int) -> sp.Expr:
    """Unweighted paths of length L from ``s`` to ``i`` in the causal graph: ``C(i-s+L-1, L-1)``.

    Examples
    --------
    >>> uniform_path_count(0, 3, 2)
    4
    """
    return sp.binomial(i - s + layers - 1, layers - 1)


def sink_rollout_matrix(n: int, p: Number, layers: int, rho: Number = 1) -> sp.Matrix:
    r"""``Ahat_p^L = B^L + (1 - (1 - rho p)^L) E`` with ``B = (1 - rho) I + rho (1 - p) U``.

    For ``rho = 1``: ``(1 - p)^L U^L + (1 - (1 - p)^L) E``.

    Examples
    --------
    >>> sink_rollout_matrix(2, sp.Rational(1, 2), 1)[1, 0]
    3/4
    """
    b = (1 - rho) * sp.eye(n) + rho * (1 - p) * uniform_attention(n)
    e = sp.Matrix(n, n, lambda i, j: 1 if j == 0 else 0)
    return b**layers + (1 - (1 - rho * p) ** layers) * e


def sink_hitting_probability(i: int, s: int, p: Number) -> sp.Expr:
    r"""``h[i, s]`` in the sink model for ``1 <= s < i`` (0-based).

    1-based ``h_{n,s} = (1-p) Gamma(n) Gamma(s+p) / (Gamma(s+1) Gamma(n+p))``, written with
    rising factorials so that rational ``p`` gives exact rationals.

    Examples
    --------
    >>> sink_hitting_probability(3, 1, 0)  # p = 0 is uniform attention: 1/(s+1)
    1/2
    """
    n, s1 = i + 1, s + 1
    return (1 - p) * sp.factorial(n - 1) / (sp.factorial(s1) * sp.rf(s1 + p, n - s1))


def sink_fundamental_diagonal(i: int, p: Number) -> sp.Expr:
    """``N[i, i] = n / (n - 1 + p)`` with ``n = i + 1`` (0-based ``i >= 1``).

    Examples
    --------
    >>> sink_fundamental_diagonal(2, sp.Rational(1, 2))
    6/5
    """
    return sp.Integer(i + 1) / (i + p)


def sink_ysl_bound(p: Number) -> sp.Expr:
    """Uniform-in-n bound ``R^Y(0, n-1) <= 2 / p`` of the sink model.

    Examples
    --------
    >>> sink_ysl_bound(sp.Rational(1, 4))
    8
    """
    return 2 / sp.sympify(p)


def exact_ysl_resistance(matrix: sp.Matrix) -> sp.Matrix:
    r"""Exact ``R^Y`` of causal attention by the grounded Gramian (small n: (n-1)^2 unknowns).

    Solves ``G P + P G^T = I + 1 1^T`` with ``G = I - A[1:, 1:]`` exactly, then
    ``R(0, k) = 2 P[k, k]``, ``R(j, k) = 2 (P[j, j] + P[k, k] - 2 P[j, k])``.

    Examples
    --------
    >>> [exact_ysl_resistance(uniform_attention(n))[0, n - 1] for n in (2, 3, 4)]
    [4, 31/7, 8549/1785]
    """
    n = matrix.shape[0]
    g = sp.eye(n - 1) - matrix[1:, 1:]
    p = sp.Matrix(n - 1, n - 1, lambda j, k: sp.Symbol(f"p_{min(j, k)}_{max(j, k)}"))
    equations = list(g * p + p * g.T - sp.eye(n - 1) - sp.ones(n - 1, n - 1))
    solution = sp.solve(equations, sorted(p.free_symbols, key=str), dict=True)[0]
    x = sp.zeros(n, n)
    x[1:, 1:] = 2 * p.subs(solution)
    return sp.Matrix(n, n, lambda j, k: x[j, j] + x[k, k] - 2 * x[j, k])
