"""Section 6: attention sinks and pause tokens (the checks Lee 2025 proposes), over many sequences.

Model part, on ``S`` disjoint held-out windows of ``m`` content characters
(:mod:`tgnn.benchmarks.pause_data`): the tiny GPT-2 with its BOS (the baseline); ``k`` untrained
pause tokens at the start, the end, or both; the BOS key masked out for every later query (a 4D
mask from :func:`tgnn.graph_to_attention_mask`); the no-BOS twin; and a short fine-tune with
``k`` pauses at both ends beside its control, fine-tuned identically without pauses
(:mod:`tgnn.benchmarks.pause_finetune`). Per condition and sequence the quantities of
:mod:`tgnn.benchmarks.sinks_measure` (content loss, last-token loss, sink mass of position 0,
``R^roll`` and ``R^abs`` from the first content token to the last token, last-token sharpness);
means with 95% bootstrap intervals over sequences, and paired differences (same sequences)
against the BOS baseline (the trained pauses against their control), which decide the verdicts
(:mod:`tgnn.benchmarks.sinks_claims`). The Jacobian profile of the last token is a random-probe
estimate on the first sequences.
Graph part: the same resistances on uniform causal attention with
:class:`tgnn.transforms.AddSinkNode` and :class:`tgnn.transforms.AddPauseTokens`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tgnn.benchmarks.claims import claims_numbers, claims_table
from tgnn.benchmarks.common import load_model
from tgnn.benchmarks.pause_data import PauseLayout, held_out_windows, pause_id, with_pauses
from tgnn.benchmarks.pause_finetune import finetune
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, md_table
from tgnn.benchmarks.sinks_claims import sinks_claims
from tgnn.benchmarks.sinks_measure import (
    Condition,
    jacobian_profile,
    measure,
    resistances,
    summarise,
)
from tgnn.benchmarks.sinks_plots import plot_jacobian, plot_quantities

__all__ = ["SIZES", "conditions", "graph_rows", "run"]

NAME = "sinks_pause"
BASELINE = "BOS"
SIZES = {  # sequences S, content m, pauses k, fine-tune steps and batch, Jacobian sequences
    "smoke": {"S": 2, "m": 10, "k": 2, "steps": 2, "batch": 2, "jac": 1},
    "quick": {"S": 32, "m": 32, "k": 4, "steps": 60, "batch": 16, "jac": 2},
    "full": {"S": 32, "m": 128, "k": 8, "steps": 100, "batch": 16, "jac": 2},
}


def _sink_masked(n: int) -> torch.Tensor:
    """Additive mask of causal attention with key 0 hidden from every query ``t >= 1``."""
    from tgnn import attention_to_data, graph_to_attention_mask

    allowed = torch.tril(torch.ones(n, n, dtype=torch.float64))
    allowed[1:, 0] = 0.0
    return graph_to_attention_mask(attention_to_data(allowed / allowed.sum(1, keepdim=True)))


def conditions(model_name: str, size: dict[str, int], seed: int
               ) -> tuple[list[Condition], list[str]]:
    """The model conditions of the section (``BOS`` first) and notes on what is missing."""
    model, tok = load_model(model_name)
    m, k, count = size["m"], size["k"], size["S"]
    windows, pause = held_out_windows(tok, m, count, seed), pause_id(tok)
    targets = windows[:, -1]

    def make(label: str, net: Any, start: int, end: int, group: str, bos: bool = True,
             mask: bool = False) -> Condition:
        lay = PauseLayout(m, start, end, bos)
        return Condition(label, net, with_pauses(windows, lay, pause) if bos else windows[:, :-1],
                         lay, targets, group, _sink_masked(lay.length) if mask else None)

    conds = [make(BASELINE, model, 0, 0, "baseline"),
             make(f"pause start ({k})", model, k, 0, "untrained pauses"),
             make(f"pause end ({k})", model, 0, k, "untrained pauses"),
             make(f"pause both ({k}+{k})", model, k, k, "untrained pauses"),
             make("BOS masked out", model, 0, 0, "sink removed", mask=True)]
    notes = []
    try:
        twin, twin_tok = load_model(f"{model_name}-nobos")
    except Exception as exc:  # noqa: BLE001 - the twin is optional (another model may have none)
        notes.append(f"no-BOS twin not available ({exc}); its row is missing.")
    else:
        if not torch.equal(held_out_windows(twin_tok, m, count, seed), windows):
            notes.append("the no-BOS twin's tokenizer maps characters to other ids; its row "
                         "is missing.")
        else:
            conds.append(make("no-BOS twin", twin, 0, 0, "sink removed", bos=False))
    tuned = {p: finetune(model, tok, pauses=p, m=m, steps=size["steps"], batch=size["batch"],
                         seed=seed) for p in (k, 0)}
    conds += [make(f"trained pause both ({k}+{k})", tuned[k], k, k, "fine-tuned"),
              make("fine-tune control (no pause)", tuned[0], 0, 0, "fine-tuned")]
    return conds, notes


def graph_rows(n: int, k: int) -> list[dict[str, Any]]:
    """``R_roll`` (4 layers) and ``R_abs`` from the first content node to the last node of
    uniform causal attention, with a sink node and with pause tokens."""
    from tgnn import attention_to_data, to_dense_attention
    from tgnn.graphs import uniform_causal
    from tgnn.transforms import AddPauseTokens, AddSinkNode

    base = attention_to_data(uniform_causal(n))
    variants = {"uniform causal": base, "+ sink node (p=0.2)": AddSinkNode(p=0.2)(base),
                f"+ pause start ({k})": AddPauseTokens(num_start=k)(base),
                f"+ pause end ({k})": AddPauseTokens(num_start=0, num_end=k)(base),
                f"+ pause both ({k}+{k})": AddPauseTokens(num_start=k, num_end=k)(base)}
    rows = []
    for label, data in variants.items():
        added = data.get("node_added")
        content = [i for i in range(data.num_nodes) if added is None or not bool(added[i])]
        dense = to_dense_attention(data).double().numpy()
        r_roll, r_abs = resistances(np.stack([dense] * 4), content[0], len(dense) - 1)
        rows.append({"graph": label, "R_roll": r_roll, "R_abs": r_abs})
    return rows


def _means(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per condition with the mean of every quantity (``numbers["model"]``)."""
    rows: dict[str, dict[str, Any]] = {}
    for r in summary:
        rows.setdefault(r["condition"], {"condition": r["condition"]})[r["quantity"]] = r["mean"]
    return list(rows.values())


