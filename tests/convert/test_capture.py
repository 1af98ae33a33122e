"""Captured attention equals eager output_attentions, streamed one layer at a time."""

from __future__ import annotations

import pytest
import torch

from tests.convert.conftest import make_model, padded_inputs
from tgnn.convert.capture import capture_attention, stream_attention
from tgnn.errors import AttentionUnavailableError, EmptyInputError, MaskError


def eager_attentions(kind: str, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    model = make_model(kind, "eager")
    with torch.no_grad():
        out = model(**inputs, output_attentions=True)
    return tuple(out.attentions)


@pytest.mark.parametrize("left", [True, False])
def test_capture_equals_eager_exactly(model_kind: str, left: bool) -> None:
    inputs = padded_inputs(left=left and model_kind != "bert")  # BERT pads on the right
    expected = eager_attentions(model_kind, inputs)
    model = make_model(model_kind, "sdpa")
    captured = [(a.layer, a.weights) for a in capture_attention(model, inputs)]
    assert [layer for layer, _ in captured] == list(range(len(expected)))
    for (_, weights), reference in zip(captured, expected, strict=True):
        assert weights.dtype == torch.float32
        assert weights.shape == reference.shape  # query heads, GQA expanded
        real = inputs["attention_mask"].bool()
        for b in range(real.shape[0]):
            keep = real[b]
            torch.testing.assert_close(
                weights[b][:, keep][:, :, keep], reference[b][:, keep][:, :, keep], rtol=0, atol=0
            )


def test_capture_keeps_outputs_and_restores_implementation(model_kind: str) -> None:
    inputs = padded_inputs(left=model_kind != "bert")
    model = make_model(model_kind, "sdpa")
    with torch.no_grad():
        reference = model(**inputs)[0]
    output = stream_attention(model, inputs, lambda layer: None)
    assert model.config._attn_implementation == "sdpa"
    real = inputs["attention_mask"].bool()
    torch.testing.assert_close(output[0][real], reference[real], rtol=1e-5, atol=1e-5)


def test_stream_holds_one_layer_at_a_time() -> None:
    model = make_model("gpt2")
    alive: list[int] = []
    stream_attention(model, padded_inputs(), lambda a: alive.append(a.layer))
    assert alive == [0, 1, 2]


def test_layer_selection_skips_other_layers() -> None:
    model = make_model("gpt2")
    layers = [a.layer for a in capture_attention(model, padded_inputs(), layers=[1])]
    assert layers == [1]


def test_early_stop_ends_the_forward_pass() -> None:
    model = make_model("gpt2")
    for item in capture_attention(model, padded_inputs()):
        assert item.layer == 0
        break
    assert model.config._attn_implementation == "sdpa"


def test_half_precision_weights_are_float32() -> None:
    model = make_model("llama").to(torch.bfloat16)
    inputs = padded_inputs()
    expected = eager_attentions("llama", inputs)
    for item, reference in zip(capture_attention(model, inputs), expected, strict=True):
        assert item.weights.dtype == torch.float32
        keep = inputs["attention_mask"][0].bool()
        got = item.weights[0][:, keep][:, :, keep]
        torch.testing.assert_close(got, reference[0][:, keep][:, :, keep], rtol=0, atol=0.05)


def test_empty_sequence_is_rejected() -> None:
    model = make_model("gpt2")
    with pytest.raises(EmptyInputError, match="inputs"):
        stream_attention(model, {"input_ids": torch.zeros(1, 0, dtype=torch.long)}, print)


def test_model_that_cannot_switch_gets_a_clear_error() -> None:
    model = make_model("gpt2")

    def refuse(name: str) -> None:
        raise ValueError("no dynamic switching")

    model.set_attn_implementation = refuse  # type: ignore[method-assign]
    with pytest.raises(AttentionUnavailableError, match="cannot switch"):
        stream_attention(model, padded_inputs(), print)


def test_model_whose_attention_bypasses_the_interface_is_detected() -> None:
    model = make_model("gpt2")
    model.set_attn_implementation = lambda name: None  # type: ignore[method-assign]
    with pytest.raises(AttentionUnavailableError, match="AttentionInterface"):
        stream_attention(model, padded_inputs(), print)


def test_capture_equals_eager_on_minilm() -> None:
    from tgnn.models import load

    model, tokenizer = load("minilm", attn_implementation="eager")
    inputs = tokenizer(["The cat sat on the mat.", "Hi"], return_tensors="pt", padding=True)
    with torch.no_grad():
        expected = model(**inputs, output_attentions=True).attentions
    captured = list(capture_attention(model, inputs))
    assert len(captured) == len(expected) == 6
    real = inputs["attention_mask"].bool()
    for item, reference in zip(captured, expected, strict=True):
        for b in range(2):
            keep = real[b]
            got = item.weights[b][:, keep][:, :, keep]
            torch.testing.assert_close(got, reference[b][:, keep][:, :, keep], rtol=0, atol=0)


def test_switching_a_model_that_a_capture_loop_is_running_is_refused() -> None:
    """capture_attention's forward goes on in a worker thread while the loop body runs: a
    Jacobian (or a sparse capture of the same model) there must not switch the attention under
    it; it gets a clear error, the loop is not broken, and the model is restored afterwards."""
    from tgnn.convert.sparse_capture import capture_sparse_graphs
    from tgnn.metrics.sensitivity import jacobian_sensitivity

    model = make_model("gpt2")
    inputs = padded_inputs(batch=1)
    layers = []
    for item in capture_attention(model, inputs):
        layers.append(item.layer)
        if item.layer == 0:  # the worker is still inside the forward (it waits to hand over 2)
            with pytest.raises(AttentionUnavailableError, match="another thread"):
                jacobian_sensitivity(model, inputs["input_ids"])
            with pytest.raises(AttentionUnavailableError, match="another thread"):
                capture_sparse_graphs(model, inputs)  # runs model.base_model: the same config
    assert layers == [0, 1, 2]
    assert model.config._attn_implementation == "sdpa"
    assert jacobian_sensitivity(model, inputs["input_ids"]).shape[-1] == 7


def test_a_capture_inside_a_capture_callback_works() -> None:
    from tgnn.convert.sparse_capture import capture_sparse_graphs

    model = make_model("gpt2")
    inputs = padded_inputs(batch=1)
    inner: list[int] = []
    stream_attention(model, inputs, lambda item: inner.append(
        len(capture_sparse_graphs(model, inputs, top_k=2))))
    assert inner == [3, 3, 3] and model.config._attn_implementation == "sdpa"


def test_a_4d_additive_mask_is_an_attention_pattern_not_padding() -> None:
    """graph_to_attention_mask's [1, 1, n, n] additive mask (0 = may read): every token stays a
    node, and the masked entries carry no weight (before, 0 read as a padding flag)."""
    from torch_geometric.data import Data

    from tgnn.convert.from_model import capture_graphs
    from tgnn.convert.sparse_capture import capture_sparse_graphs
    from tgnn.convert.to_graph import to_dense_attention
    from tgnn.convert.to_mask import graph_to_attention_mask

    model = make_model("gpt2")
    ids = padded_inputs(batch=1, n=6)["input_ids"]
    allowed = torch.tril(torch.ones(6, 6))
    allowed[2:, 0] = 0  # later queries may not read token 0 (a sink ablation)
    target, source = allowed.nonzero().T  # edge j -> i where query i may read key j
    mask = graph_to_attention_mask(Data(edge_index=torch.stack([source, target]), num_nodes=6))
    inputs = {"input_ids": ids, "attention_mask": mask}
    for capture in (capture_graphs, capture_sparse_graphs):
        graphs = capture(model, inputs)
        assert [g.num_nodes for g in graphs] == [6, 6, 6]
        dense = to_dense_attention(graphs[0])
        assert bool((dense[2:, 0] == 0).all()) and bool((dense[1, :2] > 0).all())
    with pytest.raises(MaskError, match="attention_mask"):
        capture_graphs(model, {"input_ids": ids, "attention_mask": torch.ones(1, 1, 6)})
