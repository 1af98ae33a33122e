"""Group-inverse resistance ``R^G``: the direct transcription of Black et al.'s series (a pitfall).

Kept for comparison only: it converges on causal attention but ranks the sink (token 0) as the
farthest token, the opposite of how information actually flows.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lstsq, solve_triangular

from tgnn.errors import NotReachableError

from ._inputs import ArrayLike, as_matrix

__all__ = ["group_inverse", "group_inverse_resistance"]


def group_inverse(attention: ArrayLike, *, causal: bool = True) -> np.ndarray:
    r"""Group inverse ``M^#`` of ``M = I - A`` for row-stochastic ``A`` with one closed class.

    With ``pi`` the stationary distribution (``pi^T A = pi^T``, ``pi^T 1 = 1``),
    ``M^# = (M + 1 pi^T)^{-1} - 1 pi^T`` (Meyer 1975). For causal attention ``pi = e_0`` and
    ``M + 1 e_0^T`` is lower triangular.

    Complexity: O(n^3).

    Examples
    --------
    >>> import numpy as np
    >>> g = group_inverse(np.array([[1.0, 0.0], [0.5, 0.5]]))
    >>> m = np.eye(2) - np.array([[1.0, 0.0], [0.5, 0.5]])
    >>> np.allclose(m @ g @ m, m) and np.allclose(g @ m @ g, g) and np.allclose(m @ g, g @ m)
    True
    """
    a = as_matrix(
        attention, "attention", causal=causal, what="the group inverse (I - A)^#",
        alternative="absorbing_resistance(attention, target=...) (one target row, sparse input)",
    )
    n = len(a)
    lower = not np.triu(a, 1).any()
    if lower:
        if n > 1 and np.any(np.diag(a)[1:] >= 1.0 - 1e-14):
            raise NotReachableError(
                "attention: assumption H (A[j, j] < 1 for j >= 1) fails: a token reads only itself"
            )
        pi = np.zeros(n)
        pi[0] = 1.0
    else:
        system = np.vstack([(np.eye(n) - a).T, np.ones((1, n))])
        rhs = np.zeros(n + 1)
        rhs[-1] = 1.0
        pi = lstsq(system, rhs)[0]
        if np.linalg.norm(system @ pi - rhs) > 1e-8:
            raise NotReachableError("attention: expected a single closed class, got several")
    shifted = np.eye(n) - a + np.outer(np.ones(n), pi)
    inverse = (
        solve_triangular(shifted, np.eye(n), lower=True)
        if lower
        else np.linalg.solve(shifted, np.eye(n))
    )
    return inverse - np.outer(np.ones(n), pi)


def group_inverse_resistance(attention: ArrayLike, *, causal: bool = True) -> np.ndarray:
    r"""``R^G(s, i) = (e_s - e_i)^T (I - A)^# (e_s - e_i)``: the documented pitfall.

    For uniform causal attention ``R^G(0, n-1) = 1 + H_{n-1} + n/(n-1)`` while
    ``R^G(s, n-1) = 1 + n/(n-1)`` for ``1 <= s < n-1`` (0-based): the first token looks farthest,
    although every walk ends there. Use :func:`~tgnn.theory.rollout_resistance` or
    :func:`~tgnn.theory.absorbing_resistance` instead.

    Complexity: O(n^3).

    Returns
    -------
    numpy.ndarray
        Symmetric [n, n] float64, 0-based.

    Examples
    --------
    >>> import numpy as np
    >>> u = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]
    >>> group_inverse_resistance(u)[3]  # 1 + H_3 + 4/3 = 25/6, then 1 + 4/3 = 7/3
    array([4.1666..., 2.3333..., 2.3333..., 0.  ])
    """
    g = group_inverse(attention, causal=causal)
    d = np.diag(g)
    r = d[:, None] + d[None, :] - g - g.T
    np.fill_diagonal(r, 0.0)
    return r