def _table(summary: list[dict[str, Any]]) -> str:
    cols = ["condition", "quantity", "mean", "low", "high", "vs", "diff", "diff_low", "diff_high"]
    return md_table(summary, cols)


def run(config: BenchConfig) -> ExperimentResult:
    """Model conditions over sequences, graph variants, claims and the plots."""
    size = SIZES["smoke" if config.smoke else "quick" if config.quick else "full"]
    conds, notes = conditions(config.model, size, config.seed)
    per_seq = {c.label: measure(c) for c in conds}
    trained = [c.label for c in conds if c.group == "fine-tuned"]
    summary = summarise(per_seq, BASELINE, {trained[0]: trained[1]})
    profiles = {c.label: jacobian_profile(c, size["jac"], probes=2 if config.smoke else 8)
                for c in conds if c.mask is None}
    graphs = graph_rows(size["m"], size["k"])
    claims = sinks_claims(summary, per_seq, size, trained)
    k, S, m = size["k"], size["S"], size["m"]
    text = (f"{S} disjoint held-out windows of {m} characters on `{config.model}`; {k} pause "
            "tokens (`<unk>`, never an input in training) per end. Trained pauses: "
            f"{size['steps']} AdamW steps of {size['batch']} training windows with {k} pauses at "
            "both ends, loss on content tokens only (Goyal et al. 2023), beside a control "
            "fine-tuned identically without pauses. Quantities per sequence: `loss` (content "
            "next-token loss), `last_loss` (the last token predicting the next character), "
            "`sink_mass_0` (position 0), `R_roll` / `R_abs` (first content token to the last "
            "token), `nn_distance` (last token's final hidden state to the nearest other "
            "sequence's, over the mean norm: larger is sharper). Mean with 95% bootstrap "
            "interval over sequences; `diff`: paired mean difference against `vs` with its "
            "interval.\n\n" + _table(summary)
            + "\n**Claims.**\n\n" + claims_table(claims)
            + "\nSame resistances on uniform causal attention (4 layers for R_roll):\n\n"
            + md_table(graphs, ["graph", "R_roll", "R_abs"]))
    groups = {c.label: c.group for c in conds}
    figures = [plot_quantities(summary, groups, config, NAME),
               plot_jacobian(profiles, groups, config, NAME)]
    numbers = {"model": _means(summary), "summary": summary, "graphs": graphs, "size": size,
               "per_sequence": {label: {q: v for q, v in values.items() if q != "hidden"}
                                for label, values in per_seq.items()},
               "jacobian_profiles": profiles, "claims": claims_numbers(claims)}
    return ExperimentResult(NAME, "Attention sinks and pause tokens", numbers, figures, text,
                            notes)
