r"""Section 4: rank and entropy collapse at initialisation, in Giorlandino & Goldt's setting.

The model is the paper's block (:mod:`tgnn.benchmarks.init_block`: post-LN, one head, no
``W_O``, LayerNorm without affine parameters, ReLU MLP of width ``d``, residual strengths
``alpha_A = alpha_M = 1``, ``var_v = var_w = 0.2``, ``var_b = 4e-4``, query-key scale ``beta``
with logit std ``beta sqrt(ln n)``), with pre-LN and gain-controlled (centred) attention as the
paper's Fig. 4 variants. The predictions are :mod:`tgnn.theory.signal_propagation`. Four
measurements, each against its prediction:

1. ``Y2 = E[sum_j A_ij^2]`` of one attention layer over a ``beta`` x ``rho`` grid, at two
   sequence lengths and two widths (32+ seeds each): the asymptotic REM law
   ``max(0, 1 - beta_c(rho)/beta)`` with ``beta_c(rho) = sqrt(2/(1 - rho))`` and the exact
   finite-``n`` value of the same REM.
2. The layer-to-layer correlation map ``rho_in -> rho_out`` of one block.
3. The correlation profile to depth 100 (50 with ``--quick``): the paper's block at its Fig. 1
   scales ``beta = 0.5, 3`` and a larger one, and the four placements of its Fig. 4.
4. The phase diagram over ``beta`` and the residual strength ``alpha`` at a fixed depth: final
   cosine, last-layer ``Y2`` and the gradient ratio ``||d <x_L, G> / d x_0|| / ||G||``, with the
   predicted boundaries computed from the predicted correlation at that depth (rho-dependent).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from tgnn.benchmarks.claims import bootstrap_interval, claims_numbers, claims_table
from tgnn.benchmarks.common import pyplot
from tgnn.benchmarks.init_block import BlockConfig, block_forward, participation_sweep
from tgnn.benchmarks.init_claims import RANK_COLLAPSE_COS, RHO0, section_claims
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, md_table, save_figure
from tgnn.benchmarks.runner import grid, run_sweep
from tgnn.theory.signal_propagation import (
    correlation_map,
    correlation_trajectory,
    critical_beta,
    participation_ratio,
    participation_ratio_finite,
)

__all__ = ["init_point", "run", "theory_kwargs"]

NAME = "init_collapse"
# Fig. 4: placements x attention; the paper's block is "post-LN"
VARIANTS: dict[str, dict[str, Any]] = {
    "post-LN": {"placement": "post", "gain_control": False},
    "pre-LN": {"placement": "pre", "gain_control": False},
    "GC post-LN": {"placement": "post", "gain_control": True},
    "GC pre-LN": {"placement": "pre", "gain_control": True},
}


def theory_kwargs(cfg: BlockConfig) -> dict[str, Any]:
    """The :func:`tgnn.theory.signal_propagation.block_update` arguments of a simulated block."""
    return {"placement": cfg.placement, "gain_control": cfg.gain_control,
            "alpha_attn": cfg.alpha_attn, "alpha_mlp": cfg.alpha_mlp, "var_v": cfg.var_v,
            "var_bv": cfg.var_b, "mlp": cfg.mlp, "var_w": cfg.var_w, "var_b": cfg.var_b}


def _interval(samples: np.ndarray) -> tuple[float, float, float]:
    return bootstrap_interval(samples) if len(samples) > 1 else (float(samples[0]),) * 3


def init_point(point: dict[str, Any]) -> dict[str, Any]:
    """One phase-diagram point ``{"beta", "alpha", "n", "depth", "seed"}`` (optional ``"d"``,
    ``"seeds"``, ``"rho"``) of the paper's block -> per-layer curves averaged over the seeds:
    ``cosine`` (``depth + 1``), ``entropy`` (``H / ln n``) and ``y2`` (``depth``), and the
    gradient ratio ``||d <x_L, G> / d x_0|| / ||G||`` (``G`` a seeded Gaussian direction)."""
    cfg = BlockConfig(n=point["n"], d=point.get("d", 64), depth=point["depth"],
                      beta=point["beta"], alpha_attn=point["alpha"], alpha_mlp=point["alpha"],
                      seeds=point.get("seeds", 1), seed=point["seed"], dtype=torch.float32)
    from tgnn.benchmarks.init_block import correlated_tokens

    x0 = correlated_tokens(cfg, point.get("rho", RHO0),
                           torch.Generator().manual_seed(cfg.seed + 10_000)).requires_grad_(True)
    run = block_forward(cfg, x0=x0)
    direction = torch.randn(x0.shape, generator=torch.Generator().manual_seed(cfg.seed + 20_000),
                            dtype=x0.dtype)
    (grad,) = torch.autograd.grad((run.hidden[-1] * direction).sum(), x0)
    ratio = torch.linalg.vector_norm(grad, dim=(-1, -2)) / torch.linalg.vector_norm(
        direction, dim=(-1, -2))
    return {"cosine": run.cosine.detach().mean(0).tolist(),
            "entropy": run.entropy.detach().mean(0).clamp(0.0, 1.0).tolist(),
            "y2": run.y2.detach().mean(0).tolist(), "grad_ratio": float(ratio.mean())}


def _sizes(config: BenchConfig) -> dict[str, Any]:
    if config.smoke:
        return {"y2": [(8, 16)], "map": [(8, 16)], "depth": [(8, 16)], "seeds": 2,
                "depth_seeds": 2, "L": 4, "phase_L": 3, "betas": [0.5, 2.0, 8.0],
                "rhos": [0.0, 0.5], "map_rhos": [0.2, 0.8], "phase_betas": [0.5, 4.0],
                "alphas": [0.0, 0.9], "phase_seeds": 1}
    if config.quick:
        return {"y2": [(64, 64), (256, 256)], "map": [(64, 64), (256, 128)],
                "depth": [(64, 64)], "seeds": 32, "depth_seeds": 4, "L": 50, "phase_L": 24,
                "betas": [0.5, 1, 1.5, 2, 3, 4, 6, 8], "rhos": [0.0, 0.5, 0.8],
                "map_rhos": [0.05, 0.2, 0.4, 0.6, 0.8, 0.95],
                "phase_betas": [0.25, 0.5, 1, 2, 4, 8, 16], "alphas": [0.0, 0.5, 1.0],
                "phase_seeds": 2}
    return {"y2": [(64, 64), (64, 256), (256, 64), (256, 256)],
            "map": [(64, 64), (64, 256), (256, 64), (256, 256)],
            "depth": [(64, 64), (256, 128)], "seeds": 32, "depth_seeds": 16, "L": 100,
            "phase_L": 50, "betas": [0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 12],
            "rhos": [0.0, 0.25, 0.5, 0.7, 0.85, 0.95],
            "map_rhos": [0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95],
            "phase_betas": [0.25, 0.5, 1, 2, 4, 8, 16, 32], "alphas": [0.0, 0.25, 0.5, 1.0, 2.0],
            "phase_seeds": 8}


def _y2_rows(config: BenchConfig, size: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for n, d in size["y2"]:
        for rho in size["rhos"]:
            cfg = BlockConfig(n=n, d=d, depth=1, seeds=size["seeds"], seed=config.seed,
                              dtype=torch.float32)
            measured, cross = (t.double().numpy()
                               for t in participation_sweep(cfg, rho, size["betas"]))
            for beta, samples, overlap in zip(size["betas"], measured, cross, strict=True):
                mean, low, high = _interval(samples)
                rows.append({"n": n, "d": d, "rho": rho, "beta": beta, "Y2": mean,
                             "low": low, "high": high, "X2": float(overlap.mean()),
                             "finite_n": participation_ratio_finite(beta, rho, n),
                             "asymptotic": participation_ratio(beta, rho)})
    return rows


# label, block options, beta: the paper's block, centred and attention-only ones
MAP_CASES: list[tuple[str, dict[str, Any], float]] = [
    ("post-LN", {}, 0.5), ("post-LN", {}, 3.0), ("post-LN", {}, 8.0),
    ("GC post-LN", VARIANTS["GC post-LN"], 3.0),
    ("attention only", {"alpha_attn": 0.0, "mlp": False, "var_v": 1.0}, 3.0),
    ("attention only", {"alpha_attn": 0.0, "mlp": False, "var_v": 1.0}, 8.0),
]


def _map_rows(config: BenchConfig, size: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for n, d in size["map"]:
        for label, options, beta in MAP_CASES:
            for rho in size["map_rhos"]:
                cfg = BlockConfig(n=n, d=d, depth=1, beta=beta, seeds=size["seeds"] // 2,
                                  seed=config.seed, dtype=torch.float32, **options)
                out = block_forward(cfg, rho).cosine.double().numpy()
                mean, low, high = _interval(out[:, 1])
                rows.append({"n": n, "d": d, "variant": label, "beta": beta,
                             "rho_in": float(out[:, 0].mean()), "rho_out": mean, "low": low,
                             "high": high,
                             "theory": correlation_map(float(out[:, 0].mean()), beta,
                                                       **theory_kwargs(cfg))})
    return rows


def _depth_rows(config: BenchConfig, size: dict[str, Any]) -> list[dict[str, Any]]:
    cases: list[tuple[str, dict[str, Any], float]] = [
        ("post-LN", {}, 0.5), ("post-LN", {}, 3.0), ("post-LN", {}, 8.0)]
    # Fig. 4 notebook: beta = 0.1, value gain 1, sigma_w^2 = 0.2, sigma_b^2 = 0.02^2
    cases += [(v, {"var_v": 1.0}, b) for v in VARIANTS for b in (0.1, 4.0)]
    rows = []
    for n, d in size["depth"]:
        for variant, extra, beta in cases:
            cfg = BlockConfig(n=n, d=d, depth=size["L"], beta=beta, seeds=size["depth_seeds"],
                              seed=config.seed, dtype=torch.float32, **VARIANTS[variant],
                              **extra)
            run = block_forward(cfg, RHO0)
            cos = run.cosine.double().numpy()
            theory = correlation_trajectory(float(cos[:, 0].mean()), cfg.depth, beta,
                                            **theory_kwargs(cfg))
            rows.append({"n": n, "d": d, "variant": variant, "beta": beta,
                         "var_v": cfg.var_v, "measured": cos.mean(0).tolist(),
                         "spread": cos.std(0).tolist(), "theory": theory.tolist(),
                         "final": _interval(cos[:, -1]),
                         "max_error": float(np.abs(cos.mean(0) - theory).max()),
                         "mean_error": float(np.abs(cos.mean(0) - theory).mean()),
                         "y2_first": float(run.y2[:, 0].mean()) if cfg.depth else math.nan,
                         "y2_last": float(run.y2[:, -1].mean()) if cfg.depth else math.nan,
                         "to_collapse": _interval(_layers_to(cos, RANK_COLLAPSE_COS)),
                         "to_collapse_theory": float(
                             _layers_to(theory[None], RANK_COLLAPSE_COS)[0])})
    return rows


def _layers_to(cosine: np.ndarray, level: float) -> np.ndarray:
    """Per row of ``[seeds, depth + 1]``: the first layer whose cosine exceeds ``level``
    (``depth + 1`` where none does)."""
    above = cosine > level
    return np.where(above.any(axis=1), above.argmax(axis=1), cosine.shape[1]).astype(float)


def _phase_theory(betas: np.ndarray, alpha: float, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Predicted last-layer correlation and asymptotic ``Y2`` of the paper's block."""
    cfg = BlockConfig(alpha_attn=alpha, alpha_mlp=alpha)
    finals, y2 = [], []
    for beta in betas:
        traj = correlation_trajectory(RHO0, depth, float(beta), **theory_kwargs(cfg))
        finals.append(traj[-1])
        y2.append(participation_ratio(float(beta), float(traj[-2])))
    return np.asarray(finals), np.asarray(y2)


