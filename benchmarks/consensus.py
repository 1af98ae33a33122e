"""Section 5: consensus and over-smoothing with depth (Rodriguez Abella, Silvestre & Tabuada).

Causal toy transformers (:mod:`tgnn.benchmarks.toy`) in three variants: attention only with
identity values (``x_{l+1} = A_l x_l``, the consensus dynamics of the paper), with residual
(``alpha = 0.5``), and with residual and pre-LayerNorm. Per layer: ``mu(X)`` (relative distance
to rank one) and the Dirichlet energy of ``X`` on that layer's attention graph, relative to layer
0 (``tgnn.metrics``). The rate is ``-slope`` of ``log mu`` against depth (least squares); the
spectral gap is that of the first layer's head-averaged attention graph (``tgnn.metrics``,
symmetrised). The attention scale ``beta`` varies the gap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tgnn.benchmarks.common import pyplot
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, md_table, save_figure
from tgnn.benchmarks.runner import grid, run_sweep
from tgnn.benchmarks.toy import ToyConfig, toy_forward

__all__ = ["VARIANTS", "consensus_point", "run"]

NAME = "consensus"
VARIANTS = {
    "attention only": {"alpha": 0.0, "layernorm": False, "identity_values": True},
    "with residual": {"alpha": 0.5, "layernorm": False, "identity_values": False},
    "with residual + LN": {"alpha": 0.5, "layernorm": True, "identity_values": False},
}


def consensus_point(point: dict[str, Any]) -> dict[str, Any]:
    """One point ``{"variant", "beta", "n", "depth", "seed"}`` -> mu and energy per layer."""
    from tgnn import attention_to_data
    from tgnn.metrics import dirichlet_energy, mu, spectral_gap

    cfg = ToyConfig(n=point["n"], depth=point["depth"], beta=point["beta"], causal=True,
                    seed=point["seed"], **VARIANTS[point["variant"]])
    with torch.no_grad():
        hidden, attn = toy_forward(cfg)
    graphs = [attention_to_data(a.mean(0)) for a in attn]
    mus = np.array([float(mu(h)) for h in hidden])
    energy = [float(dirichlet_energy(h, g)) for h, g in zip(hidden, graphs[:1] + graphs,
                                                             strict=True)]
    depth = np.arange(len(mus))
    ok = mus > 1e-12
    rate = float(-np.polyfit(depth[ok], np.log(mus[ok]), 1)[0]) if ok.sum() > 1 else float("nan")
    return {"mu": mus.tolist(), "energy": [e / energy[0] for e in energy], "rate": rate,
            "gap": float(spectral_gap(graphs[0]))}


def _plot(rows: list[dict[str, Any]], config: BenchConfig) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for k, variant in enumerate(VARIANTS):
        sel = [r for r in rows if r["point"]["variant"] == variant]
        mid = sel[len(sel) // 2]
        axes[0].semilogy(np.maximum(mid["mu"], 1e-16), color=f"C{k}",
                         label=f"{variant} (beta={mid['point']['beta']:g})")
        axes[1].semilogy(np.maximum(mid["energy"], 1e-16), color=f"C{k}", label=variant)
        axes[2].scatter([r["gap"] for r in sel], [r["rate"] for r in sel], color=f"C{k}",
                        label=variant)
    axes[0].set(xlabel="depth", ylabel="mu(X)", title="distance to consensus")
    axes[1].set(xlabel="depth", ylabel="Dirichlet energy / layer 0", title="over-smoothing")
    axes[2].set(xlabel="spectral gap of layer-0 attention graph", ylabel="rate -d log mu / dl",
                title="rate against spectral gap")
    for ax in axes:
        ax.legend(fontsize=7)
    return save_figure(fig, config, NAME, "consensus.png")


def run(config: BenchConfig) -> ExperimentResult:
    """Variants x attention scales x seeds; per-variant correlation of rate and gap."""
    from scipy.stats import spearmanr

    betas = [0.5, 4.0] if config.smoke else [0.25, 0.5, 1, 2, 4, 8]
    n, depth = (8, 4) if config.smoke else (32, 16) if config.quick else (64, 32)
    seeds = [config.seed] if config.quick else [config.seed, config.seed + 1, config.seed + 2]
    points = grid(variant=list(VARIANTS), beta=betas, n=[n], depth=[depth], seed=seeds)
    rows = run_sweep(consensus_point, points, workers=config.workers,
                     ray_address=config.ray_address, desc=NAME, progress=config.progress)
    table = [{**r["point"], "gap": r["gap"], "rate": r["rate"], "mu_last": r["mu"][-1],
              "energy_last": r["energy"][-1]} for r in rows]
    summary = []
    for variant in VARIANTS:
        sel = [r for r in rows if r["point"]["variant"] == variant]
        rho = spearmanr([r["gap"] for r in sel], [r["rate"] for r in sel]).statistic
        summary.append({"variant": variant, "spearman_rate_gap": float(rho),
                        "mean_rate": float(np.mean([r["rate"] for r in sel])),
                        "median_mu_last": float(np.median([r["mu"][-1] for r in sel]))})
    text = (f"Causal toy transformer, n = {n}, d = 64, 4 heads, depth {depth}; attention scales "
            f"beta = {betas}. Spearman correlation of the consensus rate with the spectral gap "
            "of the attention graph, per variant:\n\n"
            + md_table(summary, ["variant", "spearman_rate_gap", "mean_rate", "median_mu_last"])
            + "\nAll points:\n\n"
            + md_table(table, ["variant", "beta", "seed", "gap", "rate", "mu_last",
                               "energy_last"]))
    return ExperimentResult(NAME, "Consensus and over-smoothing with depth",
                            {"rows": rows, "summary": summary}, [_plot(rows, config)], text)
