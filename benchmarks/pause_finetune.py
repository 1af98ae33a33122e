"""A short fine-tune of the tiny causal model with pause tokens, and its control without them.

Goyal et al. (2023), "Think before you speak: training language models with pause tokens"
(arXiv 2310.02226), append ``<pause>`` tokens to the input and train with the loss on the
ordinary tokens only: the output at a pause is ignored until the last one, which predicts the next
real token. Lee (2025) suggests pauses at both ends. Here each training window of the embedded
``tgnn-gpt2-tiny`` becomes ``[<bos>, P * k, c_1 .. c_m, P * k, c_{m+1}]``: the cross-entropy is
taken on every content token ``c_1 .. c_{m+1}`` (``c_1`` predicted by the last start pause,
``c_{m+1}`` by the last end pause), never on ``<bos>`` or a pause.

The control (``pauses=0``) is the same run, same windows in the same order, same steps, seed and
optimiser, on ``[<bos>, c_1 .. c_{m+1}]``: a difference between the two models is the pauses', not
the extra training's. AdamW (betas 0.9 / 0.95, weight decay 0.1), linear warm-up over the first
10% of steps then constant, gradient clipping at 1 (as :mod:`tgnn.models.train`).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from tgnn.benchmarks.pause_data import (
    PauseLayout,
    pause_id,
    split_ids,
    train_windows,
    with_pauses,
)

from tgnn.errors import ShapeError

__all__ = ["finetune", "training_batch"]


def training_batch(windows: torch.Tensor, pauses: int, pause: int) -> tuple[torch.Tensor,
                                                                             torch.Tensor]:
    """``(input_ids, labels)`` of one step: pauses at both ends, loss on content tokens only.

    ``labels`` is ``-100`` at ``<bos>`` and at every pause (Hugging Face shifts labels by one:
    position ``p`` predicts ``labels[p + 1]``).

    Examples
    --------
    >>> ids, labels = training_batch(torch.tensor([[10, 11, 12]]), pauses=1, pause=2)
    >>> ids.tolist(), labels.tolist()
    ([[1, 2, 10, 11, 2, 12]], [[-100, -100, 10, 11, -100, 12]])
    """
    m = windows.shape[1] - 1
    layout = PauseLayout(m, start=pauses, end=pauses)
    ids = torch.cat([with_pauses(windows, layout, pause), windows[:, -1:]], dim=1)
    labels = torch.full_like(ids, -100)
    labels[:, layout.content] = ids[:, layout.content]
    labels[:, -1] = ids[:, -1]
    return ids, labels


def finetune(model: Any, tok: Any, *, pauses: int, m: int, steps: int, batch: int, seed: int,
             lr: float = 3e-4) -> Any:
    """A fine-tuned copy of ``model`` (the input is left as it was); returned in eval mode.

    Parameters
    ----------
    model, tok
        The tiny causal model and its character tokenizer.
    pauses
        ``k`` pause tokens at each end of every window (0: the control).
    m
        Content characters per window (plus the one the last token predicts).
    steps, batch
        Optimiser steps and windows per step (``steps = 0`` returns an untrained copy).
    seed
        Seed of the window stream (the same for the pause run and its control).
    lr
        Peak learning rate.
    """
    if steps < 0 or batch < 1 or pauses < 0:
        raise ShapeError(f"steps, batch, pauses: expected steps >= 0, batch >= 1, pauses >= 0, "
                         f"got {steps}, {batch}, {pauses}")
    tuned = copy.deepcopy(model)
    old = tuned.config._attn_implementation
    tuned.set_attn_implementation("sdpa")
    tuned.train()
    opt = torch.optim.AdamW(tuned.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
    gen = torch.Generator().manual_seed(seed)
    warmup, stream = max(1, steps // 10), split_ids(tok, "train")
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warmup)
        ids, labels = training_batch(train_windows(stream, m, batch, gen), pauses, pause_id(tok))
        loss = tuned(input_ids=ids, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tuned.parameters(), 1.0)
        opt.step()
    tuned.set_attn_implementation(old)
    return tuned.eval()
