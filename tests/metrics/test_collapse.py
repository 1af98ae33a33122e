"""Collapse metrics against direct numpy computations and closed forms."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tgnn.errors import EmptyInputError, NonFiniteError, ShapeError
from tgnn.metrics import (
    collapse_profile,
    dirichlet_energy,
    effective_rank,
    mean_cosine,
    mu,
    residual_ratio,
)

from ._helpers import undirected, weighted

GEN = torch.Generator().manual_seed(0)
X = torch.randn(7, 5, generator=GEN, dtype=torch.float64)


def test_mu_and_residual_ratio_against_numpy() -> None:
    x = X.numpy()
    ref = np.linalg.norm(x - x.mean(0)) / np.linalg.norm(x)
    assert float(mu(X)) == pytest.approx(ref, rel=1e-14)
    Y = 0.3 * X + torch.ones(5)  # residual scales by 0.3
    ratio = residual_ratio(torch.stack([X, Y, torch.ones(7, 5)]))
    np.testing.assert_allclose(ratio.numpy(), [1.0, 0.3, 0.0], atol=1e-14)
    assert mu(torch.stack([X, torch.zeros(7, 5)])).tolist()[1] == 0.0


def test_mean_cosine_and_effective_rank() -> None:
    x = X.numpy()
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    G = u @ u.T
    assert float(mean_cosine(X)) == pytest.approx((G.sum() - 7) / 42, rel=1e-12)
    s = np.linalg.svd(x, compute_uv=False)
    p = s / s.sum()
    assert float(effective_rank(X)) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-12)
    rank_one = torch.outer(torch.arange(1.0, 5.0), torch.ones(3))
    assert float(effective_rank(rank_one)) == pytest.approx(1.0)
    assert float(mean_cosine(rank_one)) == pytest.approx(1.0)
    assert float(effective_rank(torch.zeros(3, 3))) == 0.0


def test_dirichlet_energy_against_edge_sum() -> None:
    G = weighted(nx.petersen_graph())
    ei, w, n = undirected(G, "weight")
    feats = torch.randn(n, 3, generator=GEN, dtype=torch.float64)
    ref = sum(d["weight"] * float(((feats[u] - feats[v]) ** 2).sum())
              for u, v, d in G.edges(data=True))
    assert float(dirichlet_energy(feats, ei, w, n)) == pytest.approx(ref, rel=1e-12)
    deg = dict(G.degree(weight="weight"))
    ref_sym = sum(
        d["weight"] * float(((feats[u] / deg[u] ** 0.5 - feats[v] / deg[v] ** 0.5) ** 2).sum())
        for u, v, d in G.edges(data=True)
    )
    got = dirichlet_energy(feats, ei, w, n, normalization="sym")
    assert float(got) == pytest.approx(ref_sym, rel=1e-12)
    batched = dirichlet_energy(torch.stack([feats, 2 * feats]), ei, w, n)
    np.testing.assert_allclose(batched.numpy(), [ref, 4 * ref], rtol=1e-12)


def test_profile_and_bad_inputs() -> None:
    ei, w, n = undirected(nx.path_graph(7))
    prof = collapse_profile([X, X.mean(0, keepdim=True).expand(7, 5)], ei, w, n)
    assert set(prof) == {"mu", "mean_cosine", "effective_rank", "residual_ratio",
                         "dirichlet_energy"}
    assert prof["dirichlet_energy"][1] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(EmptyInputError, match="at least one layer"):
        collapse_profile([])
    with pytest.raises(NonFiniteError, match="hidden_states"):
        residual_ratio([X, X * float("nan")])
    with pytest.raises(ShapeError, match=r"\[\.\.\., n, d\]"):
        mu(torch.ones(3))
    with pytest.raises(EmptyInputError, match="2 rows"):
        mean_cosine(torch.ones(1, 3))
    with pytest.raises(ShapeError, match="rows"):
        dirichlet_energy(X, ei, w, 8)


@settings(max_examples=40, deadline=None)
@given(exponent=st.integers(-300, 300))
def test_scale_invariant_metrics_hold_at_every_weight_scale(exponent: int) -> None:
    """mu, mean cosine, effective rank and the residual ratio do not depend on the scale of X,
    even where squares of the entries overflow (1e200) or underflow (1e-200)."""
    scale = 10.0**exponent
    for metric in (mu, mean_cosine, effective_rank):
        expected = float(metric(X))
        assert float(metric(scale * X)) == pytest.approx(expected, rel=1e-12), metric.__name__
    ratios = residual_ratio([scale * X, 0.5 * scale * X])
    assert ratios.tolist() == pytest.approx([1.0, 0.5], rel=1e-12)
    assert float(effective_rank(scale * torch.eye(3, dtype=torch.float64))) == pytest.approx(3.0)


def test_dirichlet_energy_is_a_sum_of_squares_never_negative() -> None:
    """On features in consensus (equal rows) the energy is exactly 0, where tr(X^T L X) gave
    about -3e-17 in the report; elsewhere it equals tr(X^T L X) for both normalisations."""
    import numpy as np

    from tgnn.metrics.spectral import laplacian

    gen = torch.Generator().manual_seed(0)
    ei = torch.randint(0, 9, (2, 30), generator=gen)
    w = torch.rand(30, generator=gen, dtype=torch.float64) * 1e3
    rows = torch.randn(2, 1, 5, generator=gen, dtype=torch.float64)
    consensus = rows.expand(2, 9, 5)  # every node the same features
    assert (dirichlet_energy(consensus, ei, w, 9) == 0).all()
    X = torch.randn(2, 9, 5, generator=gen, dtype=torch.float64)
    for normalization in (None, "sym"):
        L = laplacian(ei, w, 9, normalization=normalization).toarray()
        expected = np.einsum("bnd,nm,bmd->b", X.numpy(), L, X.numpy())
        got = dirichlet_energy(X, ei, w, 9, normalization=normalization).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="normalization"):
        dirichlet_energy(X, ei, w, 9, normalization="rw")
