"""Figures of the position-bias study: averaged profiles with the predictors overlaid, and the
distribution of per-sequence Spearman correlations per predictor."""

from __future__ import annotations

from typing import Any

import numpy as np
from tgnn.benchmarks.common import pyplot
from tgnn.benchmarks.report import BenchConfig, save_figure

__all__ = ["plot_profiles", "plot_spearman"]

NAME = "position_bias"


def _shifted(curve: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The curve standardised over the sources ``s != t`` (mean 0, standard deviation 1): the
    shapes are what Spearman compares, and the scales of the predictors differ."""
    finite = np.isfinite(curve) & keep
    if not finite.any():
        return curve
    spread = curve[finite].std()
    return (curve - curve[finite].mean()) / (spread if spread > 0 else 1.0)


def plot_profiles(groups: list[dict[str, Any]], config: BenchConfig) -> str:
    """Averaged ``log S`` (black) and averaged predictor scores, each standardised."""
    plt = pyplot()
    cols = min(4, len(groups))
    rows = -(-len(groups) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    for ax, group in zip(axes.ravel(), groups, strict=False):
        profile = np.asarray(group["profile"], dtype=float)
        keep = np.arange(len(profile)) != group["target"]
        ax.plot(np.where(keep, _shifted(profile, keep), np.nan), "k-", lw=2.2, label="log S")
        for key, curve in group["predictor_profiles"].items():
            ax.plot(np.where(keep, _shifted(np.asarray(curve, dtype=float), keep), np.nan),
                    lw=1, label=key)
        ax.set(title=f"{group['model']}, n={group['n']} ({group['sequences']} seq.)",
               xlabel="source position s", ylabel="standardised log scale")
    for ax in axes.ravel()[len(groups):]:
        ax.axis("off")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    return save_figure(fig, config, NAME, "profiles.png")


def plot_spearman(groups: list[dict[str, Any]], predictors: list[str], config: BenchConfig
                  ) -> str:
    """Box plots of the per-sequence Spearman correlation, one panel per model and length."""
    plt = pyplot()
    cols = min(4, len(groups))
    rows = -(-len(groups) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
    for ax, group in zip(axes.ravel(), groups, strict=False):
        keys = [k for k in predictors if k in group["summary"]]
        data = [np.asarray(group["summary"][k]["per_sequence"], dtype=float) for k in keys]
        ax.boxplot([d[np.isfinite(d)] for d in data], showfliers=True)
        ax.set_xticks(range(1, len(keys) + 1), keys, rotation=60, fontsize=6)
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set(title=f"{group['model']}, n={group['n']}", ylabel="Spearman per sequence",
               ylim=(-1.05, 1.05))
    for ax in axes.ravel()[len(groups):]:
        ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, config, NAME, "spearman.png")
