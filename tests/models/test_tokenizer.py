"""CharTokenizer: round trips, padding, specials, persistence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tgnn.errors import EmptyInputError, ShapeError
from tgnn.models import CharTokenizer

ALPHABET = "abc xyz\n"


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=30))
def test_round_trip(text: str) -> None:
    tok = CharTokenizer.from_text(ALPHABET)
    ids = tok.encode(text)
    assert ids[0] == tok.bos_token_id and len(ids) == len(text) + 1
    assert tok.decode(ids) == text


def test_unknown_padding_and_no_bos() -> None:
    tok = CharTokenizer.from_text("ab", add_bos=False)
    enc = tok(["ab?", "b"])
    assert enc["input_ids"].tolist() == [[3, 4, 2], [4, 0, 0]]
    assert enc["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert tok.convert_ids_to_tokens([1, 3]) == ["<bos>", "a"]
    assert tok.all_special_ids == [0, 1, 2] and len(tok) == 5


def test_save_load(tmp_path) -> None:
    tok = CharTokenizer.from_text("héllo\t", add_bos=False)
    tok.save(tmp_path / "t.json")
    back = CharTokenizer.load(tmp_path / "t.json")
    assert back.chars == tok.chars and back.add_bos is False


def test_errors(tmp_path) -> None:
    with pytest.raises(EmptyInputError):
        CharTokenizer([])
    with pytest.raises(ShapeError):
        CharTokenizer(["a", "a"])
    with pytest.raises(ShapeError):
        CharTokenizer.from_text("a")("a", return_tensors="np")
    (tmp_path / "x.json").write_text('{"type": "other", "specials": []}')
    with pytest.raises(ShapeError):
        CharTokenizer.load(tmp_path / "x.json")
