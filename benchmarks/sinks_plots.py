"""Plots of section 6: every quantity per condition with its interval, and the Jacobian profile."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.ticker import NullFormatter
from tgnn.benchmarks.common import pyplot
from tgnn.benchmarks.report import BenchConfig, save_figure

__all__ = ["plot_jacobian", "plot_quantities"]

PANELS = {
    "loss": ("content loss (nats)", "linear"),
    "last_loss": ("last-token loss (nats)", "linear"),
    "sink_mass_0": ("sink mass of position 0", "linear"),
    "R_roll": ("R_roll (first content -> last)", "log"),
    "R_abs": ("R_abs (first content -> last)", "log"),
    "nn_distance": ("last-token NN distance / mean norm", "linear"),
}


def _colours(groups: dict[str, str]) -> dict[str, str]:
    return {g: f"C{k}" for k, g in enumerate(dict.fromkeys(groups.values()))}


def plot_quantities(summary: list[dict[str, Any]], groups: dict[str, str], config: BenchConfig,
                    name: str) -> str:
    """Mean and 95% interval over sequences of every quantity, one panel each, one row per
    condition (colour: the condition's group, in the legend); n/a where a value is not finite."""
    plt = pyplot()
    labels = list(groups)
    colours = _colours(groups)
    fig, axes = plt.subplots(2, 3, figsize=(14, 0.35 * len(labels) * 2 + 2.5), sharey=True)
    y = np.arange(len(labels))[::-1]
    for ax, (quantity, (title, scale)) in zip(axes.ravel(), PANELS.items(), strict=True):
        rows = {r["condition"]: r for r in summary if r["quantity"] == quantity}
        for yk, label in zip(y, labels, strict=True):
            r = rows[label]
            if not all(math.isfinite(r[key]) for key in ("mean", "low", "high")):
                ax.annotate("n/a", (0.02, yk), xycoords=("axes fraction", "data"), va="center",
                            fontsize=7, color="grey")
                continue
            ax.errorbar(r["mean"], yk, xerr=[[r["mean"] - r["low"]], [r["high"] - r["mean"]]],
                        fmt="o", color=colours[groups[label]], capsize=3)
        ax.set(title=title, xscale=scale)
        if scale == "log":  # minor-tick labels of a short log range overlap
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(axis="x", alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_yticks(y, labels, fontsize=8)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=g)
               for g, c in colours.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               title="condition group (mean, 95% bootstrap interval over sequences)",
               bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return save_figure(fig, config, name, "quantities.png")


def plot_jacobian(profiles: dict[str, np.ndarray], groups: dict[str, str], config: BenchConfig,
                  name: str) -> str:
    """Mean log sensitivity of the last token to each content position, per condition."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    styles = {g: s for g, s in zip(dict.fromkeys(groups.values()), ("-", "--", ":", "-."),
                                   strict=False)}
    for k, (label, profile) in enumerate(profiles.items()):
        ax.plot(profile, color=f"C{k}", ls=styles.get(groups[label], "-"), label=label)
    ax.set(xlabel="content position", ylabel="mean log ||d y_last / d x_s|| (probe estimate)",
           title="Jacobian profile of the last token")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="condition (line style: group)")
    return save_figure(fig, config, name, "jacobian_profiles.png")
