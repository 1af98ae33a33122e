"""Batched Jacobian sensitivity (torch.func vjp + vmap) against a loop of backward passes.

Run: ``python -m tgnn.benchmarks.perf_sensitivity [--full]``. Both compute
``||d y_i^(L) / d x_s||_F`` for every source ``s`` of the last target ``i`` at ``n = 256``
(``d`` backward passes for the loop). Times are best-of-k wall seconds in this process. In quick
mode the loop's time is extrapolated from its first ``QUICK_LOOP`` backward passes (each pass
costs the same: one pullback through the same graph); ``--full`` times the whole loop.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import torch
from tgnn.benchmarks.timing import best_of, speed_row

__all__ = ["run"]

GOAL = 5.0
N = 256
QUICK_LOOP = 16


def _model(name: str, n: int) -> tuple[Any, torch.Tensor]:
    from tgnn.models import load, random_config_model

    if name == "gpt2-random-d32":
        model, _ = random_config_model("gpt2", seed=0, n_layer=2, hidden=32, n_head=4)
    else:
        model, _ = load(name)
    ids = torch.randint(3, 90, (1, n), generator=torch.Generator().manual_seed(0))
    return model, ids


def _loop_seconds(model: Any, ids: torch.Tensor, outputs: int | None) -> tuple[float, int]:
    """Wall time of the backward loop over the first ``outputs`` coordinates (all if None)."""
    from tgnn.metrics.sensitivity import _frozen

    x = model.get_input_embeddings()(ids[0]).detach().requires_grad_(True)
    with _frozen(model):
        y = model.base_model(inputs_embeds=x[None]).last_hidden_state[0, -1]
        k = y.shape[0] if outputs is None else min(outputs, y.shape[0])
        start = time.perf_counter()
        for j in range(k):
            torch.autograd.grad(y[j], x, retain_graph=True)
        return time.perf_counter() - start, int(y.shape[0])


def time_ratio(name: str, quick: bool, n: int = N) -> dict[str, Any]:
    """Batched sensitivity of the last token against the backward loop (goal only at n = 256)."""
    from tgnn.metrics.sensitivity import jacobian_sensitivity

    model, ids = _model(name, n)
    ours = best_of(lambda: jacobian_sensitivity(model, ids, targets=[n - 1]), 1 if quick else 3)
    loop_s, d = _loop_seconds(model, ids, QUICK_LOOP if quick else None)
    anchor = loop_s * d / min(QUICK_LOOP, d) if quick else loop_s
    ratio = anchor / ours
    goal = f">= {GOAL:g}x the backward loop" if n == N else "context (no goal)"
    return speed_row(f"sensitivity of token {n - 1} to all sources, {name}, n={n}, d={d}",
                     ours, anchor, goal, ratio >= GOAL if n == N else None,
                     anchor_extrapolated=quick)


def run(quick: bool = True) -> dict[str, Any]:
    """Figures: one speed row per model (``name, ours_s, anchor_s, ratio, goal, met``)."""
    torch.manual_seed(0)
    rows = [time_ratio(name, quick) for name in ("gpt2-random-d32", "tgnn-gpt2-tiny")]
    rows.append(time_ratio("gpt2-random-d32", quick, n=32))
    return {"name": "perf_sensitivity", "threads": torch.get_num_threads(), "rows": rows}


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(quick="--full" not in sys.argv), indent=1))
