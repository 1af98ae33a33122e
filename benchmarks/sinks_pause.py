"""Section 6: attention sinks and pause tokens (the checks Lee 2025 proposes).

Model part, on one seeded text of ``n`` content characters: the tiny GPT-2 with its BOS, its
no-BOS twin, the tiny GPT-2 with the BOS key masked out for every later query (a 4D mask from
:func:`tgnn.graph_to_attention_mask`), and ``k`` pause tokens (``_``) at the start, the end, or
both. Per condition: next-token loss over the content tokens, layer-averaged sink mass of
position 0 (``tgnn.metrics.sink_mass``), the rollout resistance ``R^roll`` (rho = 1/2) and
the absorbing resistance ``R^abs`` from the first content token to the last token of the
sequence (the one that predicts the next token: a pause token when they come at the end), and
the share of that token's Jacobian sensitivity that falls on the first content token
(``S_first / mean_content S``; not available where a 4D mask is needed).
Graph part: the same resistances on uniform causal attention with
:class:`tgnn.transforms.AddSinkNode` and :class:`tgnn.transforms.AddPauseTokens`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tgnn.benchmarks.common import (
    attention_stack,
    causal_lm_loss,
    load_model,
    pyplot,
    sample_ids,
)
from tgnn.benchmarks.report import BenchConfig, ExperimentResult, md_table, save_figure

__all__ = ["condition_inputs", "measure_condition", "run"]

NAME = "sinks_pause"
PAUSE = "_"


def _resist(stack: np.ndarray, first: int, last: int) -> dict[str, float]:
    from tgnn.theory.absorbing import absorbing_resistance
    from tgnn.theory.rollout import rollout_resistance

    mean = stack.mean(0)
    out = {"R_roll": float(rollout_resistance(list(stack), rho=0.5, target=last)[first])}
    try:
        out["R_abs"] = float(absorbing_resistance(mean / mean.sum(1, keepdims=True),
                                                  target=last)[first])
    except Exception:  # noqa: BLE001 - a masked sink breaks assumption H: report n/a
        out["R_abs"] = float("nan")
    return out


def condition_inputs(tok: Any, n: int, seed: int, start: int, end: int
                     ) -> tuple[torch.Tensor, list[int]]:
    """Sample ids with ``start`` / ``end`` pause tokens, and the content token positions."""
    ids = sample_ids(tok, n, seed)[0].tolist()
    special = set(getattr(tok, "all_special_ids", []))
    head = [i for i in ids[:1] if i in special]
    body = ids[len(head):]
    pause = int(tok(PAUSE, return_tensors="pt")["input_ids"][0, -1])
    seq = head + [pause] * start + body + [pause] * end
    first = len(head) + start
    return torch.tensor([seq]), list(range(first, first + len(body)))


def _sink_masked(n: int) -> torch.Tensor:
    from tgnn import attention_to_data, graph_to_attention_mask

    allowed = torch.tril(torch.ones(n, n, dtype=torch.float64))
    allowed[1:, 0] = 0.0
    return graph_to_attention_mask(attention_to_data(allowed / allowed.sum(1, keepdim=True)))


def measure_condition(model: Any, ids: torch.Tensor, content: list[int],
                      mask: torch.Tensor | None = None) -> dict[str, Any]:
    """Loss, sink mass, resistances and Jacobian share of one condition."""
    from tgnn.metrics import sink_mass
    from tgnn.metrics.sensitivity import jacobian_sensitivity

    stack = attention_stack(model, ids, mask)
    row: dict[str, Any] = {"loss": causal_lm_loss(model, ids, content, mask),
                           "sink_mass_0": float(sink_mass(torch.as_tensor(stack))[:, 0].mean()),
                           **_resist(stack, content[0], ids.shape[1] - 1)}
    if mask is None:
        sens = jacobian_sensitivity(model, ids, targets=[ids.shape[1] - 1])[-1, 0].double().numpy()
        row["jac_first_share"] = float(sens[content[0]] / sens[content].mean())
        row["log_sensitivity"] = np.log(np.maximum(sens[content], 1e-300)).tolist()
    return row


def _model_rows(config: BenchConfig, n: int, k: int) -> tuple[list[dict[str, Any]], list[str]]:
    model, tok = load_model(config.model)
    rows, notes = [], []
    for label, start, end in (("BOS", 0, 0), (f"pause start ({k})", k, 0),
                              (f"pause end ({k})", 0, k), (f"pause both ({k}+{k})", k, k)):
        ids, content = condition_inputs(tok, n, config.seed, start, end)
        rows.append({"condition": label, **measure_condition(model, ids, content)})
    ids, content = condition_inputs(tok, n, config.seed, 0, 0)
    rows.append({"condition": "BOS masked out",
                 **measure_condition(model, ids, content, _sink_masked(ids.shape[1]))})
    try:
        twin, twin_tok = load_model(f"{config.model}-nobos")
    except Exception as exc:  # noqa: BLE001 - the twin is optional
        notes.append(f"no-BOS twin not available ({exc}); its row is missing.")
    else:
        ids, content = condition_inputs(twin_tok, n, config.seed, 0, 0)
        rows.append({"condition": "no-BOS twin", **measure_condition(twin, ids, content)})
    return rows, notes


def _graph_rows(n: int, k: int) -> list[dict[str, Any]]:
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
        rows.append({"graph": label, **_resist(np.stack([dense] * 4), content[0], len(dense) - 1)})
    return rows


def _plot(rows: list[dict[str, Any]], config: BenchConfig) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for row in rows:
        if "log_sensitivity" in row:
            ax.plot(row["log_sensitivity"], label=row["condition"])
    ax.set(xlabel="content position", ylabel="log ||d y_last / d x_s||",
           title="Jacobian profile of the last token")
    ax.legend(fontsize=7)
    return save_figure(fig, config, NAME, "jacobian_profiles.png")


def run(config: BenchConfig) -> ExperimentResult:
    """Model conditions and graph variants; table, notes and the Jacobian-profile plot."""
    n, k = (10, 2) if config.smoke else (32, 4) if config.quick else (128, 8)
    model_rows, notes = _model_rows(config, n, k)
    graph_rows = _graph_rows(n, k)
    text = (f"{n} content characters of a seeded text on `{config.model}`; {k} pause tokens "
            f"(`{PAUSE}`, untrained). R_roll / R_abs: from the first content token to the "
            "last token of the sequence; loss: next-token loss within the content (end "
            "pauses cannot change it: causal).\n\n"
            + md_table(model_rows, ["condition", "loss", "sink_mass_0", "R_roll", "R_abs",
                                    "jac_first_share"])
            + "\nSame resistances on uniform causal attention (4 layers for R_roll):\n\n"
            + md_table(graph_rows, ["graph", "R_roll", "R_abs"]))
    return ExperimentResult(NAME, "Attention sinks and pause tokens",
                            {"model": model_rows, "graphs": graph_rows},
                            [_plot(model_rows, config)], text, notes)
