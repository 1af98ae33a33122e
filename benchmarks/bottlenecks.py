"""Section 1: bottleneck measures of GNN graph families beside transformer attention graphs.

Every graph is measured the same way: undirected measures on ``(W + W^T) / 2`` (spectral gap of
the normalised Laplacian, Cheeger bounds, total and max effective resistance, first-to-last
commute time, balanced Forman and Ollivier-Ricci curvature where ``tgnn.metrics`` offers them),
the first-to-last rollout resistance ``R^roll_4(0, n-1)`` (the graph's row-normalised matrix
repeated over 4 layers with residual share 1/2, or a model's real layer stack), and for causal
attention the causal resistances ``R^abs``, ``R^Y`` and ``R^G`` between the first and last token.

Comparable scales. GNN graphs have unit edge weights (mean weighted degree ``2|E|/n``, 2 for a
path, 4 inside a grid), attention graphs are row-stochastic (weights about ``1/n``, mean
weighted degree ``1 - mean_i A[i, i]`` after symmetrisation), and a resistance scales as
1 / weight, so raw resistances of the two kinds are not comparable. Every graph is therefore
also measured rescaled to mean weighted degree 1: ``W' = W / dbar``, ``dbar = sum_ij W_ij / n``
(symmetrised, self-loops dropped, as the Laplacian sees it), so ``R'(i, j) = dbar R(i, j)``.
Since ``vol(G) = n dbar``, ``R'(i, j) = C(i, j) / n``, the commute time per node (Chandra et
al. 1989, ``C = vol R``): a property of the random walk on the graph, unchanged when all the
weights are multiplied by one constant. The raw values stay in the rows (``total_R``,
``max_R``); the ``*_unit`` columns are the rescaled ones.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tgnn.benchmarks.bottleneck_claims import section_claims
from tgnn.benchmarks.claims import claims_numbers, claims_table
from tgnn.benchmarks.common import attention_stack, load_model, pyplot, sample_ids
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, md_table, save_figure
from torch_geometric.data import Data

if TYPE_CHECKING:
    from tgnn.metrics import PreparedGraph

__all__ = ["build_graphs", "measure", "run", "unit_scale"]

NAME = "bottlenecks"
DEPTH = 4  # layers of the rollout of a single graph
COLUMNS = ["graph", "kind", "n", "spectral_gap", "cheeger_lo", "cheeger_hi", "total_R", "max_R",
           "mean_degree", "mean_R_unit", "max_R_unit", "commute_first_last", "bfc_min",
           "bfc_mean", "orc_min", "orc_mean", "R_roll", "R_abs", "R_ysl", "R_group"]


def _attention_graph(matrix: np.ndarray, name: str) -> Data:
    from tgnn import attention_to_data

    data = attention_to_data(torch.as_tensor(matrix, dtype=torch.float64))
    data.name = name
    return data


def _gnn_graphs(n: int) -> list[Data]:
    from tgnn import graphs

    side = max(2, round(math.sqrt(n)))
    made = [graphs.path_graph(n), graphs.ring_graph(n), graphs.grid_graph(side, side),
            graphs.binary_tree(max(2, int(math.log2(n)))), graphs.barbell_graph(max(3, n // 3), 2),
            graphs.clique_path(max(2, n // 4), 4)]
    for data, name in zip(made, ["path", "ring", "grid", "tree", "barbell", "clique-path"],
                          strict=True):
        data.name, data.kind = name, "GNN"
    return made


def _model_graphs(model_name: str, n: int, layers: list[int]) -> list[Data]:
    from tgnn import attention_to_unrolled

    model, tok = load_model(model_name)
    stack = attention_stack(model, sample_ids(tok, n))
    short = "MiniLM" if model_name == "minilm" else model_name
    out = [_attention_graph(stack[layer], f"{short} layer {layer}") for layer in layers]
    unrolled = attention_to_unrolled(torch.as_tensor(stack), rho=0.5)
    unrolled.name = f"{short} unrolled ({len(stack)} layers)"
    unrolled.stack = stack
    return [*out, unrolled]


def build_graphs(n: int, n_gnn: int, model_layers: bool = True,
                 causal_model: str = "tgnn-gpt2-tiny") -> list[Data]:
    """The graphs of the table: GNN families, synthetic attention and (optionally) model layers."""
    from tgnn import attention_to_unrolled, graphs

    synthetic = {
        "uniform causal": graphs.uniform_causal(n),
        "sliding window (w=4)": graphs.sliding_window(n, 4),
        "sink (p=0.3)": graphs.sink_mixture(n, 0.3),
        "pause tokens (2+2)": graphs.pause_tokens(n, num_start=2, num_end=2),
    }
    out = _gnn_graphs(n_gnn)
    out += [_attention_graph(m.numpy(), name) for name, m in synthetic.items()]
    unrolled = attention_to_unrolled(graphs.uniform_causal(n).expand(DEPTH, n, n), rho=0.5)
    unrolled.name = f"uniform causal unrolled ({DEPTH} layers)"
    out.append(unrolled)
    if model_layers:
        out += _model_graphs("minilm", n, [0, 5])
        out += _model_graphs(causal_model, n, [0, 3])
    for data in out:
        if not hasattr(data, "kind") or data.kind is None:
            data.kind = "attention"
    return out


def _row_stochastic(data: Data) -> np.ndarray:
    from tgnn import to_dense_attention

    dense = to_dense_attention(data).double().numpy()
    return dense / np.maximum(dense.sum(1, keepdims=True), 1e-300)


def _curvatures(data: Data) -> dict[str, float]:
    """Min and mean curvature over the edges of the graph's pattern (unit lengths: attention
    weights are strengths, and Ollivier-Ricci would read them as lengths)."""
    from tgnn.metrics import balanced_forman_curvature, ollivier_ricci_curvature, prepare

    out: dict[str, float] = {}
    pattern = prepare(data.edge_index, None, int(data.num_nodes))  # validated once for both
    for key, fn in (("bfc", balanced_forman_curvature), ("orc", ollivier_ricci_curvature)):
        values = np.asarray(fn(pattern, symmetrize="max"), dtype=float).ravel()
        values = values[np.isfinite(values)]
        if values.size:
            out[f"{key}_min"], out[f"{key}_mean"] = float(values.min()), float(values.mean())
    return out


def _causal(data: Data, matrix: np.ndarray) -> dict[str, float]:
    from tgnn.theory.absorbing import absorbing_resistance
    from tgnn.theory.group_inverse import group_inverse_resistance
    from tgnn.theory.ysl import ysl_resistance

    n = len(matrix)
    return {"R_abs": float(absorbing_resistance(matrix, target=n - 1)[0]),
            "R_ysl": float(ysl_resistance(matrix)[0, n - 1]),
            "R_group": float(group_inverse_resistance(matrix)[0, n - 1])}


def unit_scale(data: Data | PreparedGraph, total_R: float, max_R: float) -> dict[str, float]:
    """Resistances of ``data`` rescaled to mean weighted degree 1 (module docstring).

    Returns ``mean_degree`` (``dbar``), ``total_R_unit = dbar Kf``, ``mean_R_unit`` (that over
    the ``n (n - 1) / 2`` pairs: the mean pairwise resistance, comparable across sizes) and
    ``max_R_unit = dbar max R``.
    """
    from tgnn.metrics import prepare

    n = int(data.num_nodes)
    degree = float(prepare(data).adjacency("mean").sum()) / n
    pairs = max(n * (n - 1) / 2, 1.0)
    return {"mean_degree": degree, "total_R_unit": total_R * degree,
            "mean_R_unit": total_R * degree / pairs, "max_R_unit": max_R * degree}


def measure(data: Data) -> dict[str, Any]:
    """All the table's measures of one graph (``n/a`` where a measure does not apply)."""
    from tgnn.theory.rollout import rollout_resistance

    from tgnn import metrics

    n = int(data.num_nodes)
    row: dict[str, Any] = {"graph": data.name, "kind": data.kind, "n": n}
    graph = metrics.prepare(data)  # validated once; one eigendecomposition, one pseudo-inverse
    row["spectral_gap"] = metrics.spectral_gap(graph)
    row["cheeger_lo"], row["cheeger_hi"] = metrics.cheeger_bounds(graph)
    R = metrics.effective_resistance(graph).numpy()
    row["total_R"] = metrics.total_effective_resistance(graph)
    row["max_R"] = float(R.max())
    row.update(unit_scale(graph, row["total_R"], row["max_R"]))
    row["commute_first_last"] = float(metrics.commute_time(graph,
                                                           pairs=np.array([[0], [n - 1]]))[0])
    row.update(_curvatures(data))
    stack = data.get("stack")
    if data.get("rho") is not None:  # unrolled: the rollout of the model's own layer stack
        if stack is not None:
            causal = bool(np.allclose(np.triu(stack, 1), 0))
            row["R_roll"] = float(rollout_resistance(list(stack), rho=0.5, target=-1,
                                                     causal=causal)[0])
        return row
    causal = bool(data.get("is_causal"))
    matrix = _row_stochastic(data)
    row["R_roll"] = float(rollout_resistance([matrix] * DEPTH, rho=0.5, target=n - 1,
                                             causal=causal)[0])
    if causal:
        row.update(_causal(data, matrix))
    return row


