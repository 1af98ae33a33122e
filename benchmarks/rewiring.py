"""Section 7: rewiring. Each transform against random edges, on graph measures and on the model.

Graph part: SDRF, FoSR, BORF and GTR (``tgnn.transforms``) on a barbell, a clique path and a
causal sliding-window attention graph, measured with :func:`tgnn.benchmarks.bottlenecks.measure`
before and after, beside a random-edge baseline with the same number of added node pairs
(:mod:`tgnn.benchmarks.rewiring_random`, several seeds; causal edges on the attention graph).
Model part (:mod:`tgnn.benchmarks.rewiring_model`): the causal model on ``S`` held-out sequences
restricted to a sliding window of attention (a bottlenecked mask), then to each causal-preserving
rewiring of that window graph and to its random baselines, each turned into a 4D mask with
:func:`tgnn.graph_to_attention_mask`: next-token loss, receptive-field reach, rollout look-back and
resistances of the attention captured under the mask. Paired differences over sequences decide
whether a transform helps the model and whether it beats random edges
(:mod:`tgnn.benchmarks.rewiring_claims`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tgnn.benchmarks.bottlenecks import measure
from tgnn.benchmarks.claims import bootstrap_interval, claims_numbers, claims_table
from tgnn.benchmarks.common import load_model
from tgnn.benchmarks.pause_data import PauseLayout, held_out_windows, pause_id, with_pauses
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, md_table
from tgnn.benchmarks.rewiring_claims import rewiring_claims
from tgnn.benchmarks.rewiring_model import mask_effects
from tgnn.benchmarks.rewiring_plots import plot_graphs, plot_model
from tgnn.benchmarks.rewiring_random import added_pairs, random_rewiring
from torch_geometric.data import Data

__all__ = ["SIZES", "WINDOW", "run", "transforms"]

NAME = "rewiring"
WINDOW = 4
SIZES = {  # tokens / nodes n, edge budget, random seeds, sequences S
    "smoke": {"n": 12, "budget": 2, "seeds": 2, "S": 2},
    "quick": {"n": 32, "budget": 8, "seeds": 4, "S": 16},
    "full": {"n": 96, "budget": 24, "seeds": 8, "S": 32},
}


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


def _random_measures(base: Data, pairs: int, seeds: list[int]) -> dict[str, Any]:
    """Spectral gap and total resistance of random rewirings (one per seed), with intervals."""
    from tgnn import metrics

    gaps, totals = [], []
    for s in seeds:
        data = random_rewiring(base, pairs, s)
        gaps.append(metrics.spectral_gap(data))
        totals.append(metrics.total_effective_resistance(data))
    out: dict[str, Any] = {"random_gap_all": gaps, "random_total_R_all": totals}
    for key, values in (("gap", gaps), ("total_R", totals)):
        if len(values) > 1:
            mean, low, high = bootstrap_interval(values)
        else:
            mean = low = high = float(values[0])
        out.update({f"random_{key}": mean, f"random_{key}_low": low, f"random_{key}_high": high})
    return out


def _graph_rows(size: dict[str, int], seed: int) -> list[dict[str, Any]]:
    seeds = [seed * 1000 + r for r in range(size["seeds"])]
    rows = []
    for gname, base in _graphs(size["n"]).items():
        for tname, transform in {"none": None, **transforms(size["budget"], seed)}.items():
            data = base if transform is None else transform(base)
            data.name, data.kind = gname, "rewired"
            added = data.get("edge_added")
            row = {"transform": tname, **measure(data), "edges": int(data.num_edges),
                   "added": int(added.sum()) if added is not None else 0,
                   "pairs": added_pairs(data)}
            if transform is not None:
                row.update(_random_measures(base, row["pairs"], seeds))
                row["beats_random_total_R"] = row["total_R"] < row["random_total_R_low"]
                row["beats_random_gap"] = row["spectral_gap"] > row["random_gap_high"]
            rows.append(row)
    return rows


def _with_sink(n: int) -> Data:
    """The causal window graph with every query also reading token 0 (StreamingLLM's sink)."""
    from tgnn import attention_to_data
    from tgnn.graphs import sliding_window

    allowed = (sliding_window(n, WINDOW) > 0).double()
    allowed[:, 0] = 1.0
    return attention_to_data(allowed / allowed.sum(1, keepdim=True))


def _allowed(mask: torch.Tensor | None, n: int) -> int:
    """Query-key pairs a mask allows (the model's own causal mask when ``None``)."""
    return n * (n + 1) // 2 if mask is None else int((mask[0, 0] == 0).sum())


def _model_part(config: BenchConfig, size: dict[str, int]
                ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, int]]:
    """Per-sequence effects of every mask (with ``allowed``, its allowed pairs), random
    baselines averaged over seeds per sequence; and the pairs each transform added."""
    from tgnn import attention_to_data, graph_to_attention_mask
    from tgnn.graphs import sliding_window

    n = size["n"]
    model, tok = load_model(config.model)
    windows = held_out_windows(tok, n - 1, size["S"], config.seed)
    ids = with_pauses(windows, PauseLayout(n - 1), pause_id(tok))
    base = attention_to_data(sliding_window(n, WINDOW))
    def effect(graph: Data | None) -> dict[str, Any]:
        mask = None if graph is None else graph_to_attention_mask(graph)
        return {**mask_effects(model, ids, mask), "allowed": _allowed(mask, n)}

    effects = {"full causal (no mask)": effect(None), f"window w={WINDOW}": effect(base),
               "window + BOS sink": effect(_with_sink(n))}
    pairs = {}
    for tname, transform in transforms(size["budget"], config.seed).items():
        rewired = transform(base)
        pairs[tname] = added_pairs(rewired)
        effects[f"window + {tname}"] = effect(rewired)
        runs = [effect(random_rewiring(base, pairs[tname], config.seed * 1000 + r))
                for r in range(size["seeds"])]
        effects[f"window + random ({tname})"] = {q: np.mean([run[q] for run in runs], axis=0)
                                                 for q in runs[0]}
    return effects, pairs


