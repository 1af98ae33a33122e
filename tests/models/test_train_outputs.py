"""train_tiny's outputs: never the package, never over files unasked, all four files or none."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import GPT2LMHeadModel

from tgnn.errors import OutputExistsError, ProtectedPathError
from tgnn.models import train
from tgnn.models.tiny import tiny_config
from tgnn.models.tokenizer import CharTokenizer


def test_refusals_come_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train, "corpus_text", lambda: pytest.fail("training started"))
    with pytest.raises(ProtectedPathError, match="out: .* inside the installed tgnn package"):
        train.train_tiny(steps=1, out=train.WEIGHTS_DIR, overwrite=True)
    (tmp_path / "tgnn-gpt2-tiny-nobos.config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(OutputExistsError, match="nobos.config.json' exists; pass overwrite=True"):
        train.train_tiny(steps=1, bos=False, out=tmp_path)
    monkeypatch.chdir(tmp_path)  # the default folder is the current one
    assert train.output_files(bos=False, overwrite=True)[0] == Path(
        "tgnn-gpt2-tiny-nobos.safetensors")
    with pytest.raises(OutputExistsError):
        train.train_tiny(steps=1, bos=False)


def test_a_failed_write_leaves_the_old_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tok = CharTokenizer.from_text("ab")
    model = GPT2LMHeadModel(tiny_config(tok.vocab_size))
    meta = {"name": "tgnn-gpt2-tiny"}
    files = train.output_files(tmp_path)
    train._write(model, tok, meta, files, overwrite=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(before) == sorted(p.name for p in files)

    def broken(self: CharTokenizer, path: str | Path) -> None:
        Path(path).write_text("half", encoding="utf-8")
        raise OSError("disk full")

    monkeypatch.setattr(CharTokenizer, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        train._write(model, tok, {"name": "tgnn-gpt2-tiny", "changed": 1}, files, overwrite=True)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporary left