def _phase_rows(config: BenchConfig, size: dict[str, Any]) -> list[dict[str, Any]]:
    n = size["depth"][0][0]
    points = grid(beta=size["phase_betas"], alpha=size["alphas"], n=[n],
                  depth=[size["phase_L"]], seed=[config.seed], seeds=[size["phase_seeds"]])
    return run_sweep(init_point, points, workers=config.workers,
                     ray_address=config.ray_address, desc=NAME, progress=config.progress)


def _plot_y2(rows: list[dict[str, Any]], config: BenchConfig) -> str:
    plt = pyplot()
    sizes = sorted({(r["n"], r["d"]) for r in rows})
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.5 * len(sizes), 3.8), squeeze=False)
    fine = np.geomspace(min(r["beta"] for r in rows), max(r["beta"] for r in rows), 80)
    for ax, (n, d) in zip(axes[0], sizes, strict=True):
        for k, rho in enumerate(sorted({r["rho"] for r in rows})):
            sel = [r for r in rows if (r["n"], r["d"], r["rho"]) == (n, d, rho)]
            color = f"C{k}"
            ax.errorbar([r["beta"] for r in sel], [r["Y2"] for r in sel],
                        yerr=[[r["Y2"] - r["low"] for r in sel], [r["high"] - r["Y2"]
                                                                 for r in sel]],
                        fmt="o", ms=3, color=color, label=f"measured rho={rho:g}")
            ax.plot(fine, [participation_ratio(b, rho) for b in fine], "-", color=color, lw=1)
            ax.plot([r["beta"] for r in sel], [r["finite_n"] for r in sel], "--", color=color,
                    lw=1)
        ax.set(xscale="log", title=f"n={n}, d={d}  (solid: n->inf, dashed: finite-n REM)",
               xlabel="beta", ylabel="Y2 = E sum_j A_ij^2")
        ax.title.set_fontsize(8)
    axes[0][0].legend(fontsize=7)
    return save_figure(fig, config, NAME, "y2_vs_beta.png")


