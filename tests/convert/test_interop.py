"""Attention from TransformerLens caches and nnsight traces equals eager attention.

The references are independent of tgnn's capture: eager ``output_attentions`` of the same
random-init weights, nnsight's own saved eager ``attn.output[1]`` under the same intervention,
and the patterns TransformerLens computes itself. The nnsight and TransformerLens tests skip
when the package is absent (TransformerLens is not in CI: see docs/guides/transformers.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.convert.conftest import make_model, padded_inputs
from tgnn.convert import attention_to_data
from tgnn.convert.interop import attention_layers, lens_attention, record_attention
from tgnn.errors import (
    AttentionUnavailableError,
    EmptyInputError,
    MaskError,
    NotStochasticError,
    ShapeError,
)
from tgnn.models import random_config_model


def eager_attentions(kind: str, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return tuple(make_model(kind, "eager")(**inputs, output_attentions=True).attentions)


def assert_real_close(weights: torch.Tensor, reference: torch.Tensor, keep: torch.Tensor) -> None:
    """Equal on real tokens (padding rows and columns are free)."""
    for b in range(keep.shape[0]):
        k = keep[b]
        torch.testing.assert_close(
            weights[b][:, k][:, :, k], reference[b][:, k][:, :, k].float(), rtol=0, atol=1e-6
        )


# --- attention_layers and lens_attention: tensors in TransformerLens' layout ---------------


def test_attention_layers_wraps_checks_and_converts() -> None:
    causal = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    pattern = torch.stack([causal, torch.eye(3)])[None].half()  # [B=1, H=2, 3, 3]
    items = attention_layers([pattern, pattern], layers=[4, 7])
    assert [item.layer for item in items] == [4, 7]
    assert items[0].weights.dtype == torch.float32 and items[0].padding_mask.all()
    graph = attention_to_data(items[0].weights[0], items[0].padding_mask[0], head_reduction=None)
    # edge j -> i carries A[i, j]: query 2 reads key 1 with 0.3 in head 0
    edge = ((graph.edge_index[0] == 1) & (graph.edge_index[1] == 2)).nonzero().item()
    assert graph.edge_attr[edge].tolist() == [pytest.approx(0.3, abs=1e-3), 0.0]


def test_attention_layers_checks_real_rows_only() -> None:
    pattern = torch.full((2, 1, 3, 3), 1 / 3)
    pattern[1, 0, 2] = 0.0  # padding query of sequence 1: its row is free
    keep = torch.tensor([[1, 1, 1], [1, 1, 0]])
    assert attention_layers([pattern], keep)[0].padding_mask.tolist()[1] == [True, True, False]
    with pytest.raises(NotStochasticError, match=r"patterns\[0\] \(layer 0\)"):
        attention_layers([pattern])


@pytest.mark.parametrize(
    ("patterns", "mask", "error", "match"),
    [
        ([], None, EmptyInputError, "at least one layer"),
        (torch.eye(2)[None], None, ShapeError, "got Tensor"),
        ([torch.eye(2)[None], torch.eye(3)[None]], None, ShapeError, "shape of the first layer"),
        ([torch.ones(1, 2, 3)], None, ShapeError, "square"),
        ([torch.eye(2)[None]], torch.ones(1, 3), MaskError, r"\[B, n\] = \[1, 2\]"),
    ],
)
def test_attention_layers_refuses(
    patterns: Any, mask: torch.Tensor | None, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        attention_layers(patterns, mask)


def test_lens_attention_reads_hook_patterns_in_layer_order() -> None:
    a = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]])  # [H, n, n]: a cache with remove_batch_dim
    b = torch.tensor([[[1.0, 0.0], [0.1, 0.9]]])
    cache = {"blocks.1.attn.hook_pattern": b, "blocks.0.attn.hook_pattern": a,
             "blocks.0.attn.hook_attn_scores": torch.zeros(1, 2, 2)}
    items = lens_attention(cache)
    assert [item.layer for item in items] == [0, 1]
    assert torch.equal(items[1].weights, b[None])
    assert [item.layer for item in lens_attention(cache, layers=[1])] == [1]
    with pytest.raises(AttentionUnavailableError, match="names_filter|must not filter"):
        lens_attention({"blocks.0.attn.hook_z": a})
    with pytest.raises(AttentionUnavailableError, match="ActivationCache"):
        lens_attention([a])


# --- record_attention: any caller of a Hugging Face model ------------------------------------


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_record_attention_equals_eager(kind: str) -> None:
    inputs = padded_inputs()
    model = make_model(kind)
    with record_attention(model) as recorded, torch.no_grad():
        model(inputs["input_ids"], attention_mask=inputs["attention_mask"])  # positional ids
    expected = eager_attentions(kind, inputs)
    assert [item.layer for item in recorded] == [0, 1, 2]
    for item, reference in zip(recorded, expected, strict=True):
        assert torch.equal(item.padding_mask, inputs["attention_mask"].bool())
        assert_real_close(item.weights, reference, item.padding_mask)
    assert model.config._attn_implementation == "sdpa"  # restored


def test_record_attention_layers_and_passes() -> None:
    model = make_model("gpt2")
    ids = padded_inputs(batch=1)["input_ids"]
    with record_attention(model, layers=[1]) as recorded, torch.no_grad():
        model(input_ids=ids)
        model(input_ids=ids[:, :4])
    assert [(item.layer, item.weights.shape[-1]) for item in recorded] == [(1, 7), (1, 4)]


def test_record_attention_refuses_no_pass_a_submodule_call_and_generation() -> None:
    model = make_model("gpt2")
    with pytest.raises(EmptyInputError, match="forward pass"), record_attention(model):
        pass
    ids = padded_inputs(batch=1)["input_ids"]
    with pytest.raises(ShapeError, match=r"0 \.\. 2 .* got \[3\]"), record_attention(
        model, layers=[0, 3]
    ):
        pass
    with pytest.raises(AttentionUnavailableError, match="submodule"), record_attention(model):
        model.transformer(ids)  # the base model, below the model given: no padding mask read
    with pytest.raises(ShapeError, match="key/value cache"), record_attention(model):
        model.generate(ids, max_new_tokens=2, do_sample=False, pad_token_id=0)


# --- nnsight ---------------------------------------------------------------------------------


@pytest.fixture
def nnsight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """nnsight, leaving the rest of the test process as it was.

    Its import mounts ``.save`` on every object, replaces ``glibc``'s ``backtrace`` and
    patches ``torch.Tensor.backward`` (to inspect the caller's source on every call): the first
    two are switched off by its config, the third is undone after the test.
    """
    config = tmp_path / "nnsight.yaml"
    config.write_text("APP:\n  PYMOUNT: false\n")
    monkeypatch.setenv("NNSIGHT_CONFIG", str(config))
    monkeypatch.setenv("NNSIGHT_DISABLE_CPP_BACKTRACE", "0")
    monkeypatch.setattr(torch.Tensor, "backward", torch.Tensor.backward)  # restored after
    yield pytest.importorskip("nnsight")


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_record_attention_in_an_nnsight_trace_with_intervention(kind: str, nnsight: Any) -> None:
    model, tok = random_config_model(kind, n_layer=2, attn_implementation="sdpa")
    eager, _ = random_config_model(kind, n_layer=2, attn_implementation="eager")
    inputs = tok(["attention as a graph", "sinks"])  # the second one right-padded

    def block(wrapped: Any) -> Any:
        return wrapped.transformer.h if kind == "gpt2" else wrapped.model.layers

    def attention(layer: Any) -> Any:
        return layer.attn if kind == "gpt2" else layer.self_attn

    traced, reference = nnsight.NNsight(model), nnsight.NNsight(eager)
    with record_attention(traced) as plain:
        with traced.trace(**inputs):
            pass
    with record_attention(traced) as recorded:
        with traced.trace(**inputs):
            block(traced)[0].mlp.output[:] = 0  # an intervention between layers 0 and 1
    saved: list[torch.Tensor] = []
    with reference.trace(**inputs):  # nnsight's own eager weights, same intervention
        saved.append(nnsight.save(attention(block(reference)[0]).output[1]))
        block(reference)[0].mlp.output[:] = 0
        saved.append(nnsight.save(attention(block(reference)[1]).output[1]))
    keep = inputs["attention_mask"].bool()
    assert [item.layer for item in recorded] == [0, 1]
    for item, weights in zip(recorded, saved, strict=True):
        assert torch.equal(item.padding_mask, keep)
        assert_real_close(item.weights, weights.detach(), keep)
    assert (recorded[1].weights - plain[1].weights).abs().max() > 1e-5  # the intervention shows
    torch.testing.assert_close(recorded[0].weights, plain[0].weights, rtol=0, atol=0)


# --- TransformerLens -------------------------------------------------------------------------


def test_lens_attention_of_a_transformer_bridge_equals_eager() -> None:
    pytest.importorskip("transformer_lens")
    from transformer_lens.model_bridge.sources import build_bridge_from_module

    inputs = padded_inputs(batch=1)
    expected = eager_attentions("gpt2", inputs)
    model = make_model("gpt2")
    bridge = build_bridge_from_module(model, "GPT2LMHeadModel", hf_config=model.config)
    _, cache = bridge.run_with_cache(
        inputs["input_ids"], names_filter=lambda name: name.endswith("hook_pattern")
    )
    items = lens_attention(cache)
    assert [item.layer for item in items] == [0, 1, 2]
    for item, reference in zip(items, expected, strict=True):
        assert_real_close(item.weights, reference, item.padding_mask)


def softmax_of_cached_scores(cache: Any, layer: int, d_head: int) -> torch.Tensor:
    """TransformerLens' causal pattern recomputed from its cached queries and keys."""
    q, k = cache[f"blocks.{layer}.attn.hook_q"], cache[f"blocks.{layer}.attn.hook_k"]
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / d_head**0.5  # hook_q: [B, n, H, d]
    n = scores.shape[-1]
    return scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), -torch.inf).softmax(-1)


