"""Section 5: consensus and over-smoothing with depth (Rodriguez Abella, Silvestre & Tabuada).

Two parts. The trained model (:mod:`tgnn.benchmarks.consensus_model`): the embedded causal
model's blocks applied hundreds of times, with and without their MLP, with ``mu(X)`` and the
first token's drift per layer over 32 sequences. The toy dynamics, below: causal toy
transformers (:mod:`tgnn.benchmarks.toy`) in three variants: attention only with identity values
(``x_{l+1} = A_l x_l``, the consensus dynamics of the paper), with residual (``alpha = 0.5``),
and with residual and pre-LayerNorm. Per layer: ``mu(X)`` (relative distance to rank one) and
the Dirichlet energy of ``X`` on that layer's attention graph, relative to layer 0
(``tgnn.metrics``). The rate is ``-slope`` of ``log mu`` against depth (least squares); the
spectral gap is that of the first layer's head-averaged attention graph (``tgnn.metrics``,
symmetrised). The attention scale ``beta`` varies the gap; the rate-gap relation is a Spearman
correlation over scales and seeds with a bootstrap interval over points.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tgnn.benchmarks.claims import Claim, bootstrap_interval, claims_numbers, claims_table
from tgnn.benchmarks.common import pyplot
from tgnn.benchmarks.consensus_model import layer_summary, repeated_passes
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
    drift = float((hidden[-1][0] - hidden[0][0]).norm() / hidden[0][0].norm())
    return {"mu": mus.tolist(), "energy": [e / energy[0] for e in energy], "rate": rate,
            "gap": float(spectral_gap(graphs[0])), "first_drift": drift}


def _plot_model(passes: dict[str, dict[str, np.ndarray]], config: BenchConfig) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for k, (label, values) in enumerate(passes.items()):
        for ax, key in zip(axes, ("mu", "first_drift"), strict=True):
            mean = values[key].mean(axis=0)
            low, high = np.quantile(values[key], [0.1, 0.9], axis=0)
            layers = np.arange(len(mean))
            ax.plot(layers, mean, color=f"C{k}", label=f"{label} (mean)")
            ax.fill_between(layers, low, high, color=f"C{k}", alpha=0.2,
                            label=f"{label} (10-90% of sequences)")
    axes[0].set(xscale="symlog", yscale="log", xlabel="layers applied (repeated passes)",
                ylabel="mu(X)", title="distance to consensus, tgnn-gpt2-tiny")
    axes[1].set(xscale="symlog", xlabel="layers applied (repeated passes)",
                ylabel="||x_0 - x_0(embedding)|| / ||x_0(embedding)||",
                title="first token's drift")
    for ax in axes:
        ax.legend(fontsize=7)
    return save_figure(fig, config, NAME, "consensus_model.png")


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


def _rate_gap(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Spearman of rate against gap over the points, with a bootstrap interval over points."""
    from scipy.stats import spearmanr

    gap = np.array([r["gap"] for r in rows])
    rate = np.array([r["rate"] for r in rows])

    def statistic(index: np.ndarray) -> float:
        pick = index.astype(int)
        if np.ptp(gap[pick]) == 0 or np.ptp(rate[pick]) == 0:
            return float("nan")  # undefined on a constant resample (left out of the interval)
        return float(spearmanr(gap[pick], rate[pick]).statistic)

    value, low, high = bootstrap_interval(np.arange(len(rows), dtype=float), statistic)
    return {"spearman_rate_gap": value, "low": low, "high": high}


def _model_passes(config: BenchConfig) -> tuple[dict[str, dict[str, np.ndarray]], int]:
    from tgnn.benchmarks.common import load_model, sample_ids

    model, tokenizer = load_model(config.model)
    count, n = (2, 8) if config.smoke else (32, 32)
    passes = 2 if config.smoke else 25 if config.quick else 100
    ids = torch.cat([sample_ids(tokenizer, n, seed=config.seed + s) for s in range(count)])
    runs = {f"{'with' if mlp else 'without'} MLP": repeated_passes(model, ids, passes, mlp)
            for mlp in (True, False)}
    return runs, len(model.transformer.h)


