"""Synthetic attention patterns as dense row-stochastic matrices.

Each generator returns a ``[n, n]`` float64 tensor ``A`` with ``A[i, j]`` the weight with which
query token ``i`` reads key token ``j`` (rows sum to one). Causal patterns are lower triangular.
Use :func:`tgnn.attention_to_data` to get a PyG graph.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from tgnn._params import check_count, check_flag, check_real

__all__ = [
    "uniform_causal",
    "uniform_bidirectional",
    "sliding_window",
    "sink_mixture",
    "pause_tokens",
    "alibi_recency",
]


def _check_length(n: int, name: str = "n") -> int:
    return check_count(n, name, 1)


def _causal_mask(n: int) -> Tensor:
    return torch.tril(torch.ones(n, n, dtype=torch.bool))


def _normalise_rows(weights: Tensor) -> Tensor:
    return weights / weights.sum(-1, keepdim=True)


def uniform_causal(n: int) -> Tensor:
    r"""Uniform causal attention ``U[i, j] = 1 / (i + 1)`` for ``j <= i`` (0-based).

    The attention of a causal transformer whose queries and keys carry no information; the
    reference case of the causal-resistance theory (``docs/theory.md``). Cost O(n^2).

    Examples
    --------
    >>> uniform_causal(3)
    tensor([[1.0000, 0.0000, 0.0000],
            [0.5000, 0.5000, 0.0000],
            [0.3333, 0.3333, 0.3333]], dtype=torch.float64)
    """
    n = _check_length(n)
    return _normalise_rows(_causal_mask(n).to(torch.float64))


def uniform_bidirectional(n: int) -> Tensor:
    r"""Uniform bidirectional (encoder) attention ``A[i, j] = 1 / n``.

    Examples
    --------
    >>> uniform_bidirectional(2)
    tensor([[0.5000, 0.5000],
            [0.5000, 0.5000]], dtype=torch.float64)
    """
    n = _check_length(n)
    return torch.full((n, n), 1.0 / n, dtype=torch.float64)


def sliding_window(n: int, window: int, causal: bool = True) -> Tensor:
    r"""Uniform attention over a sliding window of ``window`` tokens.

    Causal: query ``i`` reads ``j`` with ``i - window < j <= i``.
    Bidirectional: ``|i - j| < window``.
    Rows are uniform over the keys they read (Longformer / Mistral-style local attention).

    Examples
    --------
    >>> sliding_window(3, 2)
    tensor([[1.0000, 0.0000, 0.0000],
            [0.5000, 0.5000, 0.0000],
            [0.0000, 0.5000, 0.5000]], dtype=torch.float64)
    """
    n, window = _check_length(n), _check_length(window, "window")
    check_flag(causal, "causal", allow_none=False)
    offset = torch.arange(n)[:, None] - torch.arange(n)[None, :]
    keep = (offset >= 0) & (offset < window) if causal else offset.abs() < window
    return _normalise_rows(keep.to(torch.float64))


def sink_mixture(n: int, p: float, causal: bool = True) -> Tensor:
    r"""Attention-sink model ``A_p = p E + (1 - p) U`` with ``E = 1 e_0^T``.

    Every query sends mass ``p`` to the first token (the sink) and spreads ``1 - p`` uniformly
    (causally or bidirectionally). THEORY.md gives its rollout and resistances in closed form.

    Examples
    --------
    >>> sink_mixture(2, 0.5)
    tensor([[1.0000, 0.0000],
            [0.7500, 0.2500]], dtype=torch.float64)
    """
    n, p = _check_length(n), check_real(p, "p", 0.0, 1.0)
    check_flag(causal, "causal", allow_none=False)
    uniform = uniform_causal(n) if causal else uniform_bidirectional(n)
    sink = torch.zeros(n, n, dtype=torch.float64)
    sink[:, 0] = 1.0
    return p * sink + (1.0 - p) * uniform


def pause_tokens(
    n: int, num_start: int = 0, num_end: int = 0, pause_mass: float = 0.5, causal: bool = True
) -> Tensor:
    r"""Uniform attention over ``n`` content tokens with pause tokens at the start and/or end.

    The sequence is ``num_start`` pause tokens, ``n`` content tokens, ``num_end`` pause tokens.
    Every query puts total mass ``pause_mass`` uniformly on the pause tokens it can see (if any)
    and the rest uniformly on the content tokens it can see (Goyal et al. 2024, "Think before you
    speak: training language models with pause tokens"). Shape ``[m, m]`` with
    ``m = num_start + n + num_end``.

    Examples
    --------
    >>> pause_tokens(2, num_start=1, pause_mass=0.5)[2]
    tensor([0.5000, 0.2500, 0.2500], dtype=torch.float64)
    """
    n = _check_length(n)
    num_start, num_end = check_count(num_start, "num_start"), check_count(num_end, "num_end")
    pause_mass = check_real(pause_mass, "pause_mass", 0.0, 1.0, high_open=True)
    check_flag(causal, "causal", allow_none=False)
    m = num_start + n + num_end
    visible = _causal_mask(m) if causal else torch.ones(m, m, dtype=torch.bool)
    is_pause = torch.zeros(m, dtype=torch.bool)
    is_pause[:num_start] = True
    is_pause[num_start + n :] = True
    pause_seen = (visible & is_pause).to(torch.float64)
    content_seen = (visible & ~is_pause).to(torch.float64)
    n_pause = pause_seen.sum(-1, keepdim=True)
    n_content = content_seen.sum(-1, keepdim=True)
    share = torch.where(n_content > 0, torch.full_like(n_pause, pause_mass), 1.0)
    share = torch.where(n_pause > 0, share, torch.zeros_like(share))
    return share * pause_seen / n_pause.clamp(min=1) + (1 - share) * content_seen / n_content.clamp(
        min=1
    )


def alibi_recency(n: int, slope: float = 0.5, causal: bool = True) -> Tensor:
    r"""ALiBi-like recency bias: ``A[i, j] \propto exp(-slope * |i - j|)`` (Press et al. 2022).

    With zero query-key scores, ALiBi's linear distance penalty leaves exactly this softmax.

    Examples
    --------
    >>> alibi_recency(2, slope=0.0)
    tensor([[1.0000, 0.0000],
            [0.5000, 0.5000]], dtype=torch.float64)
    """
    n = _check_length(n)
    slope = check_real(slope, "slope", 0.0, math.inf, high_open=True)
    check_flag(causal, "causal", allow_none=False)
    distance = (torch.arange(n)[:, None] - torch.arange(n)[None, :]).to(torch.float64)
    logits = -slope * distance.abs()
    if causal:
        logits = logits.masked_fill(~_causal_mask(n), float("-inf"))
    return torch.softmax(logits, dim=-1)
