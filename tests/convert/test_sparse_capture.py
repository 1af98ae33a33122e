"""Blockwise sparse capture == dense capture + the same sparsification, with exact row facts."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch_geometric.data import Batch, Data

from tests.convert.conftest import make_model, padded_inputs
from tgnn.convert import blockwise
from tgnn.convert.capture import capture_attention
from tgnn.convert.from_model import capture_graphs
from tgnn.convert.sparse_capture import capture_sparse_graphs, sparse_attention_forward
from tgnn.errors import AttentionUnavailableError, ShapeError

OPTIONS: list[dict[str, Any]] = [
    {"top_k": 3},
    {"top_p": 0.7},
    {"threshold": 0.1},
    {"head_reduction": None, "top_k": 2},
    {"head_reduction": "max", "top_k": 2, "self_loops": False},
    {},
]
TINY_BUDGET = 3000  # bytes: a few query rows per block, so every test walks many blocks


def members(graph: Data | Batch) -> list[Data]:
    return graph.to_data_list() if isinstance(graph, Batch) else [graph]


def weights_of(graph: Data) -> torch.Tensor:
    return graph.edge_weight if graph.get("edge_weight") is not None else graph.edge_attr


def assert_same_graphs(dense: list[Data | Batch], sparse: list[Data | Batch]) -> None:
    assert len(dense) == len(sparse)
    for expected_layer, got_layer in zip(dense, sparse, strict=True):
        for expected, got in zip(members(expected_layer), members(got_layer), strict=True):
            assert torch.equal(got.edge_index, expected.edge_index)
            torch.testing.assert_close(weights_of(got), weights_of(expected), rtol=0, atol=1e-6)
            assert got.is_causal == expected.is_causal
            assert got.head_reduction == expected.head_reduction
            assert torch.equal(got.pos, expected.pos) and torch.equal(got.token, expected.token)
            assert got.layer == expected.layer


def mistral_sliding_window() -> Any:
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(
        vocab_size=60, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, sliding_window=3,
        max_position_embeddings=64,
    )
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    return MistralForCausalLM(config).eval()


@pytest.mark.parametrize("left", [True, False])
def test_sparse_capture_equals_dense_capture(model_kind: str, left: bool) -> None:
    model = make_model(model_kind)
    inputs = padded_inputs(n=9, left=left and model_kind != "bert")  # BERT pads on the right
    for options in OPTIONS:
        dense = capture_graphs(model, inputs, **options)
        sparse, _ = sparse_attention_forward(model, inputs, memory_budget=TINY_BUDGET, **options)
        assert_same_graphs(dense, sparse)


def test_sliding_window_model_equals_dense_capture() -> None:
    model = mistral_sliding_window()
    inputs = padded_inputs(n=10)
    dense = capture_graphs(model, inputs, top_k=2)
    sparse, _ = sparse_attention_forward(model, inputs, top_k=2, memory_budget=TINY_BUDGET)
    assert_same_graphs(dense, sparse)
    first = members(sparse[0])[0]
    assert int((first.edge_index[1] - first.edge_index[0]).max()) < 3  # the window holds


def test_row_facts_are_exact(model_kind: str) -> None:
    model = make_model(model_kind)
    inputs = padded_inputs(n=9, left=model_kind != "bert")
    real = inputs["attention_mask"].bool()
    sparse, _ = sparse_attention_forward(model, inputs, top_k=2, memory_budget=TINY_BUDGET)
    for item, graph in zip(capture_attention(model, inputs), sparse, strict=True):
        for b, member in enumerate(members(graph)):
            keep = real[b]
            full = item.weights[b][:, keep][:, :, keep].double()  # [H, n, n]
            facts = {
                "row_entropy": torch.special.entr(full).sum(-1).T,
                "first_token_mass": full[:, :, 0].T,
                "column_sum": full.sum(1).T,
            }
            for name, expected in facts.items():
                torch.testing.assert_close(member[name].double(), expected, rtol=1e-6, atol=1e-6)
            reduced = full.mean(0)
            kept = torch.zeros_like(reduced)
            target, source = member.edge_index[1], member.edge_index[0]
            kept[target, source] = reduced[target, source]
            torch.testing.assert_close(member.kept_mass.double(), kept.sum(-1), rtol=0, atol=1e-6)


def test_model_continues_exactly(model_kind: str) -> None:
    model = make_model(model_kind)
    inputs = padded_inputs(n=12, left=model_kind != "bert")
    with torch.no_grad():
        reference = model(**inputs)[0]
    _, output = sparse_attention_forward(model, inputs, top_k=1, memory_budget=TINY_BUDGET)
    real = inputs["attention_mask"].bool()
    torch.testing.assert_close(output[0][real], reference[real], rtol=1e-5, atol=1e-5)
    assert model.config._attn_implementation == "sdpa"


def gpt_oss() -> Any:
    from transformers import GptOssConfig, GptOssForCausalLM

    config = GptOssConfig(
        vocab_size=50, hidden_size=32, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, num_local_experts=4,
        num_experts_per_tok=2, sliding_window=4, max_position_embeddings=64,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
    )
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    return GptOssForCausalLM(config).eval()


def test_learned_sinks_become_an_explicit_sink_node() -> None:
    model = gpt_oss()
    ids = torch.randint(0, 50, (1, 10), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        eager = model(input_ids=ids, output_attentions=True)
    graphs, output = sparse_attention_forward(
        model, {"input_ids": ids}, head_reduction=None, memory_budget=TINY_BUDGET
    )
    torch.testing.assert_close(output.logits, eager.logits, rtol=1e-5, atol=1e-5)
    for graph, weights in zip(graphs, eager.attentions, strict=True):
        tokens = weights[0]  # [H, n, n] without the sink column: rows sum to less than one
        n = tokens.shape[-1]
        expected = torch.zeros(tokens.shape[0], n + 1, n + 1)
        expected[:, 0, 0] = 1.0  # the sink node reads itself
        expected[:, 1:, 0] = 1.0 - tokens.sum(-1)  # the sink's softmax share
        expected[:, 1:, 1:] = tokens
        dense = torch.zeros_like(expected)
        dense[:, graph.edge_index[1], graph.edge_index[0]] = graph.edge_attr.T
        torch.testing.assert_close(dense, expected, rtol=0, atol=1e-6)
        torch.testing.assert_close(dense.sum(-1), torch.ones(tokens.shape[0], n + 1))
        assert graph.num_nodes == n + 1 and graph.is_causal
        assert graph.is_learned_sink.tolist() == [True] + [False] * n
        assert graph.pos.tolist() == [-1, *range(n)] and int(graph.token[0]) == -1
        torch.testing.assert_close(graph.learned_sink_mass[1:], expected[:, 1:, 0].T)
    assert model.config._attn_implementation == "eager"


def test_minilm_equals_dense_capture() -> None:
    from tgnn.models import load

    model, tokenizer = load("minilm")
    inputs = tokenizer(["The cat sat on the mat.", "Hi"], return_tensors="pt", padding=True)
    dense = capture_graphs(model, inputs, top_p=0.9)
    sparse = capture_sparse_graphs(model, inputs, top_p=0.9, memory_budget=20_000)
    assert_same_graphs(dense, sparse)


def test_blocks_stay_within_the_memory_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_model("llama")
    inputs = {"input_ids": torch.randint(1, 50, (1, 200), generator=torch.Generator())}
    budget = 64 * 1024
    sizes: list[int] = []
    original = blockwise._softmax_rows

    def spy(*args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        weights, entropy = original(*args, **kwargs)
        sizes.append(weights.numel())
        return weights, entropy

    monkeypatch.setattr(blockwise, "_softmax_rows", spy)
    capture_sparse_graphs(model, inputs, top_k=4, memory_budget=budget)
    heads, n = model.config.num_attention_heads, 200
    assert len(sizes) > 3 * 5  # several blocks per layer
    assert max(sizes) * blockwise.BYTES_PER_ENTRY <= budget < heads * n * n


def test_layer_selection_and_base_model() -> None:
    model = make_model("gpt2")
    graphs = capture_sparse_graphs(model, padded_inputs(batch=1), layers=[2, 0], top_k=2)
    assert [g.layer for g in graphs] == [0, 2]
    assert model.config._attn_implementation == "sdpa"


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"top_k": 0}, "top_k"),
        ({"top_k": 2.5}, "top_k"),
        ({"top_p": 1.5}, "top_p"),
        ({"threshold": -0.1}, "threshold"),
        ({"head_reduction": "median"}, "head_reduction"),
        ({"memory_budget": 0}, "memory_budget"),
    ],
)
def test_bad_options_are_refused_before_the_model_runs(options: dict[str, Any], name: str) -> None:
    class Exploding(torch.nn.Module):
        def forward(self, **kwargs: Any) -> None:
            raise AssertionError("the model ran")

    with pytest.raises(ShapeError, match=name):
        capture_sparse_graphs(Exploding(), padded_inputs(), **options)


def test_model_outside_the_attention_interface_is_detected() -> None:
    model = make_model("gpt2")
    model.set_attn_implementation = lambda name: None  # type: ignore[method-assign]
    with pytest.raises(AttentionUnavailableError, match="AttentionInterface"):
        sparse_attention_forward(model, padded_inputs())


def test_context_window_is_checked_and_windows_cover_the_text() -> None:
    from tgnn.errors import ContextLengthError
    from tgnn.models import random_config_model

    model, _ = random_config_model("gpt2", n_layer=2, n_ctx=16, attn_implementation="sdpa")
    ids = torch.randint(2, 90, (1, 40), generator=torch.Generator().manual_seed(0))
    with pytest.raises(ContextLengthError, match="40 tokens"):
        capture_sparse_graphs(model, {"input_ids": ids}, top_k=2)
    graphs = capture_sparse_graphs(model, {"input_ids": ids}, top_k=2, overflow="windows")
    assert [(g.window, g.layer) for g in graphs] == [(w, l) for w in range(3) for l in range(2)]
    assert torch.cat([g.pos for g in graphs if g.layer == 0]).tolist() == list(range(40))
    direct = capture_sparse_graphs(model, {"input_ids": ids[:, 16:32]}, top_k=2)
    assert torch.equal(graphs[2].edge_index, direct[0].edge_index)
    last = capture_sparse_graphs(model, {"input_ids": ids}, top_k=2, overflow="keep_last")
    assert last[0].pos.tolist() == list(range(24, 40))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_sparse_capture_on_cuda_equals_cpu() -> None:
    model = make_model("llama")
    inputs = padded_inputs(n=40)
    expected = capture_sparse_graphs(model, inputs, top_k=3, memory_budget=TINY_BUDGET)
    cuda_inputs = {name: value.cuda() for name, value in inputs.items()}
    got = capture_sparse_graphs(model.cuda(), cuda_inputs, top_k=3, memory_budget=TINY_BUDGET)
    for cpu_graph, cuda_graph in zip(expected, got, strict=True):
        assert cuda_graph.edge_index.device.type == "cuda"
        for a, b in zip(members(cpu_graph), members(cuda_graph.cpu()), strict=True):
            assert torch.equal(a.edge_index, b.edge_index)
            torch.testing.assert_close(a.edge_weight, b.edge_weight, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(a.row_entropy, b.row_entropy, rtol=1e-5, atol=1e-5)


def test_layers_out_of_range_are_named() -> None:
    with pytest.raises(ShapeError, match=r"layers: expected indices in 0 \.\. 2.*\[7\]"):
        capture_sparse_graphs(make_model("gpt2"), padded_inputs(), layers=[0, 7])


def test_half_precision_model_equals_dense_capture() -> None:
    model = make_model("llama").to(torch.bfloat16)
    inputs = padded_inputs(n=12)
    dense = capture_graphs(model, inputs, top_k=3)
    sparse, _ = sparse_attention_forward(model, inputs, top_k=3, memory_budget=TINY_BUDGET)
    assert_same_graphs(dense, sparse)


def test_cross_attention_is_not_mistaken_for_self_attention() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=10, add_cross_attention=True,
                        bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config).eval()
    ids, encoded = torch.arange(6)[None], torch.randn(1, 6, 8)
    with torch.no_grad():
        reference = model(input_ids=ids, encoder_hidden_states=encoded).logits
    graphs, output = sparse_attention_forward(
        model, {"input_ids": ids}, top_k=2, encoder_hidden_states=encoded
    )
    assert [g.layer for g in graphs] == [0, 1] and all(g.is_causal for g in graphs)
    torch.testing.assert_close(output.logits, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("capture", [capture_graphs, capture_sparse_graphs])
def test_bad_model_calls_are_named_before_the_model_runs(capture: Any) -> None:
    model = make_model("gpt2")
    ids = padded_inputs()["input_ids"]
    with pytest.raises(ShapeError, match="inputs: .* expected a mapping"):
        capture(model, ids)
    with pytest.raises(ShapeError, match=r"token ids in 0 \.\. 97"):
        capture(model, {"input_ids": ids + 500})
    with pytest.raises(ShapeError, match="integer tensor"):
        capture(model, {"input_ids": ids.float()})
    with pytest.raises(ShapeError, match=r"layers: expected indices in 0 \.\. 2"):
        capture(model, {"input_ids": ids}, layers=[99])
    with pytest.raises(AttentionUnavailableError, match="PreTrainedModel"):
        capture(torch.nn.Linear(2, 2), {"input_ids": ids})


def test_progress_bar_counts_the_layers(capsys: pytest.CaptureFixture[str]) -> None:
    capture_sparse_graphs(make_model("gpt2"), padded_inputs(batch=1), top_k=2, progress=True)
    assert "3/3" in capsys.readouterr().err
    capture_sparse_graphs(make_model("gpt2"), padded_inputs(batch=1), top_k=2)
    assert capsys.readouterr().err == ""