def _ci(values: np.ndarray) -> tuple[float, float, float]:
    if len(values) < 2 or not np.all(np.isfinite(values)):
        return (float("nan"),) * 3
    return bootstrap_interval(values)


def _model_rows(effects: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    window = effects[f"window w={WINDOW}"]
    rows = []
    for label, values in effects.items():
        row: dict[str, Any] = {"mask": label, "allowed_pairs": values["allowed"]}
        for q in ("loss", "reach", "lookback", "R_abs"):
            row[q], row[f"{q}_low"], row[f"{q}_high"] = _ci(values[q])
        row["d_loss"], row["d_loss_low"], row["d_loss_high"] = _ci(values["loss"] - window["loss"])
        tname = label.removeprefix("window + ")
        random = effects.get(f"window + random ({tname})")
        if random is not None:
            diff = values["loss"] - random["loss"]
            row["vs_random"], row["vs_random_low"], row["vs_random_high"] = _ci(diff)
        finite = np.isfinite(values["R_roll"])
        row["R_roll_finite"] = f"{int(finite.sum())}/{len(finite)}"
        row["R_roll_median"] = float(np.median(values["R_roll"]))
        rows.append(row)
    return rows


def run(config: BenchConfig) -> ExperimentResult:
    """Graph measures and the masked-model effect of each transform, against random edges."""
    size = SIZES["smoke" if config.smoke else "quick" if config.quick else "full"]
    n, budget = size["n"], size["budget"]
    graph_rows = _graph_rows(size, config.seed)
    effects, pairs = _model_part(config, size)
    model_rows = _model_rows(effects)
    claims = rewiring_claims(graph_rows, model_rows, size)
    text = (f"Budget: {budget} edges (SDRF iterations; BORF {max(1, budget // 4)} batches). "
            "`added`: edge entries flagged `edge_added` (two per undirected pair, one per causal "
            "pair); `pairs`: node pairs added. Random baseline: as many pairs added uniformly "
            f"among unconnected pairs ({size['seeds']} seeds; causal on the window graph), "
            "interval over seeds. Graph measures (as in section 1):\n\n"
            + md_table(graph_rows, ["graph", "transform", "edges", "pairs", "spectral_gap",
                                    "random_gap", "total_R", "random_total_R",
                                    "random_total_R_low", "random_total_R_high",
                                    "beats_random_total_R", "max_R", "bfc_min", "orc_min",
                                    "R_abs"])
            + f"\nModel `{config.model}` on {size['S']} held-out sequences of {n} tokens under "
            f"each mask (causal-preserving rewirings of the window graph, w = {WINDOW}; "
            "`window + random (T)`: as many random causal pairs as T added, averaged over seeds "
            "per sequence). `d_loss`: paired loss change against the window alone, `vs_random`: "
            "against the random baseline, 95% bootstrap intervals over sequences. `reach`: share "
            "of tokens in the last token's receptive field after the model's layers; "
            "`lookback`: rollout-weighted mean distance the last token reads back; `R_abs`: "
            "token 1 to the last token. `R_roll(0, n-1)` is finite only in the sequences "
            "counted: a masked-out key gets exactly zero attention, so the rollout follows "
            "paths of at most L hops of the mask graph, and the window's last token reaches back "
            f"only L (w - 1) = {4 * (WINDOW - 1)} tokens (under-reaching, not a numerical "
            "failure); `reach` and `R_abs` are the finite measures.\n\n"
            + md_table(model_rows, ["mask", "allowed_pairs", "loss", "d_loss", "d_loss_low",
                                    "d_loss_high",
                                    "vs_random", "vs_random_low", "vs_random_high", "reach",
                                    "lookback", "R_abs", "R_roll_finite"])
            + "\n**Claims.**\n\n" + claims_table(claims))
    figures = [plot_graphs(graph_rows, config, NAME), plot_model(model_rows, config, NAME)]
    numbers = {"graphs": graph_rows, "model": model_rows, "pairs": pairs, "size": size,
               "per_sequence": effects, "claims": claims_numbers(claims)}
    return ExperimentResult(NAME, "Rewiring: graph measures and model effect", numbers,
                            figures, text)

