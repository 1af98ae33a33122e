"""Section 4: rank collapse against entropy collapse at initialisation (Giorlandino & Goldt 2025).

Random-init toy transformers (:mod:`tgnn.benchmarks.toy`, pre-LayerNorm, bidirectional) over a
grid of attention scale ``beta`` (the standard deviation of the query-key logits at
initialisation, set by the query-key weight variance) and residual strength ``alpha``. Per layer:
mean token cosine similarity (``tgnn.metrics.mean_cosine``), mean attention entropy over
``log n`` (``tgnn.metrics.attention_entropy``), and the gradient norm
``||d <x_L, G> / d x_0|| / ||G||`` for a fixed Gaussian ``G`` (below 1: vanishing).

Rank collapse: final cosine > 0.9. Entropy collapse: final normalised entropy < 0.3. The paper
maps self-attention onto the Random Energy Model; the REM freezes when the logit standard
deviation exceeds ``sqrt(2 ln n)``: the dashed line of the plot is that freezing point, the
entropy-collapse boundary it predicts (the paper's full trainability diagram also involves
LayerNorm and MLP constants we do not reproduce).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from tgnn.benchmarks.common import pyplot
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, md_table, save_figure
from tgnn.benchmarks.runner import grid, run_sweep
from tgnn.benchmarks.toy import ToyConfig, toy_forward

__all__ = ["init_point", "run"]

NAME = "init_collapse"
RANK_COLLAPSE_COS = 0.9
ENTROPY_COLLAPSE = 0.3


def init_point(point: dict[str, Any]) -> dict[str, Any]:
    """One grid point ``{"beta", "alpha", "n", "depth", "seed"}`` -> per-layer curves."""
    from tgnn.metrics import attention_entropy, mean_cosine

    cfg = ToyConfig(n=point["n"], depth=point["depth"], beta=point["beta"],
                    alpha=point["alpha"], seed=point["seed"])
    x0 = torch.randn(cfg.n, cfg.d, dtype=torch.float64,
                     generator=torch.Generator().manual_seed(cfg.seed + 10_000))
    x0.requires_grad_(True)
    hidden, attn = toy_forward(cfg, x0)
    direction = torch.randn(cfg.n, cfg.d, dtype=torch.float64,
                            generator=torch.Generator().manual_seed(cfg.seed + 20_000))
    (grad,) = torch.autograd.grad((hidden[-1] * direction).sum(), x0)
    with torch.no_grad():
        cosine = [float(mean_cosine(h)) for h in hidden]
        entropy = attention_entropy(torch.stack(attn)).mean(-1) / math.log(cfg.n)
    return {"cosine": cosine, "entropy": entropy.tolist(),
            "grad_ratio": float(grad.norm() / direction.norm())}


def _phase(row: dict[str, Any]) -> str:
    rank = row["cosine"][-1] > RANK_COLLAPSE_COS
    entropy = row["entropy"][-1] < ENTROPY_COLLAPSE
    return "both" if rank and entropy else "rank" if rank else "entropy" if entropy else "ok"


def _plot(rows: list[dict[str, Any]], betas: list[float], alphas: list[float], n: int,
          config: BenchConfig) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    keys = [("final cosine similarity", lambda r: r["cosine"][-1]),
            ("final entropy / log n", lambda r: r["entropy"][-1]),
            ("log10 gradient ratio", lambda r: math.log10(max(r["grad_ratio"], 1e-30)))]
    for ax, (title, get) in zip(axes, keys, strict=True):
        image = np.array([[get(next(r for r in rows if r["point"]["beta"] == b and
                                    r["point"]["alpha"] == a and r["point"]["seed"] ==
                                    config.seed)) for b in betas] for a in alphas])
        im = ax.imshow(image, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(betas)), [f"{b:g}" for b in betas])
        ax.set_yticks(range(len(alphas)), [f"{a:g}" for a in alphas])
        crit = float(np.interp(math.log(math.sqrt(2 * math.log(n))), np.log(betas),
                               np.arange(len(betas))))
        ax.axvline(crit, color="w", ls="--", label="REM freezing sqrt(2 ln n)")
        ax.set(title=title, xlabel="attention scale beta (logit std)",
               ylabel="residual strength alpha")
        fig.colorbar(im, ax=ax)
    axes[0].legend(fontsize=7, loc="upper left")
    return save_figure(fig, config, NAME, "phase_diagram.png")


def run(config: BenchConfig) -> ExperimentResult:
    """The beta x alpha grid, per-layer curves, phases and the phase-diagram plot."""
    betas = [0.5, 4.0] if config.smoke else [0.25, 0.5, 1, 2, 4, 8, 16]
    alphas = [0.0, 0.9] if config.smoke else [0.0, 0.5, 0.8, 0.95]
    n, depth = (8, 3) if config.smoke else (32, 12) if config.quick else (64, 24)
    seeds = [config.seed] if config.quick else [config.seed, config.seed + 1]
    points = grid(beta=betas, alpha=alphas, n=[n], depth=[depth], seed=seeds)
    rows = run_sweep(init_point, points, workers=config.workers,
                     ray_address=config.ray_address, desc=NAME, progress=config.progress)
    table = [{**r["point"], "cos_first": r["cosine"][1], "cos_last": r["cosine"][-1],
              "entropy_first": r["entropy"][0], "entropy_last": r["entropy"][-1],
              "grad_ratio": r["grad_ratio"], "phase": _phase(r)} for r in rows]
    beta_c = math.sqrt(2 * math.log(n))
    text = (f"Toy pre-LN transformer, n = {n} tokens, d = 64, 4 heads, depth {depth}. "
            f"Predicted entropy-collapse scale (REM freezing): beta_c = sqrt(2 ln n) = "
            f"{beta_c:.2f}. Phases at the last layer: rank (cosine > {RANK_COLLAPSE_COS}), "
            f"entropy (entropy / log n < {ENTROPY_COLLAPSE}), both, ok.\n\n"
            + md_table(table, ["beta", "alpha", "seed", "cos_first", "cos_last",
                               "entropy_first", "entropy_last", "grad_ratio", "phase"]))
    figure = _plot(rows, betas, alphas, n, config)
    return ExperimentResult(NAME, "Rank vs entropy collapse at initialisation",
                            {"beta_c": beta_c, "rows": rows, "table": table}, [figure], text)
