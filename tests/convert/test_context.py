"""The context check: limits read from configs, the error before any forward pass, truncation
(left and right padding), windows covering every token once, and the capture entry points."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from transformers import LlamaConfig, LlavaConfig, RobertaConfig

from tests.convert.conftest import padded_inputs
from tgnn.convert import (
    Overflow,
    capture_attention,
    capture_graphs,
    context_windows,
    fit_context,
    max_positions,
    stream_attention,
)
from tgnn.errors import ContextLengthError, EmptyInputError, ShapeError
from tgnn.models import random_config_model

LIMIT = 8


def scalar(value: Any) -> int:
    """A graph attribute as an int (a Batch holds one per sequence)."""
    return int(torch.as_tensor(value).view(-1)[0])


def small_model(kind: str = "gpt2") -> Any:
    model, _ = random_config_model(kind, n_layer=2, n_ctx=LIMIT, attn_implementation="sdpa")
    return model


def long_inputs(batch: int = 2, n: int = 13, short: int = 5, left: bool = True) -> dict[str, Any]:
    """Row 0: ``n`` real tokens; row 1: ``short`` real tokens, padded on the left or right."""
    ids = torch.arange(10, 10 + batch * n).view(batch, n)
    mask = torch.ones(batch, n, dtype=torch.long)
    if batch > 1:
        pad = slice(0, n - short) if left else slice(short, n)
        mask[1, pad], ids[1, pad] = 0, 0
    return {"input_ids": ids, "attention_mask": mask}


def real_ids(inputs: dict[str, Any], row: int) -> list[int]:
    return inputs["input_ids"][row][inputs["attention_mask"][row].bool()].tolist()


# ------------------------------------------------------------------------------ the limit
def test_max_positions_reads_each_config_family() -> None:
    assert max_positions(small_model("gpt2")) == LIMIT  # n_positions
    assert max_positions(small_model("bert")) == LIMIT  # max_position_embeddings
    assert max_positions(small_model("llama").config) == LIMIT  # RoPE: configured length
    assert max_positions(RobertaConfig(max_position_embeddings=514, pad_token_id=1)) == 512
    multimodal = LlavaConfig(text_config=LlamaConfig(max_position_embeddings=64).to_dict())
    assert max_positions(multimodal) == 64  # through get_text_config()
    assert max_positions(SimpleNamespace(config=SimpleNamespace(hidden_size=4))) is None
    assert max_positions(None) is None and max_positions(12) == 12
    with pytest.raises(ShapeError, match="model"):
        max_positions(0)


# ------------------------------------------------------------------------------ the error
def test_error_names_model_limit_and_length_in_one_line() -> None:
    model = small_model("bert")
    inputs = long_inputs(left=False)
    with pytest.raises(ContextLengthError) as caught:
        fit_context(inputs, model, name="tiny-bert")
    error = caught.value
    message = str(error)
    assert "\n" not in message and isinstance(error, ShapeError) and isinstance(error, ValueError)
    assert "13 tokens" in message and "BertModel 'tiny-bert'" in message
    assert "max_position_embeddings = 8" in message and "overflow='keep_last'" in message
    assert (error.length, error.limit, error.model) == (13, LIMIT, "BertModel 'tiny-bert'")


def test_padded_width_is_what_counts_and_is_said() -> None:
    inputs = long_inputs(batch=2, n=13, short=5)
    inputs["attention_mask"][0, :7] = 0  # the longest sequence has 6 real tokens
    with pytest.raises(ContextLengthError, match=r"13 tokens \(padded; the longest sequence has 6"):
        fit_context(inputs, LIMIT)
    fitted = fit_context(inputs, LIMIT, "keep_first")  # only padding is cut
    assert isinstance(fitted, dict) and fitted["input_ids"].shape == (2, 6)
    assert real_ids(fitted, 0) == real_ids(inputs, 0) and real_ids(fitted, 1) == real_ids(inputs, 1)


@pytest.mark.parametrize("call", ["stream", "capture", "graphs"])
def test_no_forward_pass_runs_before_the_error(call: str) -> None:
    model = small_model("gpt2")

    def forward(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the model ran")

    model.forward = forward
    inputs = long_inputs()
    with pytest.raises(ContextLengthError, match="GPT2LMHeadModel"):
        if call == "stream":
            stream_attention(model, inputs, lambda item: None)
        elif call == "capture":
            capture_attention(model, inputs)  # raises at the call, not at the first next()
        else:
            capture_graphs(model, inputs)
    assert model.config._attn_implementation == "sdpa"  # never switched
    with pytest.raises(AssertionError, match="the model ran"):  # the stand-in forward bites
        stream_attention(model, padded_inputs(), lambda item: None)


def test_inputs_that_fit_come_back_unchanged() -> None:
    inputs = padded_inputs()
    fitted = fit_context(inputs, small_model(), "keep_last")
    assert isinstance(fitted, dict)
    assert all(fitted[key] is value for key, value in inputs.items())
    assert fit_context(inputs, None, "error").keys() == inputs.keys()  # type: ignore[union-attr]


# ------------------------------------------------------------------------------ truncation
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("mode", ["keep_last", "keep_first"])
def test_truncation_keeps_the_expected_slice_of_real_tokens(left: bool, mode: str) -> None:
    inputs = long_inputs(left=left)
    inputs["token_type_ids"] = torch.arange(13).repeat(2, 1) % 2
    fitted = fit_context(inputs, LIMIT, mode)
    assert isinstance(fitted, dict)
    assert fitted["input_ids"].shape == (2, LIMIT)
    full = real_ids(inputs, 0)
    assert real_ids(fitted, 0) == (full[-LIMIT:] if mode == "keep_last" else full[:LIMIT])
    assert real_ids(fitted, 1) == real_ids(inputs, 1)  # the short row is whole, still padded
    mask = fitted["attention_mask"]
    assert mask.dtype == inputs["attention_mask"].dtype and int(mask[1].sum()) == 5
    assert bool(mask[1, 0] == 0) == left and bool(mask[1, -1] == 0) == (not left)
    start = 13 - LIMIT if mode == "keep_last" else 0
    assert fitted["token_type_ids"][0].tolist() == [(start + i) % 2 for i in range(LIMIT)]


def test_position_ids_and_embeddings_are_cut_and_renumbered() -> None:
    inputs = long_inputs(batch=1)
    inputs["position_ids"] = torch.arange(13)[None] + 2
    inputs["inputs_embeds"] = torch.randn(1, 13, 3)
    fitted = fit_context(inputs, LIMIT, "keep_last")
    assert isinstance(fitted, dict)
    assert fitted["position_ids"].tolist() == [list(range(2, 2 + LIMIT))]  # none past the limit
    torch.testing.assert_close(fitted["inputs_embeds"], inputs["inputs_embeds"][:, -LIMIT:])


def test_special_tokens_stay_at_both_ends() -> None:
    ids = torch.tensor([[101, *range(1, 12), 102]])  # [CLS] 1 .. 11 [SEP]
    first = fit_context({"input_ids": ids}, LIMIT, Overflow("keep_first", keep_suffix=1))
    last = fit_context({"input_ids": ids}, LIMIT, Overflow("keep-last", keep_prefix=1,
                                                           keep_suffix=1))
    assert isinstance(first, dict) and isinstance(last, dict)
    assert first["input_ids"].tolist() == [[101, 1, 2, 3, 4, 5, 6, 102]]
    assert last["input_ids"].tolist() == [[101, 6, 7, 8, 9, 10, 11, 102]]


def test_truncated_input_runs_through_the_model() -> None:
    model = small_model("gpt2")  # without the check: IndexError from the position embedding
    layers = list(capture_attention(model, long_inputs(), overflow="keep_last"))
    assert [tuple(item.weights.shape) for item in layers] == [(2, 4, LIMIT, LIMIT)] * 2


# ------------------------------------------------------------------------------ windows
@pytest.mark.parametrize("left", [True, False])
def test_windows_cover_every_real_token_once(left: bool) -> None:
    inputs = long_inputs(n=21, short=5, left=left)
    windows = context_windows(inputs, LIMIT, "windows")
    assert len(windows) == 3 and [w.index for w in windows] == [0, 1, 2]
    seen: dict[int, list[int]] = {0: [], 1: []}
    for window in windows:
        ids = window.inputs["input_ids"]
        assert ids.shape[1] <= LIMIT
        for r, row in enumerate(window.rows.tolist()):
            keep = window.positions[r] >= 0
            assert window.inputs["attention_mask"][r].bool().equal(keep)
            columns = window.positions[r][keep]
            assert ids[r][keep].equal(inputs["input_ids"][row, columns])
            seen[row] += columns.tolist()
    for row in (0, 1):
        assert seen[row] == inputs["attention_mask"][row].nonzero().flatten().tolist()
    assert [w.rows.tolist() for w in windows] == [[0, 1], [0], [0]]  # row 1 ended
    fitted = fit_context(inputs, LIMIT, "windows")
    assert isinstance(fitted, list) and len(fitted) == len(windows)
    for piece, window in zip(fitted, windows, strict=True):
        assert piece["input_ids"].equal(window.inputs["input_ids"])


def test_windows_overlap_and_keep_special_tokens() -> None:
    ids = torch.arange(100, 121)[None]  # 21 tokens
    policy = Overflow("windows", overlap=2, keep_prefix=1)
    windows = context_windows({"input_ids": ids}, LIMIT, policy)
    columns = [w.positions[0].tolist() for w in windows]
    assert all(c[0] == 0 and len(c) <= LIMIT for c in columns)
    bodies = [c[1:] for c in columns]
    assert bodies[0] == list(range(1, 8)) and bodies[1][:2] == bodies[0][-2:]
    assert sorted({t for body in bodies for t in body}) == list(range(1, 21))
    assert bodies[-1][-1] == 20 and not set(bodies[-1]) <= set(bodies[-2])


def test_capture_graphs_per_window_with_original_positions() -> None:
    model = small_model("gpt2")
    inputs = long_inputs(n=13, short=5)
    graphs = capture_graphs(model, inputs, overflow="windows", top_k=3)
    windows = context_windows(inputs, model, "windows")
    assert [(scalar(g.window), scalar(g.layer)) for g in graphs] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for window in windows:
        direct = capture_graphs(model, window.inputs, top_k=3, pos=window.positions)
        for got, expected in zip([g for g in graphs if scalar(g.window) == window.index], direct,
                                 strict=True):
            assert got.edge_index.equal(expected.edge_index)
            torch.testing.assert_close(got.edge_weight, expected.edge_weight)
    first, second = graphs[0].to_data_list()
    assert first.pos.tolist() == list(range(LIMIT)) and second.pos.tolist() == list(range(8, 13))
    assert (first.row, second.row) == (0, 1)
    last = graphs[-1]  # only row 0 is left: a Data
    assert last.pos.tolist() == list(range(LIMIT, 13)) and last.row == 0
    assert last.token.tolist() == inputs["input_ids"][0, LIMIT:].tolist()


def test_capture_graphs_keep_last_reports_original_positions() -> None:
    model = small_model("bert")
    inputs = long_inputs(left=False)
    graphs = capture_graphs(model, inputs, overflow="keep_last", hidden_states=True)
    first, second = graphs[0].to_data_list()
    assert first.pos.tolist() == list(range(13 - LIMIT, 13)) and second.pos.tolist() == [0, 1, 2,
                                                                                        3, 4]
    assert first.x.shape == (LIMIT, 32) and not hasattr(first, "window")
    with pytest.raises(ShapeError, match="pos"):
        capture_graphs(model, inputs, overflow="keep_last", pos=torch.arange(13))


def test_fitting_input_with_windows_is_one_window() -> None:
    graphs = capture_graphs(small_model(), padded_inputs(), overflow="windows")
    assert [(scalar(g.layer), scalar(g.window)) for g in graphs] == [(0, 0), (1, 0)]


# ------------------------------------------------------------------------------ bad options
def test_bad_options_name_the_argument() -> None:
    inputs = long_inputs(batch=1)
    with pytest.raises(ShapeError, match="overflow: expected one of"):
        fit_context(inputs, LIMIT, "truncate")
    with pytest.raises(ShapeError, match="overlap: expected an integer >= 0"):
        Overflow("windows", overlap=-1)
    with pytest.raises(ShapeError, match="overlap < 8"):
        fit_context(inputs, LIMIT, Overflow("windows", overlap=LIMIT))
    with pytest.raises(ShapeError, match="leave no room"):
        fit_context(inputs, LIMIT, Overflow("keep_last", keep_prefix=4, keep_suffix=4))
    with pytest.raises(ShapeError, match=r"inputs\['mask4d'\]"):
        fit_context({**inputs, "mask4d": torch.ones(1, 1, 13, 13)}, LIMIT, "keep_last")
    with pytest.raises(EmptyInputError, match="input_ids"):
        fit_context({"attention_mask": torch.ones(1, 13)}, LIMIT)
    for call in (stream_attention, capture_attention):
        arguments: tuple[Any, ...] = (lambda item: None,) if call is stream_attention else ()
        with pytest.raises(ShapeError, match=r"capture_graphs\(\.\.\., overflow='windows'\)"):
            call(small_model(), inputs, *arguments, overflow="windows")  # type: ignore[operator]