def _plot_map(rows: list[dict[str, Any]], config: BenchConfig) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    fine = np.linspace(0.0, 0.97, 60)
    for k, (label, options, beta) in enumerate(MAP_CASES):
        cfg = BlockConfig(beta=beta, **options)
        ax.plot(fine, [correlation_map(x, beta, **theory_kwargs(cfg)) - x for x in fine], "-",
                color=f"C{k}", lw=1, label=f"{label}, beta={beta:g}")
        sel = [r for r in rows if (r["variant"], r["beta"]) == (label, beta)]
        ax.plot([r["rho_in"] for r in sel], [r["rho_out"] - r["rho_in"] for r in sel], "o",
                ms=3, color=f"C{k}")
    ax.axhline(0.0, ls=":", color="grey")
    ax.set(xlabel="rho in", ylabel="rho out - rho in (one block)",
           title="Correlation map: theory (lines) vs measured (dots)")
    ax.legend(fontsize=6)
    return save_figure(fig, config, NAME, "correlation_map.png")


def _plot_depth(rows: list[dict[str, Any]], config: BenchConfig) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    n, d = rows[0]["n"], rows[0]["d"]
    sel = [r for r in rows if (r["n"], r["d"]) == (n, d)]
    for k, r in enumerate(s for s in sel if s["var_v"] == 0.2):
        axes[0].plot(r["measured"], color=f"C{k}", label=f"beta={r['beta']:g} measured")
        axes[0].plot(r["theory"], "--", color=f"C{k}")
    for k, r in enumerate(s for s in sel if s["var_v"] == 1.0):
        style = "-" if r["beta"] < 1 else "-."
        axes[1].plot(r["measured"], style, color=f"C{k // 2}",
                     label=f"{r['variant']}, beta={r['beta']:g}")
        axes[1].plot(r["theory"], ":", color=f"C{k // 2}")
    axes[0].set(title=f"paper's block, n={n}, d={d} (dashed: theory)", xlabel="layer",
                ylabel="mean token cosine")
    axes[1].set(title="Fig. 4 placements (dotted: theory)", xlabel="layer")
    for ax in axes:
        ax.legend(fontsize=6)
    return save_figure(fig, config, NAME, "depth_profiles.png")


