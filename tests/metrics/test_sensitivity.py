"""Jacobian sensitivity: batched torch.func result against independent references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tgnn.errors import AttentionUnavailableError, ShapeError
from tgnn.metrics.sensitivity import (
    block_norms,
    jacobian_blocks,
    jacobian_sensitivity,
    jacobian_sensitivity_loop,
    surrogate_sensitivity,
)
from tgnn.models import random_config_model


def _model(kind: str):
    model, tok = random_config_model(kind, seed=1, n_layer=2, hidden=16, n_head=4,
                                     dtype=torch.float64)
    return model, tok("sensitivity!")["input_ids"]


@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
@pytest.mark.parametrize("norm", ["fro", "spectral"])
def test_batched_equals_backward_loop(kind: str, norm: str) -> None:
    model, ids = _model(kind)
    kw = {"targets": [5, 12], "layers": [1, 2] if kind == "gpt2" else [2], "norm": norm}
    fast = jacobian_sensitivity(model, ids, chunk_size=40 if kind == "gpt2" else None, **kw)
    slow = jacobian_sensitivity_loop(model, ids, **kw)
    assert fast.shape == (len(kw["layers"]), 2, 13)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=0)
    assert float(fast.max()) > 1e-3  # not a trivially zero Jacobian


def test_blocks_equal_autograd_functional_jacobian() -> None:
    model, ids = _model("gpt2")
    x = model.get_input_embeddings()(ids[0]).detach()

    def last_hidden(e: torch.Tensor) -> torch.Tensor:
        return model.transformer(inputs_embeds=e[None]).last_hidden_state[0]

    full = torch.autograd.functional.jacobian(last_hidden, x)  # [n, d, n, d]
    blocks = jacobian_blocks(model, inputs_embeds=x, targets=[3, 12])[0]
    torch.testing.assert_close(blocks, full[[3, 12]].permute(0, 2, 1, 3), atol=1e-10, rtol=0)
    np.testing.assert_allclose(
        block_norms(blocks, "spectral").numpy(),
        np.linalg.norm(full[[3, 12]].permute(0, 2, 1, 3).numpy(), ord=2, axis=(-2, -1)),
        atol=1e-10,
    )


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_causal_models_ignore_the_future(kind: str) -> None:
    model, ids = _model(kind)
    s = jacobian_sensitivity(model, ids, targets=[4])[0, 0]
    assert bool((s[5:] == 0).all()) and bool((s[:5] > 0).all())


def test_bert_sees_both_ways() -> None:
    model, ids = _model("bert")
    assert bool((jacobian_sensitivity(model, ids, targets=[4])[0, 0] > 0).all())


def test_layer_zero_is_local() -> None:
    model, ids = _model("gpt2")
    s = jacobian_sensitivity(model, ids, targets=[6], layers=[0])[0, 0]  # embeddings + positions
    expected = torch.zeros(13, dtype=torch.float64)
    expected[6] = 4.0  # identity block of width 16: Frobenius norm sqrt(16)
    torch.testing.assert_close(s, expected)


def test_argument_errors() -> None:
    model, ids = _model("gpt2")
    with pytest.raises(ShapeError):
        jacobian_sensitivity(model, ids, targets=[13])
    with pytest.raises(ShapeError):
        jacobian_sensitivity(model, ids, layers=[3])
    with pytest.raises(ShapeError):
        jacobian_sensitivity(model, ids, norm="nuclear")
    with pytest.raises(ShapeError):
        jacobian_sensitivity(model)
    with pytest.raises(ShapeError):
        jacobian_sensitivity(model, torch.cat([ids, ids]))


def _causal(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, n, generator=g, dtype=torch.float64).tril() + 1e-3 * torch.eye(n)
    return a / a.sum(dim=1, keepdim=True)


def test_surrogate_matches_linear_model_jacobian() -> None:
    att = torch.stack([_causal(6, 2), _causal(6, 3), _causal(6, 4)])
    d, rho = 3, 0.4

    def linear(x: torch.Tensor) -> torch.Tensor:  # h <- (rho A + (1 - rho) I) h, per layer
        for a in att:
            x = (rho * a + (1 - rho) * torch.eye(6, dtype=torch.float64)) @ x
        return x

    full = torch.autograd.functional.jacobian(linear, torch.randn(6, d, dtype=torch.float64))
    blocks = full.permute(0, 2, 1, 3)  # [i, s, d, d]
    for norm in ("fro", "spectral"):
        torch.testing.assert_close(surrogate_sensitivity(att, rho, d=d, norm=norm),
                                   block_norms(blocks, norm))
    torch.testing.assert_close(surrogate_sensitivity(att, rho, d=d, targets=[5])[0],
                               block_norms(blocks, "fro")[5])


@pytest.mark.filterwarnings("ignore:There is a performance drop")  # SDPA backward under vmap
def test_attention_switch_is_restored_and_changes_nothing() -> None:
    model, ids = _model("gpt2")
    model.set_attn_implementation("sdpa")
    switched = jacobian_sensitivity(model, ids, targets=[7])  # differentiates eager attention
    assert model.config._attn_implementation == "sdpa"
    own = jacobian_sensitivity(model, ids, targets=[7], attn_implementation=None)
    torch.testing.assert_close(switched, own, atol=1e-10, rtol=0)
    with pytest.raises(AttentionUnavailableError, match="no-such-attention"):
        jacobian_sensitivity(model, ids, attn_implementation="no-such-attention")
    assert model.config._attn_implementation == "sdpa"


def test_indices_and_width_are_checked() -> None:
    """Float targets / layers were truncated (1.5 -> 1), out-of-range ones were torch's raw
    IndexError, and d <= 0 gave zeros (d = 0) or complex values (d < 0). Negative targets count
    from the end, as in Python and tgnn.theory (-1: the last token)."""
    model, ids = _model("gpt2")
    with pytest.raises(ShapeError, match="targets: expected an integer, got 1.5"):
        jacobian_sensitivity(model, ids, targets=[1.5])  # type: ignore[list-item]
    with pytest.raises(ShapeError, match="layers: expected an integer, got 1.0"):
        jacobian_sensitivity(model, ids, layers=[1.0])  # type: ignore[list-item]
    for chunk in (0, 1.5):
        with pytest.raises(ShapeError, match="chunk_size: expected an integer"):
            jacobian_sensitivity(model, ids, chunk_size=chunk)  # type: ignore[arg-type]
    A = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]])
    for targets, match in (([-3], r"targets: expected indices in \[-2, 2\), got \[-3\]"),
                           ([2], r"got \[2\]"), ([0.0], "expected an integer")):
        with pytest.raises(ShapeError, match=match):
            surrogate_sensitivity(A, 0.5, targets=targets)  # type: ignore[arg-type]
    for d in (0, -4, 2.5):
        with pytest.raises(ShapeError, match="d: expected an integer"):
            surrogate_sensitivity(A, 0.5, d=d)  # type: ignore[arg-type]
    assert surrogate_sensitivity(A, 0.5, targets=torch.tensor([1])).shape == (1, 2)
    torch.testing.assert_close(surrogate_sensitivity(A, 0.5, targets=[-1]),
                               surrogate_sensitivity(A, 0.5, targets=[1]))
    torch.testing.assert_close(jacobian_sensitivity(model, ids, targets=[-1]),
                               jacobian_sensitivity(model, ids, targets=[ids.shape[-1] - 1]))
