from __future__ import annotations

import pytest
import sympy as sp
from tgnn.theory import closed_forms as cf

from tgnn.errors import TgnnError


def test_spectral_sum_equals_matrix_power_exactly() -> None:
    n = 6
    for rho in (sp.Integer(1), sp.Rational(2, 5)):
        uhat = (1 - rho) * sp.eye(n) + rho * cf.uniform_attention(n)
        power = uhat**3
        for i in range(n):
            for s in range(n):
                assert cf.uniform_rollout_entry(i, s, 3, rho) == power[i, s]
        assert cf.uniform_rollout_entry(n - 1, n - 1, 3, rho) == (1 - rho + rho / n) ** 3


def test_harmonic_forms_and_symbolic_n() -> None:
    for layers in (2, 3, 4):
        for n in range(1, 8):
            assert cf.uniform_rollout_first(n, layers) == (cf.uniform_attention(n) ** layers)[
                n - 1, 0
            ]
    n = sp.Symbol("n", positive=True, integer=True)
    assert cf.uniform_rollout_first(n, 2) == sp.harmonic(n) / n
    with pytest.raises(TgnnError):
        cf.uniform_rollout_first(3, 5)


def test_sink_power_and_eigenvectors() -> None:
    n, p = 5, sp.Rational(1, 5)
    for rho in (sp.Integer(1), sp.Rational(1, 2)):
        ahat = (1 - rho) * sp.eye(n) + rho * cf.sink_attention(n, p)
        assert cf.sink_rollout_matrix(n, p, 3, rho) == ahat**3
    u = cf.uniform_attention(n)
    for k in range(1, n + 1):  # eigenvalue 1/k, eigenvector f_k(i) = C(i - 1, k - 1)
        f = sp.Matrix([sp.binomial(i - 1, k - 1) for i in range(1, n + 1)])
        assert u * f == f / k


def test_exact_ysl_values() -> None:
    values = [cf.exact_ysl_resistance(cf.uniform_attention(n))[0, n - 1] for n in (2, 3, 4)]
    assert values == [4, sp.Rational(31, 7), sp.Rational(8549, 1785)]
    p = sp.Rational(1, 2)
    assert cf.exact_ysl_resistance(cf.sink_attention(4, p))[0, 3] <= cf.sink_ysl_bound(p)
