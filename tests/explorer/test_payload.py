"""The explorer's data: top-k edges against a brute-force sort, the sparse path against the
dense one, row facts and rollout against closed forms and tgnn.metrics."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch

import tgnn
from tgnn.errors import EmptyInputError, NotStochasticError, ShapeError
from tgnn.explorer import build_payload, build_sparse_payload, encode_sparse_rows, encode_top_k
from tgnn.metrics.attention import attention_entropy, sink_mass
from tgnn.models import random_config_model


def causal_softmax(heads: int, n: int, seed: int, sink: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(heads, n, n, generator=g)
    scores[..., 0] += sink
    return scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), -torch.inf).softmax(-1)


def uniform_causal(n: int) -> torch.Tensor:
    return torch.tril(torch.ones(n, n, dtype=torch.float64)) / torch.arange(1, n + 1)[:, None]


def decoded(payload: dict, group: str, key: str) -> np.ndarray:
    """``[L, S, n]`` rows or ``[L, n]`` profiles of ``key``."""
    q = next(q for q in payload[group] if q["key"] == key)
    values = np.frombuffer(base64.b64decode(q["data"]), dtype="<f4")
    if group == "rows":
        return values.reshape(payload["layers"], payload["heads"] + 1, payload["n"])
    return values.reshape(payload["layers"], payload["n"])


def edges(payload: dict, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """``[S, n, k]`` keys and float weights of one layer, as the page decodes them."""
    shape = (payload["heads"] + 1, payload["n"], payload["top_k"])
    e = payload["edges"][layer]
    keys = np.frombuffer(base64.b64decode(e["keys"]), dtype="<u2").reshape(shape)
    weights = np.frombuffer(base64.b64decode(e["weights"]), dtype="<f2").reshape(shape)
    return keys, weights.astype(np.float64)


def test_top_k_matches_a_brute_force_sort() -> None:
    A = causal_softmax(3, 20, seed=1)
    block = encode_top_k(A, 5)
    ref = np.argsort(-A.numpy(), axis=-1, kind="stable")[..., :5]
    values = np.take_along_axis(A.numpy(), ref, -1)
    full = slice(4, None)  # rows with at least 5 non-zero keys (no ties among zeros)
    assert np.array_equal(np.sort(block.keys[:, full], -1), np.sort(ref[:, full], -1))
    np.testing.assert_allclose(block.weights.astype(np.float64), values, rtol=2**-11, atol=1e-8)
    np.testing.assert_allclose(block.drawn, values.sum(-1), rtol=1e-6)


def test_short_rows_mark_empty_slots() -> None:
    block = encode_top_k(uniform_causal(4).float()[None], 3)
    assert block.weights[0, 0].tolist() == [1.0, 0.0, 0.0]  # query 0 reads only itself
    assert block.drawn[0].tolist() == [1.0, 1.0, 1.0, pytest.approx(0.75)]


def test_sparse_rows_equal_dense_top_k() -> None:
    A = causal_softmax(2, 12, seed=3)
    i, j = torch.tril_indices(12, 12)
    weights = A[:, i, j].T  # every causal edge j -> i, both heads
    sparse = encode_sparse_rows(torch.stack([j, i]), weights, 12, 4)
    dense = encode_top_k(A, 4)
    assert np.array_equal(np.sort(sparse.keys, -1), np.sort(dense.keys, -1))
    assert np.array_equal(sparse.weights, dense.weights)
    np.testing.assert_allclose(sparse.drawn, dense.drawn, rtol=1e-6)
    with pytest.raises(ShapeError, match="weights: expected"):
        encode_sparse_rows(torch.stack([j, i]), weights[:-1], 12, 4)


def test_row_facts_and_rollout_match_closed_forms() -> None:
    n = 6
    u = uniform_causal(n)
    payload = build_payload([u[None], u[None]], list("abcdef"), top_k=3, rho=1.0)
    assert (payload["layers"], payload["heads"], payload["causal"]) == (2, 1, True)
    # rollout resistance after two layers, rho = 1: 1 / (U^2)[last, s]; after one: n
    rollout = decoded(payload, "profiles", "rollout_resistance")
    np.testing.assert_allclose(rollout[1], 1 / (u @ u).numpy()[-1], rtol=1e-6)
    np.testing.assert_allclose(rollout[0], np.full(n, n), rtol=1e-6)
    # sink mass of key 0 is H_n / n; entropy of row t is log(t + 1); top-3 keeps min(1, 3/(t+1))
    harmonic = sum(1 / k for k in range(1, n + 1))
    assert decoded(payload, "rows", "sink_mass")[0, 1, 0] == pytest.approx(harmonic / n)
    np.testing.assert_allclose(decoded(payload, "rows", "entropy")[0, 0], np.log(np.arange(1, 7)),
                               rtol=1e-6)
    np.testing.assert_allclose(decoded(payload, "rows", "drawn_mass")[0, 0],
                               np.minimum(1, 3 / np.arange(1, 7)), rtol=1e-6)
    assert payload["unavailable"]["sensitivity"] == "no model given"


def test_dense_row_facts_match_tgnn_metrics() -> None:
    A = causal_softmax(3, 10, seed=2, sink=2.0)
    payload = build_payload([A], [str(t) for t in range(10)])
    np.testing.assert_allclose(decoded(payload, "rows", "sink_mass")[0, :3],
                               sink_mass(A).numpy(), rtol=1e-5)
    entropy = attention_entropy(A, reduction="none").numpy()
    np.testing.assert_allclose(decoded(payload, "rows", "entropy")[0, :3], entropy, rtol=1e-5)
    np.testing.assert_allclose(decoded(payload, "rows", "entropy")[0, 3], entropy.mean(0),
                               rtol=1e-5)  # the mean slot: mean of the heads' entropies
    np.testing.assert_allclose(decoded(payload, "rows", "first_token_mass")[0, 3],
                               A.mean(0)[:, 0].numpy(), rtol=1e-5)


def test_sparse_capture_page_equals_the_dense_page() -> None:
    """Per-head edges and every row fact: the sparse path equals the dense one."""
    model, tok = random_config_model("gpt2", seed=0, n_layer=2, n_head=2, hidden=16)
    inputs = tok("the sparse page equals the dense page", return_tensors="pt")
    tokens = [str(t) for t in range(inputs["input_ids"].shape[1])]
    dense = build_payload([a.weights[0] for a in tgnn.capture_attention(model, inputs)], tokens,
                          top_k=3)
    graphs = tgnn.capture_sparse_graphs(model, inputs, head_reduction=None, top_k=3)
    sparse = build_sparse_payload(graphs, tokens, top_k=3)
    assert (sparse["source"], dense["source"]) == ("sparse", "dense")
    for layer in range(2):
        (dk, dw), (sk, sw) = edges(dense, layer), edges(sparse, layer)
        heads = slice(0, 2)  # each head's own top-k is in the captured union: equal
        np.testing.assert_allclose(sw[heads], dw[heads], rtol=2**-10)
        stored = dw[heads] > 1e-3  # ties among tiny weights may pick other keys
        assert np.array_equal(sk[heads][stored], dk[heads][stored])
    for key in ("sink_mass", "entropy", "first_token_mass"):
        np.testing.assert_allclose(decoded(sparse, "rows", key), decoded(dense, "rows", key),
                                   rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(decoded(sparse, "rows", "drawn_mass")[:, :2],
                               decoded(dense, "rows", "drawn_mass")[:, :2], rtol=1e-5)
    # the rollout of the kept (union) edges reaches less: resistance at least the dense one
    assert np.all(decoded(sparse, "profiles", "rollout_resistance")
                  >= decoded(dense, "profiles", "rollout_resistance") * (1 - 1e-5))


def test_bidirectional_sink_mass_reads_all_queries() -> None:
    A = torch.full((2, 4, 4), 0.25)
    payload = build_payload([A], list("abcd"))
    assert not payload["causal"]
    np.testing.assert_allclose(decoded(payload, "rows", "sink_mass"), 0.25, rtol=1e-6)


def test_errors_name_the_argument() -> None:
    u = uniform_causal(3)
    with pytest.raises(ShapeError, match="attentions\\[0\\]: expected 2 tokens"):
        build_payload([u], ["a", "b"])
    with pytest.raises(ShapeError, match="attentions: expected one number of heads"):
        build_payload([u, torch.stack([u, u])], list("abc"))
    with pytest.raises(EmptyInputError, match="attentions"):
        build_payload([], list("abc"))
    with pytest.raises(NotStochasticError):
        build_payload([2 * u], list("abc"))
    with pytest.raises(ShapeError, match="top_k"):
        encode_top_k(u[None], 0)
    model, tok = random_config_model("gpt2", seed=0, n_layer=1, n_head=2, hidden=8)
    reduced = tgnn.capture_sparse_graphs(model, tok("ab", return_tensors="pt"), top_k=2)
    with pytest.raises(ShapeError, match="head_reduction=None"):
        build_sparse_payload(reduced, list("xyz"))
