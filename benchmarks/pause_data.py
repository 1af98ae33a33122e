"""Inputs of the sink and pause-token checks (section 6): text windows and pause layouts.

Sequences are windows of the tiny model's corpus (``pydoc_data.topics``): evaluation windows come
from the held-out last 10% (never seen in training, nor in the pause fine-tune), training windows
of the fine-tune from the first 90% (:func:`tgnn.models.tiny.split_text`). A window is ``m``
content characters ``c_1 .. c_m`` and the character ``c_{m+1}`` that follows them, which the last
token of the sequence predicts.

The pause token is the tokenizer's ``<unk>``: the character vocabulary covers the whole corpus, so
the model never saw ``<unk>`` as an input; its (tied) embedding learned only from the output side.
It plays the role of Goyal et al.'s ``<pause>``, a token with no content; a fine-tune
(:mod:`tgnn.benchmarks.pause_finetune`) trains it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tgnn.errors import ShapeError

__all__ = [
    "PauseLayout",
    "held_out_windows",
    "pause_id",
    "split_ids",
    "train_windows",
    "with_pauses",
]


def _char_ids(tok: Any, text: str) -> torch.Tensor:
    """Ids of the characters of ``text`` (no ``<bos>``, whatever the tokenizer adds)."""
    ids = tok.encode(text)
    return torch.tensor(ids[1:] if getattr(tok, "add_bos", False) else ids, dtype=torch.long)


def split_ids(tok: Any, part: str) -> torch.Tensor:
    """Character ids of the ``"train"`` (first 90%) or ``"held-out"`` (last 10%) corpus text."""
    from tgnn.models.tiny import corpus_text, split_text

    parts = {"train": 0, "held-out": 1}
    if part not in parts:
        raise ShapeError(f"part: expected 'train' or 'held-out', got {part!r}")
    return _char_ids(tok, split_text(corpus_text())[parts[part]])


def held_out_windows(tok: Any, m: int, count: int, seed: int) -> torch.Tensor:
    """``[count, m + 1]`` disjoint windows of the held-out text, at seeded positions.

    The held-out text is cut into consecutive blocks of ``m + 1`` characters and ``count`` of
    them are drawn without replacement, so no two sequences share a character.

    Raises
    ------
    ShapeError
        ``m < 2``, ``count < 1``, or more windows asked than the held-out text holds.

    Examples
    --------
    >>> from tgnn.benchmarks.common import load_model
    >>> tok = load_model("tgnn-gpt2-tiny")[1]
    >>> held_out_windows(tok, 16, 4, seed=0).shape
    torch.Size([4, 17])
    """
    if m < 2 or count < 1:
        raise ShapeError(f"m, count: expected m >= 2 and count >= 1, got {m}, {count}")
    ids = split_ids(tok, "held-out")
    blocks = len(ids) // (m + 1)
    if count > blocks:
        raise ShapeError(f"count: expected at most {blocks} windows of {m + 1} held-out "
                         f"characters, got {count}")
    picks = np.sort(np.random.default_rng(seed).choice(blocks, size=count, replace=False))
    return ids[: blocks * (m + 1)].view(blocks, m + 1)[torch.as_tensor(picks)]


def train_windows(ids: torch.Tensor, m: int, count: int, generator: torch.Generator
                  ) -> torch.Tensor:
    """``[count, m + 1]`` windows of the id stream ``ids`` at random starts (may overlap)."""
    starts = torch.randint(0, len(ids) - m - 1, (count,), generator=generator)
    return ids[starts[:, None] + torch.arange(m + 1)[None, :]]


def pause_id(tok: Any) -> int:
    """Id of the pause token (``<unk>``, never an input in the corpus)."""
    return int(tok.unk_token_id)


class PauseLayout:
    """Where content and pauses sit in ``[<bos>] + pause * start + content + pause * end``.

    Parameters
    ----------
    m
        Content tokens.
    start, end
        Pause tokens before and after the content.
    bos
        Whether a ``<bos>`` token comes first.

    Examples
    --------
    >>> lay = PauseLayout(3, start=2, end=1, bos=True)
    >>> lay.length, lay.content, lay.last
    (7, [3, 4, 5], 6)
    """

    def __init__(self, m: int, start: int = 0, end: int = 0, bos: bool = True) -> None:
        if m < 2 or start < 0 or end < 0:
            raise ShapeError(f"m, start, end: expected m >= 2 and non-negative pause counts, got "
                             f"{m}, {start}, {end}")
        self.m, self.start, self.end, self.bos = m, start, end, bos
        self.first = int(bos) + start
        self.content = list(range(self.first, self.first + m))
        self.length = self.first + m + end
        self.last = self.length - 1


def with_pauses(windows: torch.Tensor, layout: PauseLayout, pause: int,
                bos_id: int = 1) -> torch.Tensor:
    """Model inputs ``[S, layout.length]`` for windows ``[S, m + 1]`` (the last column is the
    target ``c_{m+1}``, not an input).

    Examples
    --------
    >>> w = torch.tensor([[10, 11, 12, 13]])
    >>> with_pauses(w, PauseLayout(3, start=1, end=2), pause=2).tolist()
    [[1, 2, 10, 11, 12, 2, 2]]
    """
    if windows.dim() != 2 or windows.shape[1] != layout.m + 1:
        raise ShapeError(f"windows: expected [S, {layout.m + 1}], got {tuple(windows.shape)}")
    count = windows.shape[0]
    parts = [torch.full((count, int(layout.bos)), bos_id, dtype=windows.dtype),
             torch.full((count, layout.start), pause, dtype=windows.dtype),
             windows[:, :-1], torch.full((count, layout.end), pause, dtype=windows.dtype)]
    return torch.cat(parts, dim=1)