def _claims(summary: list[dict[str, Any]], toy_drift: float,
            model_rows: list[dict[str, Any]], layers: int, sequences: int) -> list[Claim]:
    attention_only = next(r for r in summary if r["variant"] == "attention only")
    depth = max(r["layer"] for r in model_rows)
    at = {(r["run"], r["quantity"], r["layer"]): r for r in model_rows}
    with_mlp, without = at["with MLP", "mu", depth], at["without MLP", "mu", depth]
    drift, start = at["with MLP", "first_drift", depth], at["with MLP", "mu", 0]["mean"]
    toy_mu = attention_only["median_mu_last"]
    claims = [
        Claim("Rodriguez Abella et al. 2024, main theorem",
              "tokens converge to one cluster as depth grows (attention dynamics)",
              f"toy attention only: median mu at the last layer {toy_mu:.2e}",
              "over all scales and seeds", "reproduced" if toy_mu < 1e-3 else "different",
              "the identity-value causal dynamics x <- A x contracts to consensus"),
        Claim("Rodriguez Abella et al. 2024, main theorem (a trained model)",
              "a deep stack of transformer blocks drives the tokens to one cluster",
              f"mu after {depth} layers: {with_mlp['mean']:.3f} with MLP, "
              f"{without['mean']:.3f} without (from {start:.3f})",
              f"95% CI [{with_mlp['low']:.3f}, {with_mlp['high']:.3f}] and "
              f"[{without['low']:.3f}, {without['high']:.3f}], {sequences} sequences",
              "reproduced" if with_mlp["high"] < 0.5 * start else "different",
              f"tgnn-gpt2-tiny's {layers} blocks applied {depth // layers} times, with the "
              "residuals, MLPs and LayerNorms the paper's dynamics lacks: mu falls toward 0 "
              "with the MLP, more slowly without"),
        Claim("Rodriguez Abella et al. 2024, causal case",
              "under causal attention the first token stays fixed and the others converge to it",
              f"toy: drift {toy_drift:.1e}; tgnn-gpt2-tiny: drift {drift['mean']:.2f} "
              f"after {depth} layers",
              f"95% CI [{drift['low']:.2f}, {drift['high']:.2f}], {sequences} sequences",
              "different" if toy_drift == 0.0 and drift["low"] > 0.01 else "contradicted",
              "exact in the paper's dynamics (A_00 = 1, identity values), but a real block "
              "moves x_0 by W_O W_V LN(x_0) and its MLP, so the first token is no fixed point "
              "(every sequence starts with the same token, hence the zero-width interval)"),
    ]
    for row in summary:
        sign = ("positive" if row["low"] > 0 else "negative" if row["high"] < 0
                else "not distinguishable from 0")
        claims.append(Claim(
            "ours (no paper value)", f"consensus rate grows with the attention graph's spectral "
            f"gap ({row['variant']})", f"Spearman {row['spearman_rate_gap']:.2f}",
            f"95% CI [{row['low']:.2f}, {row['high']:.2f}] over {row['points']} points",
            "reproduced" if row["low"] > 0 else "contradicted" if row["high"] < 0
            else "different", f"the correlation is {sign} at this sample size"
            + ("" if row["low"] > 0 or row["high"] < 0 else ": we claim no relation")))
    return claims


def run(config: BenchConfig) -> ExperimentResult:
    """Variants x attention scales x seeds; per-variant correlation of rate and gap; the
    trained model's repeated passes with and without MLP; the claim table."""
    betas = [0.5, 4.0] if config.smoke else [0.25, 0.5, 1, 2, 4, 8]
    n, depth = (8, 4) if config.smoke else (32, 16) if config.quick else (64, 32)
    seeds = list(range(config.seed, config.seed + (2 if config.smoke else 4 if config.quick
                                                   else 16)))
    points = grid(variant=list(VARIANTS), beta=betas, n=[n], depth=[depth], seed=seeds)
    rows = run_sweep(consensus_point, points, workers=config.workers,
                     ray_address=config.ray_address, desc=NAME, progress=config.progress)
    table = [{**r["point"], "gap": r["gap"], "rate": r["rate"], "mu_last": r["mu"][-1],
              "energy_last": r["energy"][-1], "first_drift": r["first_drift"]} for r in rows]
    summary = []
    for variant in VARIANTS:
        sel = [r for r in rows if r["point"]["variant"] == variant]
        summary.append({"variant": variant, "points": len(sel), **_rate_gap(sel),
                        "mean_rate": float(np.mean([r["rate"] for r in sel])),
                        "median_mu_last": float(np.median([r["mu"][-1] for r in sel]))})
    toy_drift = max(r["first_drift"] for r in rows if r["point"]["variant"] == "attention only")
    passes, layers = _model_passes(config)
    sequences, total = next(iter(passes.values()))["mu"].shape
    total -= 1
    marks = sorted({0, layers, min(10 * layers, total), min(100 * layers, total), total})
    model_rows = [{"run": label, "quantity": key, **row}
                  for label, values in passes.items() for key in ("mu", "first_drift")
                  for row in layer_summary(values[key], marks)]
    claims = _claims(summary, toy_drift, model_rows, layers, sequences)
    text = (f"**Trained model.** `{config.model}`'s {layers} blocks applied again and again "
            f"({total} layers), with and without their MLP, on {sequences} sequences of sampled "
            "tokens: "
            "mean over sequences with 95% bootstrap intervals.\n\n"
            + md_table(model_rows, ["run", "quantity", "layer", "mean", "low", "high"])
            + f"\n**Toy dynamics.** Causal toy transformer, n = {n}, d = 64, 4 heads, depth "
            f"{depth}; attention scales beta = {betas}, {len(seeds)} seeds each. Spearman "
            "correlation of the consensus rate with the spectral gap of the layer-0 attention "
            "graph, per variant, with its 95% bootstrap interval over points:\n\n"
            + md_table(summary, ["variant", "points", "spearman_rate_gap", "low", "high",
                                 "mean_rate", "median_mu_last"])
            + "\n**Claims.**\n\n" + claims_table(claims)
            + "\nAll toy points:\n\n"
            + md_table(table, ["variant", "beta", "seed", "gap", "rate", "mu_last",
                               "energy_last", "first_drift"]))
    numbers = {"rows": rows, "summary": summary, "model": model_rows,
               "claims": claims_numbers(claims)}
    figures = [_plot_model(passes, config), _plot(rows, config)]
    return ExperimentResult(NAME, "Consensus and over-smoothing with depth", numbers, figures,
                            text)
