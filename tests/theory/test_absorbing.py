from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from tgnn.theory import (
    absorbing_resistance,
    absorption_time,
    fundamental_matrix,
    hitting_probabilities,
    rollout_matrix,
)
from tgnn.theory import closed_forms as cf

from tgnn.errors import NotCausalError, NotReachableError, TgnnError

from ._helpers import assert_exact, causal_attention, random_causal, uniform


@settings(max_examples=25, deadline=None)
@given(causal_attention())
def test_series_and_supremum_identities(a: np.ndarray) -> None:
    n = len(a)
    big_n, h = fundamental_matrix(a), hitting_probabilities(a)
    power, total, sup = np.eye(n), np.zeros((n, n)), np.zeros((n, n))
    for _ in range(400):
        total += power
        sup = np.maximum(sup, power)
        power = power @ a
    q = a[1:, 1:]
    # finite form: sum_{l < L} Q^l = (I - Q^L) N, exact at every L
    lhs = total[1:, 1:]
    rhs = (np.eye(n - 1) - np.linalg.matrix_power(q, 400)) @ big_n[1:, 1:]
    assert np.allclose(lhs, rhs, rtol=1e-9, atol=1e-9)
    tail = np.linalg.matrix_power(q, 400).max()
    if tail < 1e-12:  # converged: sum_l (A^l)[i, s] = N[i, s]
        assert np.allclose(lhs, big_n[1:, 1:], rtol=1e-8, atol=1e-10)
    assert np.all(sup <= h + 1e-12)  # sup_l (A^l)[i, s] <= h[i, s]
    # -log h is a quasi-metric on the causal order: h[i, s] >= h[i, k] h[k, s], s <= k <= i
    for i in range(n):
        for k in range(i + 1):
            assert np.all(h[i, : k + 1] >= h[i, k] * h[k, : k + 1] - 1e-12)


@settings(max_examples=15, deadline=None)
@given(causal_attention(min_n=3, max_n=7))
def test_resistance_forms_rows_and_kron_reduction(a: np.ndarray) -> None:
    n = len(a)
    r, big_n, h = absorbing_resistance(a), fundamental_matrix(a), hitting_probabilities(a)
    lap = np.eye(n) - a
    for i in range(1, n):
        row = absorbing_resistance(a, target=i)
        assert np.allclose(row[: i + 1], r[i, : i + 1], rtol=1e-12)
        assert np.isinf(row[i + 1 :]).all() and np.isinf(r[i, i + 1 :]).all()
        assert r[i, 0] == pytest.approx(big_n[i, i])
        for s in range(1, i):
            assert r[i, s] == pytest.approx(1 / ((1 - a[i, i]) * h[i, s]), rel=1e-10)
            keep = [0, s, i]
            drop = [k for k in range(n) if k not in keep]
            kron = lap[np.ix_(keep, keep)] - lap[np.ix_(keep, drop)] @ np.linalg.solve(
                lap[np.ix_(drop, drop)], lap[np.ix_(drop, keep)]
            )
            assert r[i, s] == pytest.approx(-1 / kron[2, 1], rel=1e-9)
    assert np.allclose(absorbing_resistance(a, rho=0.25), r / 0.25)
    mean, _ = absorption_time(a)
    mean_rho, _ = absorption_time(a, rho=0.5)
    assert np.allclose(mean_rho, 2 * mean)


def test_uniform_closed_forms_exact() -> None:
    for n in range(2, 9):
        u = uniform(n)
        big_n, h, r = fundamental_matrix(u), hitting_probabilities(u), absorbing_resistance(u)
        mean, var = absorption_time(u)
        exact_mean, exact_var = cf.uniform_absorption_time(n)
        assert_exact(mean[n - 1], exact_mean)
        assert_exact(var[n - 1], exact_var)
        i = n - 1
        for s in range(1, i + 1):
            assert_exact(big_n[i, s], cf.uniform_fundamental_entry(i, s))
            assert_exact(h[i, s], cf.uniform_hitting_probability(i, s))
        for s in range(i):
            assert_exact(r[i, s], cf.uniform_absorbing_resistance(s, i))


def test_pgf_matches_rollout_and_moments() -> None:
    z = sp.Symbol("z")
    n = 5
    pgf = cf.uniform_absorption_pgf(n, z)
    mean, var = cf.uniform_absorption_time(n)
    first = sp.diff(pgf, z).subs(z, 1)
    second = sp.diff(pgf, z, 2).subs(z, 1)
    assert first == mean and second + first - first**2 == var
    # T = 1 + sum_{j=2}^n Y_j with P(Y_j = k) = (1 - 1/j) j^-k: convolve exactly up to L = 4
    dist = [sp.Integer(int(t == 1)) for t in range(5)]
    for j in range(2, n + 1):
        y = [(1 - sp.Rational(1, j)) * sp.Rational(1, j) ** k for k in range(5)]
        dist = [sum(dist[t - k] * y[k] for k in range(min(t, 4) + 1)) for t in range(5)]
    for layers in range(1, 5):  # P(T <= L) = (U^L)[n-1, 0]
        assert sum(dist[: layers + 1]) == cf.uniform_rollout_entry(n - 1, 0, layers)


def test_sink_model_closed_forms() -> None:
    p = sp.Rational(1, 3)
    n = 7
    sink = np.array(cf.sink_attention(n, p), dtype=float)
    big_n, h = fundamental_matrix(sink), hitting_probabilities(sink)
    for i in range(1, n):
        assert_exact(big_n[i, i], cf.sink_fundamental_diagonal(i, p))
        for s in range(1, i):
            assert_exact(h[i, s], cf.sink_hitting_probability(i, s, p))


def test_sensitivity_falls_like_one_over_n_for_diffuse_heads() -> None:
    for n in (64, 256):
        r = absorbing_resistance(uniform(n), target=-1)
        assert r[n // 2 - 1] == pytest.approx(n / 2 * n / (n - 1))
        assert rollout_matrix([uniform(n)], 1.0)[n - 1, n // 2] == pytest.approx(1 / n)


def test_streamed_rows_across_blocks() -> None:
    a = random_causal(150, seed=7, scale=2.0, sink=1.0)  # three blocks of 64 rows
    a[100] = 0.0
    a[100, :40] = 1 / 40  # a row that skips a whole block of sources
    full = absorbing_resistance(a)
    for target in (1, 63, 64, 100, 127, 149):
        row = absorbing_resistance(torch.from_numpy(a).float(), target=target)
        assert np.allclose(row[: target + 1], full[target, : target + 1], rtol=1e-5)
    bad = a.copy()
    bad[130] = 0.0
    bad[130, 130] = 1.0
    with pytest.raises(NotReachableError, match="token 130"):
        absorbing_resistance(bad, target=5)


def test_errors_and_edge_cases() -> None:
    bad = uniform(4)
    bad[2] = [0.0, 0.0, 1.0, 0.0]
    for fn in (fundamental_matrix, hitting_probabilities, absorbing_resistance):
        with pytest.raises(NotReachableError, match="assumption H"):
            fn(bad)
    with pytest.raises(NotCausalError):
        absorbing_resistance(np.full((3, 3), 1 / 3))
    with pytest.raises(TgnnError, match="rho"):
        absorbing_resistance(uniform(3), rho=0.0)
    row = absorbing_resistance(random_causal(4, 0), target=0)
    assert row[0] == 0 and np.isinf(row[1:]).all()
    assert absorbing_resistance(uniform(3))[0, 0] == 0
