"""The explorer's data: top-k edges against a brute-force sort, quantities against closed forms."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tgnn.errors import EmptyInputError, NotStochasticError, ShapeError
from tgnn.explorer import build_payload, dequantize, encode_top_k, quantize


def causal_softmax(heads: int, n: int, seed: int, sink: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(heads, n, n, generator=g)
    scores[..., 0] += sink
    return scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), -torch.inf).softmax(-1)


def uniform_causal(n: int) -> torch.Tensor:
    return torch.tril(torch.ones(n, n, dtype=torch.float64)) / torch.arange(1, n + 1)[:, None]


def floats(payload: dict, key: str) -> np.ndarray:
    q = next(q for q in payload["quantities"] if q["key"] == key)
    values = np.frombuffer(base64.b64decode(q["data"]), dtype="<f4")
    return values.reshape(payload["layers"], q["rows"], payload["n"])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=50))
def test_quantize_error_is_half_a_step_on_the_sqrt_scale(weights: list[float]) -> None:
    w = torch.tensor(weights, dtype=torch.float64)
    back = dequantize(quantize(w)).double()
    assert torch.all((back.sqrt() - w.sqrt()).abs() <= 0.5 / 255 + 1e-6)


def test_top_k_matches_a_brute_force_sort() -> None:
    A = causal_softmax(3, 20, seed=1)
    block = encode_top_k(A, 5)
    ref = np.argsort(-A.numpy(), axis=-1, kind="stable")[..., :5]
    values = np.take_along_axis(A.numpy(), ref, -1)
    full = slice(4, None)  # rows with at least 5 non-zero keys (no ties among zeros)
    assert np.array_equal(np.sort(block.keys[:, full], -1), np.sort(ref[:, full], -1))
    decoded = dequantize(torch.from_numpy(block.codes)).numpy()
    step = 2 * values.max() / 255  # d(w) = 2 sqrt(w) d(sqrt w), half a step each way
    np.testing.assert_allclose(np.sort(decoded, -1), np.sort(values, -1), atol=step)
    stored = decoded > 0
    assert block.kept.tolist() == stored.sum(axis=(1, 2)).tolist()
    assert block.nonzero.tolist() == [210] * 3  # 20 * 21 / 2 causal entries
    kept_mass = np.where(stored, values, 0).sum(axis=(1, 2)) / 20
    np.testing.assert_allclose(block.mass, kept_mass, rtol=1e-5)


def test_short_rows_mark_empty_slots() -> None:
    block = encode_top_k(uniform_causal(4).float()[None], 3)
    assert block.codes[0, 0].tolist() == [255, 0, 0]  # query 0 reads only itself
    assert block.kept.tolist() == [1 + 2 + 3 + 3]


def test_payload_quantities_match_closed_forms() -> None:
    n = 6
    u = uniform_causal(n)
    payload = build_payload([u[None], u[None]], list("abcdef"), top_k=3, rho=1.0)
    assert (payload["layers"], payload["heads"], payload["causal"]) == (2, 1, True)
    s = np.arange(1, n)
    # absorbing resistance of uniform causal attention: s n / (n - 1) for tokens s = 1..n-1
    absorbing = floats(payload, "absorbing_resistance")
    np.testing.assert_allclose(absorbing[0, 0, : n - 1], s * n / (n - 1), rtol=1e-6)
    # rollout resistance after two layers, rho = 1: 1 / (U^2)[last, s]
    u2 = (u @ u).numpy()
    rollout = floats(payload, "rollout_resistance")
    np.testing.assert_allclose(rollout[1, 0], 1 / u2[-1], rtol=1e-6)
    np.testing.assert_allclose(rollout[0, 0], np.full(n, n), rtol=1e-6)
    # head and head-mean rows are the same for one head; sink mass of key 0 is H_n / n
    if "sink_mass" in [q["key"] for q in payload["quantities"]]:
        sink = floats(payload, "sink_mass")
        assert sink.shape == (2, 2, n)
        harmonic = sum(1 / k for k in range(1, n + 1))
        assert sink[0, 1, 0] == pytest.approx(harmonic / n, rel=1e-6)
    assert payload["unavailable"]["sensitivity"] == "no model given"


def test_panel_numbers_per_layer_and_head() -> None:
    u = uniform_causal(3)
    payload = build_payload([torch.stack([u, u])], ["x", "y", "z"], per_head_panel=True)
    values = payload["panel"]["values"]
    assert values["total_resistance"] == [[10.5, 10.5, 10.5]]  # R01 = 3, R02 = R12 = 3.75
    assert len(values["spectral_gap"][0]) == 3 and payload["panel"]["per_head"]


def test_bidirectional_attention_has_no_absorbing_resistance() -> None:
    A = torch.full((2, 4, 4), 0.25)
    payload = build_payload([A], list("abcd"))
    keys = [q["key"] for q in payload["quantities"]]
    assert not payload["causal"] and "absorbing_resistance" not in keys
    assert "rollout_resistance" in keys
    assert payload["unavailable"]["absorbing_resistance"] == "needs causal attention"


def test_errors_name_the_argument() -> None:
    u = uniform_causal(3)
    with pytest.raises(ShapeError, match="attentions\\[0\\]: expected 2 tokens"):
        build_payload([u], ["a", "b"])
    with pytest.raises(ShapeError, match="attentions\\[1\\]: expected 1 heads"):
        build_payload([u, torch.stack([u, u])], list("abc"))
    with pytest.raises(EmptyInputError, match="attentions"):
        build_payload([], list("abc"))
    with pytest.raises(NotStochasticError):
        build_payload([2 * u], list("abc"))
    with pytest.raises(ShapeError, match="sensitivity"):
        build_payload([u], list("abc"), sensitivity=np.ones((2, 3)))
    with pytest.raises(ShapeError, match="top_k"):
        encode_top_k(u[None], 0)
