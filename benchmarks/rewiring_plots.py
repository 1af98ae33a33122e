"""Plots of section 7: graph measures and the model's loss change, each beside random edges."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from tgnn.benchmarks.common import pyplot
from tgnn.benchmarks.report import BenchConfig, save_figure

__all__ = ["plot_graphs", "plot_model"]


def plot_graphs(rows: list[dict[str, Any]], config: BenchConfig, name: str) -> str:
    """Total resistance after / before per transform and graph, beside the random baseline."""
    plt = pyplot()
    graphs = list(dict.fromkeys(r["graph"] for r in rows))
    fig, axes = plt.subplots(1, len(graphs), figsize=(4.5 * len(graphs), 3.8), squeeze=False)
    for ax, graph in zip(axes[0], graphs, strict=True):
        sel = [r for r in rows if r["graph"] == graph and r["transform"] != "none"]
        none = next(r["total_R"] for r in rows if r["graph"] == graph and r["transform"] == "none")
        x = np.arange(len(sel))
        ax.bar(x - 0.2, [r["total_R"] / none for r in sel], 0.4, color="C0", label="transform")
        mean = np.array([r["random_total_R"] for r in sel]) / none
        low = np.array([r["random_total_R_low"] for r in sel]) / none
        high = np.array([r["random_total_R_high"] for r in sel]) / none
        ax.bar(x + 0.2, mean, 0.4, color="C7", label="random edges, same count")
        ax.errorbar(x + 0.2, mean, yerr=[mean - low, high - mean], fmt="none", color="k",
                    capsize=3, label="95% interval over seeds")
        ax.axhline(1.0, color="k", lw=0.8, ls=":")
        ax.set_xticks(x, [r["transform"] for r in sel])
        ax.set(title=graph, ylabel="total R after / before")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8,
               bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return save_figure(fig, config, name, "total_resistance.png")


def plot_model(rows: list[dict[str, Any]], config: BenchConfig, name: str) -> str:
    """Loss change against the window mask per transform, beside random edges and references."""
    plt = pyplot()
    at = {r["mask"]: r for r in rows}
    tnames = [m.removeprefix("window + ") for m in at
              if m.startswith("window + ") and f"window + random ({m[9:]})" in at]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    x = np.arange(len(tnames))
    for shift, prefix, colour, label in ((-0.2, "window + {}", "C0", "rewired mask"),
                                         (0.2, "window + random ({})", "C7",
                                          "random edges, same count")):
        sel = [at[prefix.format(t)] for t in tnames]
        mean = np.array([r["d_loss"] for r in sel])
        low, high = np.array([r["d_loss_low"] for r in sel]), np.array([r["d_loss_high"]
                                                                          for r in sel])
        ax.bar(x + shift, mean, 0.4, color=colour, label=label)
        if np.all(np.isfinite(low)):
            ax.errorbar(x + shift, mean, yerr=[mean - low, high - mean], fmt="none", color="k",
                        capsize=3)
    for ref, style in (("full causal (no mask)", "--"), ("window + BOS sink", "-.")):
        value = at[ref]["d_loss"]
        if math.isfinite(value):
            ax.axhline(value, color="C3", ls=style, lw=1, label=f"{ref}")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xticks(x, tnames)
    ax.set(ylabel="loss change vs window mask (nats)",
           title="Model under the rewired window mask (mean, 95% CI over sequences)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save_figure(fig, config, name, "model_loss_change.png")
