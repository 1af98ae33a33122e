"""Sparse input of tgnn.theory (scipy sparse, PyG Data): the same numbers as the dense path.

Random causal softmax attention is sparsified by a top-k per row (the diagonal and token 0 kept
or not), once renormalised (rows sum to one: compared with the dense functions to 1e-10) and
once as kept (rows sum to less than one: compared with a dense oracle written out here).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import solve_triangular
from tgnn.theory import (
    absorbing_resistance,
    fundamental_matrix,
    globally_reachable_nodes,
    group_inverse_resistance,
    hitting_probabilities,
    rollout_matrix,
    rollout_resistance,
    rollout_row,
    ysl_resistance,
)
from torch_geometric.data import Batch, Data

from tgnn.errors import (
    GraphError,
    NonFiniteError,
    NotCausalError,
    NotReachableError,
    NotStochasticError,
    ShapeError,
    SizeLimitError,
)

from ._helpers import random_causal

TOL = 1e-10


def top_k(a: np.ndarray, k: int, renormalise: bool) -> np.ndarray:
    """Keep the ``k`` largest weights of each row (dense result with zeros elsewhere)."""
    out = np.zeros_like(a)
    for i, row in enumerate(a):
        keep = np.argsort(-row[: i + 1], kind="stable")[:k]
        out[i, keep] = row[keep]
    if renormalise:
        out /= out.sum(1, keepdims=True)
    return out


def to_data(a: np.ndarray, dtype: torch.dtype = torch.float64) -> Data:
    """PyG graph of attention ``a``: edge ``[j, i]`` carries ``a[i, j]``."""
    rows, cols = np.nonzero(a)
    return Data(
        edge_index=torch.tensor(np.stack([cols, rows])), edge_weight=torch.tensor(a[rows, cols],
        dtype=dtype), num_nodes=len(a), is_causal=True,
    )


FORMS = {
    "csr_array": sp.csr_array,
    "csc_matrix": sp.csc_matrix,
    "coo_array": sp.coo_array,
    "data": to_data,
}


def as_validated(a: np.ndarray) -> np.ndarray:
    """Rows within the float64 tolerance (1e-4) of one renormalised, as both paths do."""
    sums = a.sum(1, keepdims=True)
    return np.where(np.abs(sums - 1.0) <= 1e-4, a / sums, a)


def rollout_oracle(layers: list[np.ndarray], rho: np.ndarray, target: int) -> np.ndarray:
    n = len(layers[0])
    phi = np.eye(n)
    for a, share in zip(map(as_validated, layers), rho, strict=True):
        phi = (share[:, None] * a + np.diag(1.0 - share)) @ phi
    return phi[target]


def absorbing_oracle(a: np.ndarray, i: int) -> np.ndarray:
    """R^abs(., i) with killing: N = (I - Q)^-1, R(0, i) = N[i, i] / h[i, 0]."""
    a, n = as_validated(a), len(a)
    big = np.zeros((n, n))
    big[1:, 1:] = solve_triangular(np.eye(n - 1) - a[1:, 1:], np.eye(n - 1), lower=True)
    row = np.full(n, np.inf)
    if i == 0:
        row[0] = 0.0
        return row
    for s in range(1, i + 1):
        if big[i, s] > 0:
            row[s] = big[i, i] * big[s, s] / big[i, s]
    reach = big[i, 1:] @ a[1:, 0]
    row[0] = big[i, i] / reach if reach > 0 else np.inf
    return row


def close(x: np.ndarray, y: np.ndarray) -> bool:
    finite = np.isfinite(y)
    same_inf = bool(np.array_equal(np.isfinite(x), finite))
    return same_inf and bool(np.allclose(x[finite], y[finite], rtol=TOL, atol=TOL))


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("k", [1, 2, 4, 64])
def test_rollout_row_matches_dense(form: str, k: int) -> None:
    n, rng = 24, np.random.default_rng(k)
    layers = [top_k(random_causal(n, seed, 2.0, 1.0), k, True) for seed in range(3)]
    sparse = [FORMS[form](a) for a in layers]
    for rho in (0.5, np.array([0.2, 0.7, 1.0]), rng.uniform(0, 1, size=(3, n))):
        for target in (-1, 0, 7):
            got = rollout_row(sparse, target, rho)
            assert close(got, rollout_row(layers, target, rho))
            assert close(got, rollout_matrix(layers, rho)[target])
            assert close(rollout_resistance(sparse, rho=rho, target=target),
                         rollout_resistance(layers, rho=rho, target=target))


@pytest.mark.parametrize("form", sorted(FORMS))
def test_rollout_row_kept_mass(form: str) -> None:
    """Rows summing to less than one: the rollout of the kept edges, below the full one."""
    n, rng = 30, np.random.default_rng(1)
    full = [random_causal(n, seed, 2.0, 1.0) for seed in range(4)]
    kept = [top_k(a, 3, False) for a in full]
    assert max(a.sum(1).min() for a in kept) < 0.99
    rho = rng.uniform(0, 1, size=(4, n))
    got = rollout_row([FORMS[form](a) for a in kept], -1, rho)
    assert close(got, rollout_oracle(kept, rho, n - 1))
    assert np.all(got <= rollout_row(full, -1, rho) + 1e-15)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 10), k=st.integers(1, 5), layers=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1), renormalise=st.booleans(), data=st.data(),
)
def test_rollout_row_matches_the_product(
    n: int, k: int, layers: int, seed: int, renormalise: bool, data: st.DataObject
) -> None:
    stack = [top_k(random_causal(n, seed + l, 2.0, 0.5), k, renormalise) for l in range(layers)]
    rho = np.random.default_rng(seed).uniform(0.0, 1.0, size=(layers, n))
    target = data.draw(st.integers(-n, n - 1))
    form = data.draw(st.sampled_from(sorted(FORMS)))
    got = rollout_row([FORMS[form](a) for a in stack], target, rho)
    assert close(got, rollout_oracle(stack, rho, target % n))
    if renormalise:
        assert close(got, rollout_row(stack, target, rho))


def test_rollout_row_mixes_dense_and_sparse_layers() -> None:
    layers = [top_k(random_causal(12, seed), 3, True) for seed in range(3)]
    mixed = [layers[0], to_data(layers[1]), sp.csr_array(layers[2])]
    assert close(rollout_row(mixed, 5, 0.3), rollout_row(layers, 5, 0.3))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12), k=st.integers(1, 6), seed=st.integers(0, 2**32 - 1),
    renormalise=st.booleans(), sink=st.floats(0.0, 3.0), data=st.data(),
)
def test_absorbing_row_matches_dense(
    n: int, k: int, seed: int, renormalise: bool, sink: float, data: st.DataObject
) -> None:
    a = top_k(random_causal(n, seed, 2.0, sink), k, renormalise)
    if n > 1 and np.any(np.diag(a)[1:] >= 1.0 - 1e-14):
        with pytest.raises(NotReachableError):
            absorbing_resistance(sp.csr_array(a), target=-1)
        return
    target = data.draw(st.integers(-n, n - 1))
    rho = data.draw(st.sampled_from([1.0, 0.5, 0.25]))
    form = data.draw(st.sampled_from(sorted(FORMS)))
    got = absorbing_resistance(FORMS[form](a), target=target, rho=rho)
    assert close(got, absorbing_oracle(a, target % n) / rho)
    if renormalise:
        assert close(got, absorbing_resistance(a, target=target, rho=rho))
        assert close(got, absorbing_resistance(a, rho=rho)[target % n])


def test_absorbing_row_of_a_larger_graph() -> None:
    """A 300-token top-4 graph with a strong sink: the sparse row equals the dense one."""
    a = top_k(random_causal(300, 3, 3.0, 2.0), 4, True)
    assert close(absorbing_resistance(to_data(a), target=-1),
                 absorbing_resistance(a, target=-1))


@pytest.mark.parametrize("form", sorted(FORMS))
def test_dense_functions_accept_sparse_input(form: str) -> None:
    a = top_k(random_causal(10, 5, 1.5, 1.0), 3, True)
    s = FORMS[form](a)
    assert np.allclose(fundamental_matrix(s, rho=0.5), fundamental_matrix(a, rho=0.5), rtol=TOL)
    assert np.allclose(hitting_probabilities(s), hitting_probabilities(a), rtol=TOL)
    assert np.allclose(ysl_resistance(s), ysl_resistance(a), rtol=TOL)
    assert np.allclose(group_inverse_resistance(s), group_inverse_resistance(a), rtol=TOL)
    assert np.array_equal(globally_reachable_nodes(s), globally_reachable_nodes(a))
    assert close(rollout_resistance([s, s]), rollout_resistance([a, a]))


def test_edge_attr_heads_are_averaged_like_dense_heads() -> None:
    heads = np.stack([top_k(random_causal(8, seed), 8, True) for seed in range(3)])
    rows, cols = np.nonzero(np.tril(np.ones((8, 8))))
    graph = Data(edge_index=torch.tensor(np.stack([cols, rows])),
                 edge_attr=torch.tensor(heads[:, rows, cols].T), num_nodes=8)
    assert close(rollout_row(graph, -1), rollout_row(torch.tensor(heads)[None], -1))
    assert close(absorbing_resistance(graph, target=-1),
                 absorbing_resistance(torch.tensor(heads), target=-1))


def _bad(a: np.ndarray, i: int, j: int, value: float) -> np.ndarray:
    out = a.copy()
    out[i, j] = value
    return out


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda a: _bad(_bad(a, 1, 3, 0.1), 1, 0, a[1, 0] - 0.1), NotCausalError),
        (lambda a: _bad(a, 4, 0, -0.5), NotStochasticError),
        (lambda a: _bad(a, 4, 0, np.nan), NonFiniteError),
        (lambda a: _bad(a, 4, 0, a[4, 0] + 0.5), NotStochasticError),
        (lambda a: _bad(np.where(np.arange(6)[:, None] == 3, 0.0, a), 3, 3, 1.0),
         NotReachableError),
    ],
)
@pytest.mark.parametrize("form", sorted(FORMS))
def test_sparse_errors_match_dense(make: object, error: type, form: str) -> None:
    a = make(top_k(random_causal(6, 2, 1.0, 3.0), 6, True))  # type: ignore[operator]
    calls = [lambda x: absorbing_resistance(x, target=-1)]
    if error is not NotReachableError:
        calls.append(lambda x: rollout_row([x], -1))
    for call in calls:
        with pytest.raises(error):
            call(a)
        with pytest.raises(error, match="attention"):
            call(FORMS[form](a))


def test_bad_sparse_input_names_the_argument() -> None:
    a = top_k(random_causal(5, 0), 2, True)
    with pytest.raises(ShapeError, match=r"attentions\[0\]: expected a floating-point"):
        rollout_row([sp.csr_array((a > 0).astype(np.int64))])
    with pytest.raises(ShapeError, match="expected square"):
        rollout_row([sp.csr_array(np.ones((2, 3)) / 3)])
    graph = to_data(a)
    del graph.edge_weight
    with pytest.raises(GraphError, match="edge_weight: expected the attention weight"):
        absorbing_resistance(graph, target=-1)
    with pytest.raises(ShapeError, match=r"attentions\[1\]: expected \[5, 5\] like layer 0"):
        rollout_row([to_data(a), sp.csr_array(np.eye(4))])
    with pytest.raises(GraphError, match=r"edge_index: expected node ids in \[0, 4\)"):
        rollout_row(Data(edge_index=torch.tensor([[0, 4], [1, 1]]),
                         edge_weight=torch.tensor([0.5, 0.5]), num_nodes=4))


def test_a_batch_of_sequences_is_refused() -> None:
    a = top_k(random_causal(5, 0), 2, True)
    batch = Batch.from_data_list([to_data(a), to_data(a)])
    with pytest.raises(ShapeError, match="expected one sequence .* a Batch of 2 graphs"):
        absorbing_resistance(batch, target=-1)
    assert close(rollout_row(batch.get_example(1), -1), rollout_row([a], -1))


def test_float32_and_bfloat16_weights_use_their_tolerance() -> None:
    a = top_k(random_causal(9, 1), 9, True)
    exact = rollout_row([a], -1)
    assert np.allclose(rollout_row(to_data(a, torch.float32), -1), exact, atol=1e-6)
    assert np.allclose(rollout_row(to_data(a, torch.bfloat16), -1), exact, atol=2e-2)


def test_dense_paths_refuse_above_the_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tgnn.theory._sparse.DENSE_MAX_NODES", 7)
    a = top_k(random_causal(8, 0), 3, True)
    graph = to_data(a)
    for call, what in [
        (lambda: ysl_resistance(graph), "ysl_resistance"),
        (lambda: rollout_matrix([graph]), "rollout_matrix"),
        (lambda: rollout_resistance([a]), "rollout_matrix"),
        (lambda: fundamental_matrix(graph), "fundamental matrix"),
        (lambda: absorbing_resistance(a), "fundamental matrix"),
        (lambda: group_inverse_resistance(graph), "group inverse"),
    ]:
        with pytest.raises(SizeLimitError, match=what) as info:
            call()
        message = str(info.value)
        assert "n = 8" in message and "GiB" in message and "target=" in message
    # the one-row sparse paths have no limit
    assert absorbing_resistance(graph, target=-1)[-1] == pytest.approx(1.0 / (1.0 - a[-1, -1]))
    assert rollout_row([graph], -1).sum() == pytest.approx(1.0)