def _plot(rows: list[dict[str, Any]], config: BenchConfig) -> str:
    """Gap against unit-scale resistance; each graph a marker named in the legend (no text on
    the axes, so nothing overlaps), colour by kind."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 5))
    markers = "osD^v<>PXph*"
    for k, row in enumerate(rows):
        color = "tab:blue" if row["kind"] == "GNN" else "tab:red"
        ax.scatter(row["spectral_gap"], row["mean_R_unit"], color=color, s=40,
                   marker=markers[k % len(markers)], label=f"{row['graph']} ({row['kind']})")
    ax.set(xscale="log", yscale="log", xlabel="spectral gap (normalised Laplacian)",
           ylabel="mean pairwise resistance at mean weighted degree 1",
           title="GNN families (blue) and attention graphs (red)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return save_figure(fig, config, NAME, "gap_vs_resistance.png")


def run(config: BenchConfig) -> ExperimentResult:
    """Build and measure every graph, write the table and the gap-resistance plot."""
    n = 12 if config.smoke else 32 if config.quick else 128
    graphs = build_graphs(n, 12 if config.smoke else 16 if config.quick else 64,
                          model_layers=not config.smoke, causal_model=config.model)
    rows = [measure(g) for g in graphs]
    claims = section_claims(rows)
    notes: list[str] = []
    text = (f"n = {n} tokens for attention graphs, {rows[0]['n']} nodes for path/ring. R_roll: "
            "rollout resistance R^roll(0, n-1) over 4 layers (rho = 1/2; a model's real "
            "stack for the unrolled model graphs; inf: the last node is out of reach in 4 layers). "
            "R_abs, R_ysl, R_group: causal resistances between the "
            "first and last token (causal graphs only). bfc, orc: balanced Forman and "
            "Ollivier-Ricci (idleness 1/2) curvature of the symmetrised edge pattern, unit "
            "lengths. Scales: every graph is also measured rescaled to mean weighted degree 1 "
            "(W / dbar, dbar = sum of the symmetrised weights / n, self-loops dropped), so its "
            "resistances are commute times per node and GNN graphs (unit weights) and attention "
            "graphs (row-stochastic, weights ~1/n) sit on one scale: mean_degree = dbar, "
            "mean_R_unit = dbar Kf / (n(n-1)/2), max_R_unit = dbar max R; total_R and max_R are "
            "the raw values (results.json also has total_R_unit).\n\n" + md_table(rows, COLUMNS)
            + "\n**Claims.**\n\n" + claims_table(claims))
    return ExperimentResult(NAME, "Bottleneck table: GNN families beside attention graphs",
                            {"n": n, "rows": rows, "claims": claims_numbers(claims)},
                            [_plot(rows, config)], text, notes)