LENS_CONFIG = {"d_model": 16, "n_layers": 2, "n_heads": 2, "d_head": 8, "d_mlp": 32,
               "n_ctx": 16, "d_vocab": 20, "act_fn": "gelu", "seed": 0}


def test_lens_attention_of_a_native_bridge_is_its_softmax_of_scores() -> None:
    lens = pytest.importorskip("transformer_lens")
    if getattr(getattr(lens, "TransformerBridge", None), "boot_native", None) is None:
        pytest.skip("TransformerBridge.boot_native is TransformerLens 4's")
    model = lens.TransformerBridge.boot_native(lens.TransformerBridgeConfig(**LENS_CONFIG))
    _, cache = model.run_with_cache(torch.arange(1, 7)[None])
    items = lens_attention(cache, layers=[1])
    torch.testing.assert_close(
        items[0].weights, softmax_of_cached_scores(cache, 1, 8), rtol=0, atol=1e-6
    )


def test_lens_attention_of_a_hooked_transformer_is_its_softmax_of_scores() -> None:
    pytest.importorskip("transformer_lens")
    try:
        from transformer_lens import HookedTransformer, HookedTransformerConfig
    except ImportError:
        pytest.skip("HookedTransformer was removed in TransformerLens 4")
    model = HookedTransformer(HookedTransformerConfig(**LENS_CONFIG))
    _, cache = model.run_with_cache(torch.arange(1, 7)[None])
    items = lens_attention(cache)
    assert [item.layer for item in items] == [0, 1]
    for item in items:
        torch.testing.assert_close(
            item.weights, softmax_of_cached_scores(cache, item.layer, 8), rtol=0, atol=1e-6
        )
