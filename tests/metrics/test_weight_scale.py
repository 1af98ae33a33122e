"""Weight scale: every graph metric follows the scale law of its definition, 1e-12 .. 1e12.

Multiplying every conductance by ``s`` divides every resistance by ``s``, leaves commute times,
normalised spectra and the curvatures of weight-free or scale-free definitions unchanged and
multiplies the combinatorial spectrum by ``s``. Ollivier-Ricci reads weights as lengths: with
masses ``base^(-w^p)``, ``kappa(s w; p, base) = kappa(w; p, base^(s^p))``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from tgnn.metrics import (
    augmented_forman_curvature,
    balanced_forman_curvature,
    cheeger_bounds,
    commute_time,
    dirichlet_energy,
    edge_resistance,
    effective_resistance,
    forman_curvature,
    laplacian,
    ollivier_ricci_curvature,
    spectral_gap,
    total_effective_resistance,
)

RTOL = 1e-9
SCALES = st.floats(-12.0, 12.0).map(lambda k: 10.0**k)


def _graph(n: int, seed: int, connected: bool) -> tuple[Tensor, Tensor]:
    """Both directions of a random simple graph on ``n`` nodes (a spanning path when
    ``connected``, else two halves), weights in ``[0.2, 3)``."""
    rng = np.random.default_rng(seed)
    pairs = {(int(u), int(v)) for u, v in rng.integers(0, n, (2 * n, 2)) if u < v}
    pairs |= {(t, t + 1) for t in range(n - 1)}
    if not connected:  # no edge between the halves
        pairs = {(u, v) for u, v in pairs if (u < n // 2) == (v < n // 2)}
    edges = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    w = rng.uniform(0.2, 3.0, len(edges))
    ei = torch.from_numpy(np.concatenate([edges, edges[:, ::-1]]).T.copy())
    return ei, torch.from_numpy(np.concatenate([w, w]))


def _close(
    scaled: Tensor | float, unit: Tensor | float, rtol: float = RTOL, atol: float = 0.0
) -> None:
    np.testing.assert_allclose(np.asarray(scaled), np.asarray(unit), rtol=rtol, atol=atol)


def _same_curvature(scaled: Tensor, unit: Tensor) -> None:
    """Curvatures are O(1) numbers that cross 0: relative, with an absolute floor."""
    _close(scaled, unit, atol=1e-10)


graphs = st.tuples(st.integers(2, 12), st.integers(0, 10_000), st.booleans())


@settings(max_examples=30, deadline=None)
@given(graphs, SCALES)
def test_resistances_scale_as_one_over_the_weights(g: tuple[int, int, bool], s: float) -> None:
    n, seed, connected = g
    ei, w = _graph(n, seed, connected)
    pairs = torch.tensor([[0, 0, n - 1], [n - 1, n // 2, 1 % n]])
    modes = ({}, {"source": n // 2}, {"pairs": pairs}, {"pairs": pairs, "dense_max": 0},
             {"pairs": pairs, "dense_max": 0, "factor_max": 1})  # dense, factor, CG
    for kwargs in modes:
        unit = effective_resistance(ei, w, n, **kwargs)  # type: ignore[arg-type]
        _close(effective_resistance(ei, s * w, n, **kwargs) * s, unit)  # type: ignore[arg-type]
        kwargs.pop("dense_max", None)  # commute_time always takes the dense path for pairs
        kwargs.pop("factor_max", None)
        _close(commute_time(ei, s * w, n, **kwargs), commute_time(ei, w, n, **kwargs))  # type: ignore[arg-type]
    for dense_max in (3000, 1):  # dense, and grounded sparse
        unit_kf = total_effective_resistance(ei, w, n, dense_max=dense_max)
        _close(total_effective_resistance(ei, s * w, n, dense_max=dense_max) * s, unit_kf)
    _close(edge_resistance(ei, s * w, n) * s, edge_resistance(ei, w, n))
    approx = edge_resistance(ei, w, n, num_projections=16, seed=3)
    _close(edge_resistance(ei, s * w, n, num_projections=16, seed=3) * s, approx, rtol=1e-8)


@settings(max_examples=30, deadline=None)
@given(graphs, SCALES)
def test_spectra_scale_as_their_normalisation_says(g: tuple[int, int, bool], s: float) -> None:
    n, seed, _ = g
    ei, w = _graph(max(n, 3), seed, connected=True)
    n = max(n, 3)
    for kwargs in ({"method": "dense"}, {"method": "sparse"},
                   {"method": "sparse", "factor_max": 1}):
        sym = spectral_gap(ei, w, n, **kwargs)  # type: ignore[arg-type]
        _close(spectral_gap(ei, s * w, n, **kwargs), sym, rtol=1e-8)  # type: ignore[arg-type]
        comb = spectral_gap(ei, w, n, normalization=None, **kwargs)  # type: ignore[arg-type]
        scaled = spectral_gap(ei, s * w, n, normalization=None, **kwargs)  # type: ignore[arg-type]
        _close(scaled / s, comb, rtol=1e-8)
    _close(cheeger_bounds(ei, s * w, n), cheeger_bounds(ei, w, n), rtol=1e-8)
    _close(laplacian(ei, s * w, n).toarray() / s, laplacian(ei, w, n).toarray())
    X = torch.arange(2.0 * n, dtype=torch.float64).reshape(n, 2)
    _close(dirichlet_energy(X, ei, s * w, n) / s, dirichlet_energy(X, ei, w, n))


@settings(max_examples=30, deadline=None)
@given(graphs, SCALES)
def test_curvatures_follow_their_scale_laws(g: tuple[int, int, bool], s: float) -> None:
    n, seed, connected = g
    ei, w = _graph(n, seed, connected)
    unweighted = [balanced_forman_curvature, augmented_forman_curvature, forman_curvature]
    for f in unweighted:  # weight-free (BFC, AFRC) or invariant (Forman: sqrt(w_e / w_e'))
        _same_curvature(f(ei, s * w, n), f(ei, w, n))
    _same_curvature(balanced_forman_curvature(ei, s * w, n, variant="sdrf"),
           balanced_forman_curvature(ei, w, n, variant="sdrf"))
    _same_curvature(augmented_forman_curvature(ei, s * w, n, cycles=4),
           augmented_forman_curvature(ei, w, n, cycles=4))
    # Ollivier-Ricci: lengths s w; uniform masses (p = 0, or one length) make it invariant
    _same_curvature(ollivier_ricci_curvature(ei, s * w, n, exp_power=0.0),
           ollivier_ricci_curvature(ei, w, n, exp_power=0.0))
    ones = torch.ones_like(w)
    _same_curvature(ollivier_ricci_curvature(ei, s * ones, n),
                    ollivier_ricci_curvature(ei, ones, n))
    # and in general kappa(s w; p, base) = kappa(w; p, base^(s^p)); p small keeps base finite
    p = 0.05
    scaled = ollivier_ricci_curvature(ei, s * w, n, exp_power=p, base=math.exp(s**-p))
    _same_curvature(scaled, ollivier_ricci_curvature(ei, w, n, exp_power=p))


@pytest.mark.parametrize("s", [1e-20, 1e-12, 1e8, 1e10, 1e12])
def test_ring_kirchhoff_index_at_any_conductance(s: float) -> None:
    """The dense path once added a fixed J/n: 1e10 gave a negative Kirchhoff index, 1e8 was 23%
    off, 1e-20 failed inside Cholesky (a ring of 8: Kf = (n^3 - n) / 12 = 42 at unit weights)."""
    n = 8
    ei = torch.tensor([list(range(n)), [(t + 1) % n for t in range(n)]])
    ei = torch.cat([ei, ei.flip(0)], dim=1)
    w = torch.full((2 * n,), s, dtype=torch.float64)
    assert total_effective_resistance(ei, w, n) * s == pytest.approx(42.0, rel=1e-12)
    R = effective_resistance(ei, w, n) * s
    ring = torch.tensor([t * (n - t) / n for t in range(n)], dtype=torch.float64)
    torch.testing.assert_close(R[0], ring, rtol=1e-12, atol=0.0)
