"""Section 7: rewiring. Each transform's effect on the graph measures and, via masks, on the model.

Graph part: SDRF, FoSR, BORF and GTR (``tgnn.transforms``) on a barbell, a clique path and a
causal sliding-window attention graph, measured with :func:`tgnn.benchmarks.bottlenecks.measure`
before and after (the sink node and pause tokens are in section 6).
Model part: the causal model restricted to a sliding window of attention (a bottlenecked mask),
then to each causal-preserving rewiring of that window graph, turned into a 4D mask with
:func:`tgnn.graph_to_attention_mask`: next-token loss and, from the attention captured under the
mask, the rollout resistance ``R^roll`` (rho = 1/2) from the first to the last token.
"""

from __future__ import annotations

from typing import Any

import torch
from tgnn.benchmarks.bottlenecks import measure
from tgnn.benchmarks.common import attention_stack, causal_lm_loss, load_model, pyplot, sample_ids
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, md_table, save_figure
from torch_geometric.data import Data

__all__ = ["run", "transforms"]

NAME = "rewiring"
WINDOW = 4


def transforms(budget: int, seed: int) -> dict[str, Any]:
    """The rewiring transforms with ``budget`` edges / iterations each."""
    from tgnn.transforms import BORF, GTR, SDRF, FoSR

    return {"SDRF": SDRF(num_iterations=budget, seed=seed), "FoSR": FoSR(num_edges=budget,
            seed=seed), "BORF": BORF(num_iterations=max(1, budget // 4)),
            "GTR": GTR(num_edges=budget)}


def _graphs(n: int) -> dict[str, Data]:
    from tgnn import attention_to_data, graphs

    return {"barbell": graphs.barbell_graph(max(3, n // 3), 2),
            "clique-path": graphs.clique_path(max(2, n // 4), 4),
            f"sliding window (w={WINDOW})": attention_to_data(graphs.sliding_window(n, WINDOW))}


def _graph_rows(n: int, budget: int, seed: int) -> list[dict[str, Any]]:
    rows = []
    for gname, base in _graphs(n).items():
        for tname, transform in {"none": None, **transforms(budget, seed)}.items():
            data = base if transform is None else transform(base)
            data.name, data.kind = gname, "rewired"
            added = data.get("edge_added")
            row = {"transform": tname, **measure(data), "edges": int(data.num_edges),
                   "added": int(added.sum()) if added is not None else 0}
            rows.append(row)
    return rows


def _model_rows(config: BenchConfig, n: int, budget: int) -> list[dict[str, Any]]:
    from tgnn.theory.rollout import rollout_resistance

    from tgnn import attention_to_data, graph_to_attention_mask
    from tgnn.graphs import sliding_window

    model, tok = load_model(config.model)
    ids = sample_ids(tok, n, config.seed)
    base = attention_to_data(sliding_window(n, WINDOW))
    masks: dict[str, torch.Tensor | None] = {"full causal (no mask)": None,
                                             f"window w={WINDOW}": graph_to_attention_mask(base)}
    for tname, transform in transforms(budget, config.seed).items():
        masks[f"window + {tname}"] = graph_to_attention_mask(transform(base))
    rows = []
    for label, mask in masks.items():
        stack = attention_stack(model, ids, mask)
        rows.append({"mask": label, "loss": causal_lm_loss(model, ids, attention_mask=mask),
                     "R_roll": float(rollout_resistance(list(stack), rho=0.5, target=-1)[0]),
                     "allowed_pairs": int(n * (n + 1) // 2 if mask is None else
                                          (mask[0, 0] == 0).sum())})
    return rows


def _plot(rows: list[dict[str, Any]], config: BenchConfig) -> str:
    plt = pyplot()
    names = list(dict.fromkeys(r["graph"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        sel = [r for r in rows if r["graph"] == name]
        ax.bar([r["transform"] for r in sel], [r["total_R"] for r in sel])
        ax.set(title=name, ylabel="total effective resistance")
    return save_figure(fig, config, NAME, "total_resistance.png")


def run(config: BenchConfig) -> ExperimentResult:
    """Graph measures before/after each transform, and the masked-model effect."""
    n, budget = (12, 2) if config.smoke else (32, 8) if config.quick else (96, 24)
    graph_rows = _graph_rows(n, budget, config.seed)
    model_rows = _model_rows(config, n, budget)
    text = (f"Budget: {budget} edges (SDRF iterations; BORF {max(1, budget // 4)} batches). "
            "`added`: edge entries flagged `edge_added` (two per undirected pair, one per causal "
            "pair). Graph measures (as in section 1):\n\n"
            + md_table(graph_rows, ["graph", "transform", "edges", "added", "spectral_gap",
                                    "total_R", "max_R", "bfc_min", "orc_min", "R_roll",
                                    "R_abs"])
            + f"\nModel `{config.model}` on {n} tokens under each mask (causal-preserving "
            "rewiring of the window graph): next-token loss and R^roll(0, n-1) of the attention "
            "captured under the mask.\n\n"
            + md_table(model_rows, ["mask", "allowed_pairs", "loss", "R_roll"]))
    return ExperimentResult(NAME, "Rewiring: graph measures and model effect",
                            {"graphs": graph_rows, "model": model_rows},
                            [_plot(graph_rows, config)], text)
