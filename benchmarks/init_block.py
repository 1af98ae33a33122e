r"""The random transformer block of Giorlandino & Goldt (2025), configurable, batched over seeds.

One block (``x`` is ``[n, d]``; LayerNorm without affine parameters)::

    post-LN:  x <- LN(alpha_A x + Attn(x)),     x <- LN(alpha_M x + MLP(x))
    pre-LN:   x <- alpha_A x + Attn(LN(x)),     x <- alpha_M x + MLP(LN(x))

``Attn(h) = concat_heads(A_h (h W_V + b_V)) [W_O]``, ``A_h = softmax(beta sqrt(ln T) (h W_Q^h)
(h W_K^h)^T / sqrt(d_h))`` or, gain-controlled, ``A_h - 1 1^T / n`` (centred attention);
``MLP(h) = relu(h W_1 + b_1) W_2 + b_2``. Initialisation as in the authors' notebook
(``deep_prop_encoder.ipynb``): ``W_Q, W_K`` entries ``N(0, 1/d)`` with the logit scale
``beta sqrt(ln T) / sqrt(d_h)`` (for one head this is their ``sqrt(beta) (ln T)^(1/4) /
sqrt(d_h)`` standard deviation on both matrices with the usual ``1/sqrt(d_h)``; for ``H`` heads
the per-head logit variance stays ``beta^2 ln T``), ``W_V`` entries ``N(0, var_v / d)``, ``W_O``
(optional, absent in the paper) ``N(0, 1/d)``, ``W_1, W_2`` entries ``N(0, var_w / d)`` (hidden
width ``d``), every bias ``N(0, var_b)``; the paper's values ``var_v = var_w = 0.2``,
``var_b = 4e-4``, one head, no ``W_O``, ``alpha_A = alpha_M = 1`` are the defaults.

Inputs with token correlation ``rho``: ``x_j = LN(sqrt(rho) z + sqrt(1 - rho) e_j)`` with ``z``,
``e_j`` i.i.d. ``N(0, I_d)``. The closed-form predictions for this block are
:mod:`tgnn.theory.signal_propagation`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from tgnn.errors import TgnnError

__all__ = ["BlockConfig", "BlockRun", "block_forward", "correlated_tokens", "participation_sweep"]


@dataclass(frozen=True)
class BlockConfig:
    """Knobs of the block stack (see the module docstring); ``seeds`` models run as one batch."""

    n: int = 64
    d: int = 64
    depth: int = 50
    beta: float = 1.0
    heads: int = 1
    placement: str = "post"
    gain_control: bool = False
    w_o: bool = False
    mlp: bool = True
    alpha_attn: float = 1.0
    alpha_mlp: float = 1.0
    var_v: float = 0.2
    var_w: float = 0.2
    var_b: float = 4e-4
    context: int | None = None
    causal: bool = False
    seeds: int = 1
    seed: int = 0
    dtype: torch.dtype = field(default=torch.float64)

    def __post_init__(self) -> None:
        if self.placement not in ("post", "pre"):
            raise TgnnError(f"placement: expected 'post' or 'pre', got {self.placement!r}")
        if self.d % self.heads:
            raise TgnnError(f"heads: expected a divisor of d = {self.d}, got {self.heads}")
        if self.n < 2 or self.depth < 0 or self.seeds < 1:
            raise TgnnError(f"n, depth, seeds: expected n >= 2, depth >= 0, seeds >= 1, got "
                            f"{self.n}, {self.depth}, {self.seeds}")

    @property
    def logit_scale(self) -> float:
        """``beta sqrt(ln T) / sqrt(d_h)``, the factor on ``(h W_Q)(h W_K)^T``."""
        length = self.n if self.context is None else self.context
        return self.beta * math.sqrt(math.log(length)) / math.sqrt(self.d // self.heads)


@dataclass
class BlockRun:
    """Per-layer measurements, each ``[depth + 1]`` (hidden states) or ``[depth]`` (attention),
    per seed (first axis ``[seeds]``): mean token cosine, ``Y2 = mean_i sum_j A_ij^2`` and the
    normalised row entropy ``H / ln n`` (mean over rows and heads)."""

    cosine: Tensor
    y2: Tensor
    entropy: Tensor
    hidden: list[Tensor]


def correlated_tokens(cfg: BlockConfig, rho: float, gen: torch.Generator) -> Tensor:
    """``[seeds, n, d]`` LayerNorm'd tokens ``sqrt(rho) z + sqrt(1 - rho) e_j`` (correlation
    ``rho``, up to fluctuations of order ``1/sqrt(d)``)."""
    if not 0.0 <= rho <= 1.0:
        raise TgnnError(f"rho: expected a correlation in [0, 1], got {rho!r}")
    shared = torch.randn(cfg.seeds, 1, cfg.d, generator=gen, dtype=cfg.dtype)
    own = torch.randn(cfg.seeds, cfg.n, cfg.d, generator=gen, dtype=cfg.dtype)
    return _ln(math.sqrt(rho) * shared + math.sqrt(1.0 - rho) * own)


def _ln(x: Tensor) -> Tensor:
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), eps=1e-12)


def _gauss(cfg: BlockConfig, gen: torch.Generator, *shape: int, var: float) -> Tensor:
    return torch.randn(cfg.seeds, *shape, generator=gen, dtype=cfg.dtype) * math.sqrt(var)


def _cosine(x: Tensor) -> Tensor:
    unit = x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(1e-300)
    gram = unit @ unit.transpose(-1, -2)
    n = x.shape[-2]
    return (gram.sum((-1, -2)) - gram.diagonal(dim1=-2, dim2=-1).sum(-1)) / (n * (n - 1))


def _attention(h: Tensor, cfg: BlockConfig, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    s, n, d, heads = cfg.seeds, cfg.n, cfg.d, cfg.heads
    dh = d // heads
    wq, wk = (_gauss(cfg, gen, d, d, var=1.0 / d) for _ in range(2))
    wv, bv = _gauss(cfg, gen, d, d, var=cfg.var_v / d), _gauss(cfg, gen, 1, d, var=cfg.var_b)

    def split(t: Tensor) -> Tensor:
        return t.reshape(s, n, heads, dh).transpose(1, 2)

    q, k, v = split(h @ wq), split(h @ wk), split(h @ wv + bv)
    logits = cfg.logit_scale * q @ k.transpose(-1, -2)
    if cfg.causal:
        logits = logits.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    attn = torch.softmax(logits, dim=-1)
    mix = attn - 1.0 / n if cfg.gain_control and not cfg.causal else attn
    if cfg.gain_control and cfg.causal:
        mix = attn - torch.tril(torch.ones(n, n, dtype=cfg.dtype)) / torch.arange(
            1, n + 1, dtype=cfg.dtype)[:, None]
    out = (mix @ v).transpose(1, 2).reshape(s, n, d)
    if cfg.w_o:
        out = out @ _gauss(cfg, gen, d, d, var=1.0 / d)
    return out, attn


def _mlp(h: Tensor, cfg: BlockConfig, gen: torch.Generator) -> Tensor:
    d = cfg.d
    w1, b1 = _gauss(cfg, gen, d, d, var=cfg.var_w / d), _gauss(cfg, gen, 1, d, var=cfg.var_b)
    w2, b2 = _gauss(cfg, gen, d, d, var=cfg.var_w / d), _gauss(cfg, gen, 1, d, var=cfg.var_b)
    return torch.relu(h @ w1 + b1) @ w2 + b2


def block_forward(cfg: BlockConfig, rho: float = 0.0, x0: Tensor | None = None,
                  keep_hidden: bool = False) -> BlockRun:
    """Run the stack from tokens of correlation ``rho`` (or ``x0``, ``[seeds, n, d]``).

    Weights are drawn layer by layer from one generator seeded with ``cfg.seed`` (the inputs
    first), so a run is reproducible and ``seeds`` independent models share one batch.
    ``keep_hidden`` keeps every hidden state (for gradients); otherwise only the last.
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    x = correlated_tokens(cfg, rho, gen) if x0 is None else x0
    cos, y2, ent, hidden = [_cosine(x)], [], [], [x]
    log_n = math.log(cfg.n)
    for _ in range(cfg.depth):
        h = x if cfg.placement == "post" else _ln(x)
        out, attn = _attention(h, cfg, gen)
        x = _ln(cfg.alpha_attn * x + out) if cfg.placement == "post" else cfg.alpha_attn * x + out
        y2.append((attn * attn).sum(-1).mean((-1, -2)))
        ent.append(-torch.special.xlogy(attn, attn).sum(-1).mean((-1, -2)) / log_n)
        if cfg.mlp:
            h = x if cfg.placement == "post" else _ln(x)
            branch = _mlp(h, cfg, gen)
            x = (_ln(cfg.alpha_mlp * x + branch) if cfg.placement == "post"
                 else cfg.alpha_mlp * x + branch)
        cos.append(_cosine(x))
        hidden = [*hidden, x] if keep_hidden else [x]
    empty = torch.zeros(cfg.seeds, 0, dtype=cfg.dtype)
    return BlockRun(torch.stack(cos, -1), torch.stack(y2, -1) if y2 else empty,
                    torch.stack(ent, -1) if ent else empty, hidden)


