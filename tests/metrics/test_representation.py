"""Representational collapse harness: sequence families, distances, precision, collapse length."""

from __future__ import annotations

import pytest
import torch

from tgnn.errors import EmptyInputError, ShapeError
from tgnn.metrics.representation import (
    collapse_length,
    collapse_table,
    final_token_distance,
    sequence_pair,
    split_specials,
)
from tgnn.models import load, random_config_model


def test_families() -> None:
    assert sequence_pair("changed", 4, 5, 6, position=2) == ([5, 5, 5, 5], [5, 5, 6, 5])
    a, b = sequence_pair("counting", 3, 5, 6, prefix=[1], suffix=[2])
    assert a == [1, 5, 5, 5, 2] and b == [1, 5, 5, 5, 5, 2]
    for bad in ({"family": "other"}, {"n": 0}, {"position": 4}):
        kw = {"family": "changed", "n": 4, "token": 5, "other": 6} | bad
        with pytest.raises(ShapeError):
            sequence_pair(**kw)


def test_split_specials_bert() -> None:
    _, tok = load("minilm")
    prefix, one, suffix = split_specials(tok, "1")
    assert prefix == [tok.cls_token_id] and suffix == [tok.sep_token_id]
    assert tok.convert_ids_to_tokens([one]) == ["1"]
    with pytest.raises(ShapeError):
        split_specials(tok, "1 2")


def test_distance_matches_manual_forward() -> None:
    model, _ = random_config_model("gpt2", seed=2)
    a, b = [1, 7, 7, 7], [1, 8, 7, 7]
    with torch.no_grad():
        ya = model.transformer(input_ids=torch.tensor([a])).last_hidden_state[0, -1].double()
        yb = model.transformer(input_ids=torch.tensor([b])).last_hidden_state[0, -1].double()
    assert final_token_distance(model, a, b) == pytest.approx(float((ya - yb).norm()), rel=1e-12)


def test_table_shape_precision_and_decay() -> None:
    model, tok = random_config_model("gpt2", seed=0, n_layer=2)
    rows = collapse_table(model, tok, [2, 64], dtypes=["fp32", "bf16"])
    assert len(rows) == 2 * 2 * 2
    assert all(r["equal"] == (r["distance"] == 0.0) for r in rows)
    fp32 = {(r["family"], r["n"]): r["distance"] for r in rows if r["dtype"] == "fp32"}
    # near-uniform random attention: one changed token weighs about 1/n in the last token
    assert 0 < fp32[("changed", 64)] < 0.25 * fp32[("changed", 2)]
    bf16 = {(r["family"], r["n"]): r["distance"] for r in rows if r["dtype"] == "bf16"}
    assert bf16[("changed", 2)] == pytest.approx(fp32[("changed", 2)], rel=0.1)
    assert next(model.parameters()).dtype == torch.float32  # the caller's model is untouched


def test_collapse_length_needs_equality_to_last() -> None:
    rows = [{"family": "c", "dtype": "fp16", "n": n, "equal": eq}
            for n, eq in [(1, False), (2, True), (3, False), (4, True), (5, True)]]
    rows += [{"family": "c", "dtype": "fp32", "n": n, "equal": False} for n in (1, 2)]
    assert collapse_length(rows) == {("c", "fp16"): 4, ("c", "fp32"): None}


def test_table_errors() -> None:
    model, tok = random_config_model("gpt2", seed=0, n_ctx=16)
    with pytest.raises(EmptyInputError):
        collapse_table(model, tok, [])
    with pytest.raises(ShapeError):
        collapse_table(model, tok, [15])  # 1 + 16 tokens do not fit in 16 positions
    with pytest.raises(ShapeError):
        collapse_table(model, tok, [4], dtypes=["fp8"])


def test_sequence_pair_sizes_must_be_integers() -> None:
    """n=2.5 and position=1.0 ended in raw TypeErrors from list arithmetic."""
    with pytest.raises(ShapeError, match="n: expected an integer, got 2.5"):
        sequence_pair("changed", 2.5, 5, 6)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="position: expected an integer, got 1.0"):
        sequence_pair("changed", 3, 5, 6, position=1.0)  # type: ignore[arg-type]
    assert sequence_pair("changed", torch.tensor(2), 5, 6) == ([5, 5], [6, 5])  # type: ignore[arg-type]
