"""A character-level tokenizer with a Hugging Face-like call interface.

The vocabulary is a list of special tokens (``<pad>``, ``<bos>``, ``<unk>``) followed by the
sorted distinct characters of the training text; it is stored as JSON next to the weights.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

from tgnn.errors import EmptyInputError, OptionError, ShapeError

__all__ = ["CharTokenizer", "SPECIAL_TOKENS"]

SPECIAL_TOKENS = ("<pad>", "<bos>", "<unk>")


class CharTokenizer:
    """Map characters to ids and back; optionally prepend a BOS token.

    Parameters
    ----------
    chars
        The ordinary characters of the vocabulary, in id order (ids start after the specials).
    add_bos
        Prepend ``<bos>`` (id 1) to every encoded text.

    Examples
    --------
    >>> tok = CharTokenizer.from_text("abca")
    >>> enc = tok(["ab", "c"], padding=True)
    >>> enc["input_ids"].tolist(), enc["attention_mask"].tolist()
    ([[1, 3, 4], [1, 5, 0]], [[1, 1, 1], [1, 1, 0]])
    >>> tok.decode(enc["input_ids"][0])
    'ab'
    """

    def __init__(self, chars: Sequence[str], add_bos: bool = True) -> None:
        if len(chars) == 0:
            raise EmptyInputError("chars: expected at least one character, got an empty list")
        if any(len(c) != 1 for c in chars) or len(set(chars)) != len(chars):
            raise ShapeError("chars: expected distinct single characters")
        self.chars = list(chars)
        self.add_bos = add_bos
        self.pad_token_id, self.bos_token_id, self.unk_token_id = 0, 1, 2
        self._ids = {c: i + len(SPECIAL_TOKENS) for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str, add_bos: bool = True) -> CharTokenizer:
        """Build the vocabulary from the sorted distinct characters of ``text``."""
        return cls(sorted(set(text)), add_bos=add_bos)

    @property
    def vocab_size(self) -> int:
        """Number of ids (specials included)."""
        return len(SPECIAL_TOKENS) + len(self.chars)

    @property
    def all_special_ids(self) -> list[int]:
        """Ids of ``<pad>``, ``<bos>`` and ``<unk>``."""
        return list(range(len(SPECIAL_TOKENS)))

    def __len__(self) -> int:
        return self.vocab_size

    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` (``<bos>`` first when ``add_bos``); unknown chars map to ``<unk>``."""
        ids = [self._ids.get(c, self.unk_token_id) for c in text]
        return [self.bos_token_id, *ids] if self.add_bos else ids

    def decode(self, ids: Sequence[int] | torch.Tensor, skip_special_tokens: bool = True) -> str:
        """Text of ``ids``; special tokens are dropped unless ``skip_special_tokens`` is False."""
        out = []
        for i in [int(x) for x in ids]:
            if i >= len(SPECIAL_TOKENS):
                out.append(self.chars[i - len(SPECIAL_TOKENS)])
            elif not skip_special_tokens:
                out.append(SPECIAL_TOKENS[i])
        return "".join(out)

    def convert_ids_to_tokens(self, ids: Sequence[int] | torch.Tensor) -> list[str]:
        """One token string per id (specials by name)."""
        return [self.decode([int(i)], skip_special_tokens=False) for i in ids]

    def __call__(
        self, text: str | Sequence[str], return_tensors: str = "pt", padding: bool = True
    ) -> dict[str, torch.Tensor]:
        """Encode one text or a batch into ``input_ids`` and ``attention_mask`` (right padding).

        ``return_tensors`` must be ``"pt"``; ``padding`` is accepted for Hugging Face
        compatibility (a batch of unequal lengths is always padded).
        """
        if return_tensors != "pt":
            raise OptionError(f"return_tensors: expected 'pt', got {return_tensors!r}")
        texts = [text] if isinstance(text, str) else list(text)
        if not texts:
            raise EmptyInputError("text: expected at least one text, got an empty batch")
        rows = [self.encode(t) for t in texts]
        n = max(len(r) for r in rows)
        ids = torch.full((len(rows), n), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), n), dtype=torch.long)
        for b, r in enumerate(rows):
            ids[b, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[b, : len(r)] = 1
        return {"input_ids": ids, "attention_mask": mask}

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON."""
        data = {"type": "tgnn-char", "specials": list(SPECIAL_TOKENS), "chars": self.chars,
                "add_bos": self.add_bos}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> CharTokenizer:
        """Read a vocabulary written by :meth:`save`."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("type") != "tgnn-char" or tuple(data["specials"]) != SPECIAL_TOKENS:
            raise ShapeError(f"path: expected a tgnn-char tokenizer JSON, got {path}")
        return cls(data["chars"], add_bos=bool(data["add_bos"]))