def participation_sweep(cfg: BlockConfig, rho: float,
                        betas: list[float]) -> tuple[Tensor, Tensor]:
    """Measured ``Y2 = mean_i sum_j A_ij^2`` and cross overlap ``X2 = mean_{a != b} sum_j A_aj
    A_bj`` of one attention layer, each ``[len(betas), seeds]``.

    Tokens of correlation ``rho`` and one draw of ``W_Q, W_K`` per seed; the logits of every
    ``beta`` are the same matrix scaled (``cfg.beta`` is ignored), so the curves over ``beta``
    are smooth and cost one product ``(h W_Q)(h W_K)^T``. The paper's attention moments take
    ``X2 = 0`` (distinct queries pick independent keys); the output overlap is
    ``p + (q - p) X2`` in general.
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    h = correlated_tokens(cfg, rho, gen)
    s, n, heads = cfg.seeds, cfg.n, cfg.heads
    dh = cfg.d // heads
    wq, wk = (_gauss(cfg, gen, cfg.d, cfg.d, var=1.0 / cfg.d) for _ in range(2))
    q = (h @ wq).reshape(s, n, heads, dh).transpose(1, 2)
    k = (h @ wk).reshape(s, n, heads, dh).transpose(1, 2)
    length = cfg.n if cfg.context is None else cfg.context
    raw = q @ k.transpose(-1, -2) * math.sqrt(math.log(length) / dh)
    y2, x2 = [], []
    for beta in betas:
        attn = torch.softmax(beta * raw, dim=-1)
        gram = attn @ attn.transpose(-1, -2)
        diag = gram.diagonal(dim1=-2, dim2=-1)
        y2.append(diag.mean((-1, -2)))
        x2.append(((gram.sum((-1, -2)) - diag.sum(-1)) / (n * (n - 1))).mean(-1))
    return torch.stack(y2), torch.stack(x2)