def _plot_phase(y2: list[dict[str, Any]], phase: list[dict[str, Any]], size: dict[str, Any],
                config: BenchConfig) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    n, d = max((r["n"], r["d"]) for r in y2)
    betas, rhos = size["betas"], size["rhos"]
    image = np.array([[next(r["Y2"] for r in y2 if (r["n"], r["d"], r["rho"], r["beta"]) ==
                            (n, d, rho, b)) for b in betas] for rho in rhos])
    im = axes[0].pcolormesh(betas, rhos, image, shading="nearest", cmap="viridis")
    fine = np.linspace(min(rhos), max(rhos), 50)
    axes[0].plot([critical_beta(x) for x in fine], fine, "w-", label="beta_c(rho)")
    axes[0].axvline(critical_beta(0.0), color="w", ls=":", label="beta_c(0) = sqrt 2")
    axes[0].set(xscale="log", xlim=(min(betas), max(betas)), xlabel="beta", ylabel="rho",
                title=f"one layer: measured Y2 (n={n}, d={d})")
    axes[0].set_xticks(betas, [f"{b:g}" for b in betas], minor=False)
    axes[0].xaxis.set_minor_locator(plt.NullLocator())
    axes[0].legend(fontsize=7)
    fig.colorbar(im, ax=axes[0])
    pb, alphas = size["phase_betas"], size["alphas"]

    def cell(key: str, b: float, a: float) -> float:
        row = next(r for r in phase if r["point"]["beta"] == b and r["point"]["alpha"] == a)
        return float(row[key][-1])

    fine_b = np.geomspace(min(pb), max(pb), 60)
    fine_a = np.linspace(min(alphas), max(alphas), 25)
    theory = [_phase_theory(fine_b, a, size["phase_L"]) for a in fine_a]
    for ax, key, title in ((axes[1], "cosine", "final cosine"), (axes[2], "y2", "last-layer Y2")):
        image = np.array([[cell(key, b, a) for b in pb] for a in alphas])
        im = ax.pcolormesh(pb, alphas, image, shading="nearest", cmap="viridis")
        rank = [float(np.interp(RANK_COLLAPSE_COS, finals[::-1], fine_b[::-1]))
                if finals.min() < RANK_COLLAPSE_COS < finals.max() else math.nan
                for finals, _ in theory]
        onset = [float(fine_b[np.argmax(y > 0)]) if np.any(y > 0) else math.nan
                 for _, y in theory]
        ax.plot(rank, fine_a, "w-", label=f"predicted cosine = {RANK_COLLAPSE_COS}")
        ax.plot(onset, fine_a, "r--", label="predicted beta_c(rho_L)")
        ax.axvline(critical_beta(0.0), color="r", ls=":", label="beta_c(0) (rho = 0 only)")
        ax.set(xscale="log", xlabel="beta", ylabel="residual strength alpha",
               title=f"paper's block, depth {size['phase_L']}: {title}")
        fig.colorbar(im, ax=ax)
    axes[1].legend(fontsize=6)
    return save_figure(fig, config, NAME, "phase_diagram.png")


def run(config: BenchConfig) -> ExperimentResult:
    """Y2 over beta x rho, the correlation map, depth profiles, the phase diagram, the claims."""
    size = _sizes(config)
    y2 = _y2_rows(config, size)
    maps = _map_rows(config, size)
    depth = _depth_rows(config, size)
    phase = _phase_rows(config, size)
    claims = section_claims(y2, maps, depth, phase, size)
    figures = [_plot_phase(y2, phase, size, config), _plot_y2(y2, config),
               _plot_map(maps, config), _plot_depth(depth, config)]
    table = [{**r["point"], "cos_last": r["cosine"][-1], "y2_last": r["y2"][-1],
              "entropy_last": r["entropy"][-1], "grad_ratio": r["grad_ratio"]} for r in phase]
    depth_table = [{"n": r["n"], "d": r["d"], "variant": r["variant"], "beta": r["beta"],
                    "var_v": r["var_v"], "final": r["final"][0],
                    "predicted": r["theory"][-1], "mean_error": r["mean_error"],
                    "max_error": r["max_error"]} for r in depth]
    text = (
        "Paper's block (post-LN, one head, no W_O, LayerNorm without affine, ReLU MLP, "
        "alpha = 1, var_v = var_w = 0.2, var_b = 4e-4; logit std beta sqrt(ln n)), "
        f"simulated in float32 and set beside `tgnn.theory.signal_propagation`. Critical "
        f"scale beta_c(rho) = sqrt(2/(1 - rho)): {critical_beta(0.0):.3f} at rho = 0, "
        f"{critical_beta(0.5):.3f} at 0.5, {critical_beta(0.9):.3f} at 0.9.\n\n"
        + claims_table(claims)
        + "\n**Y2 of one attention layer** (mean over seeds with 95% CI; asymptotic and "
        "finite-n REM predictions; X2: measured overlap of distinct queries, 0 in the "
        "paper's moments):\n\n"
        + md_table(y2, ["n", "d", "rho", "beta", "Y2", "low", "high", "finite_n",
                        "asymptotic", "X2"])
        + "\n**Depth profiles** (final cosine, seed mean):\n\n"
        + md_table(depth_table, ["n", "d", "variant", "beta", "var_v", "final", "predicted",
                                 "mean_error", "max_error"])
        + f"\n**Phase diagram** (depth {size['phase_L']}, n = {size['depth'][0][0]}, "
        f"{size['phase_seeds']} seeds per point):\n\n"
        + md_table(table, ["beta", "alpha", "cos_last", "y2_last", "entropy_last",
                           "grad_ratio"]))
    numbers = {"beta_c": critical_beta(0.0), "rows": phase, "table": table, "y2": y2,
               "map": maps, "depth": depth, "claims": claims_numbers(claims)}
    return ExperimentResult(NAME, "Rank vs entropy collapse at initialisation", numbers,
                            figures, text)

