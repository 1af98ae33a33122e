"""Per-sequence measurements of one condition of section 6, and their summaries over sequences.

A :class:`Condition` is a model run on ``S`` sequences laid out by a
:class:`~tgnn.benchmarks.pause_data.PauseLayout` (optionally under a 4D attention mask).
:func:`measure` returns one value per sequence of:

* ``loss``: mean next-token cross-entropy (nats) over the content, ``c_j -> c_{j+1}`` for
  ``j < m`` (end pauses cannot change it: causal);
* ``last_loss``: cross-entropy of the last token of the sequence predicting ``c_{m+1}`` (the
  token that predicts the next one: the last pause when pauses come at the end);
* ``sink_mass_0``: layer- and head-averaged sink mass of position 0,
  ``alpha_0 = mean_{t >= 0} A[t, 0]`` (Gu et al. 2024; :func:`tgnn.metrics.sink_mass`);
* ``R_roll``: rollout resistance ``1 / Phi_L[last, c_1]`` (rho = 1/2; Abnar & Zuidema 2020) and
  ``R_abs``: absorbing resistance from the first content token to the last token on the
  layer-averaged attention (``tgnn.theory``; NaN where assumption H fails, e.g. a masked sink);
* ``nn_distance``: the last token's sharpness (Lee 2025, suggested experiment 2): the distance of
  its final hidden state to the nearest other sequence's, over the mean norm
  (:func:`nearest_neighbour_distance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tgnn.benchmarks.claims import bootstrap_interval
from tgnn.benchmarks.pause_data import PauseLayout

from tgnn.errors import ShapeError

__all__ = [
    "QUANTITIES",
    "Condition",
    "batched_attention",
    "jacobian_profile",
    "measure",
    "nearest_neighbour_distance",
    "resistances",
    "summarise",
]

QUANTITIES = ("loss", "last_loss", "sink_mass_0", "R_roll", "R_abs", "nn_distance")


@dataclass
class Condition:
    """One model on ``ids`` ``[S, n]`` laid out by ``layout``; ``targets`` ``[S]`` is
    ``c_{m+1}``; ``mask`` an optional additive ``[1, 1, n, n]`` mask; ``group`` its plot colour."""

    label: str
    model: Any
    ids: torch.Tensor
    layout: PauseLayout
    targets: torch.Tensor
    group: str
    mask: torch.Tensor | None = None


def nearest_neighbour_distance(hidden: torch.Tensor | np.ndarray) -> np.ndarray:
    r"""Distance of each row to its nearest other row, over the mean row norm.

    ``d_i = min_{j != i} ||h_i - h_j|| / ((1 / S) sum_k ||h_k||)``: scale-free, so models and
    conditions with different hidden-state norms compare. Small ``d_i``: sequence ``i``'s
    representation is close to another's (less sharp). ``O(S^2 d)``.

    Examples
    --------
    >>> nearest_neighbour_distance(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 2.0]])).round(3)
    array([1.061, 0.75 , 0.75 ])
    """
    h = np.asarray(hidden, dtype=np.float64)
    if h.ndim != 2 or h.shape[0] < 2:
        raise ShapeError(f"hidden: expected [S >= 2, d], got shape {h.shape}")
    gram = h @ h.T
    sq = np.diag(gram)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * gram, 0.0))
    np.fill_diagonal(dist, np.inf)
    return dist.min(axis=1) / np.linalg.norm(h, axis=1).mean()


def batched_attention(model: Any, ids: torch.Tensor, mask: torch.Tensor | None = None
                      ) -> np.ndarray:
    """``[L, S, n, n]`` head-averaged attention of every layer for ``ids`` ``[S, n]`` (tgnn
    capture, one forward); ``mask``: an additive ``[1, 1, n, n]`` mask shared by the batch."""
    from tgnn import capture_attention

    full = torch.ones_like(ids) if mask is None else mask.expand(ids.shape[0], 1, -1, -1)
    with torch.no_grad():
        layers = [item.weights.double().mean(1).numpy() for item in
                  capture_attention(model, {"input_ids": ids, "attention_mask": full})]
    return np.stack(layers)


def resistances(stack: np.ndarray, first: int, last: int) -> tuple[float, float]:
    """``(R_roll, R_abs)`` from token ``first`` to token ``last`` of a layer stack ``[L, n, n]``."""
    from tgnn.theory.absorbing import absorbing_resistance
    from tgnn.theory.rollout import rollout_resistance

    from tgnn.errors import NotReachableError

    r_roll = float(rollout_resistance(list(stack), rho=0.5, target=last)[first])
    mean = stack.mean(0)
    try:
        r_abs = float(absorbing_resistance(mean / mean.sum(1, keepdims=True), target=last)[first])
    except NotReachableError:  # a masked-out sink: token 0 unreachable (assumption H fails)
        r_abs = float("nan")
    return r_roll, r_abs


def measure(cond: Condition) -> dict[str, np.ndarray]:
    """The per-sequence quantities of :data:`QUANTITIES` (each ``[S]``) and ``hidden``
    (``[S, d]``, the last token's final hidden state)."""
    from tgnn.metrics import sink_mass

    lay = cond.layout
    with torch.no_grad():
        out = cond.model(input_ids=cond.ids, attention_mask=cond.mask, output_hidden_states=True)
    logp = torch.log_softmax(out.logits.double(), dim=-1)
    src, dst = lay.content[:-1], lay.content[1:]
    picked = logp[:, src].gather(-1, cond.ids[:, dst, None])[..., 0]
    last = logp[:, lay.last].gather(-1, cond.targets[:, None])[:, 0]
    stack = batched_attention(cond.model, cond.ids, cond.mask)
    pairs = [resistances(stack[:, s], lay.first, lay.last) for s in range(stack.shape[1])]
    hidden = out.hidden_states[-1][:, lay.last].double()
    return {"loss": (-picked.mean(1)).numpy(), "last_loss": (-last).numpy(),
            "sink_mass_0": np.array([float(sink_mass(torch.as_tensor(stack[:, s]))[:, 0].mean())
                                     for s in range(stack.shape[1])]),
            "R_roll": np.array([p[0] for p in pairs]), "R_abs": np.array([p[1] for p in pairs]),
            "nn_distance": nearest_neighbour_distance(hidden), "hidden": hidden.numpy()}


def jacobian_profile(cond: Condition, count: int, probes: int = 8) -> np.ndarray:
    """Mean over the first ``count`` sequences of ``log ||d y_last / d x_s||`` over content
    ``s``: a random-probe estimate (:func:`tgnn.metrics.sensitivity_estimates.probe_sensitivity`,
    ``probes`` vector-Jacobian products per sequence instead of ``d``)."""
    from tgnn.metrics.sensitivity_estimates import probe_sensitivity

    logs = []
    for s in range(min(count, cond.ids.shape[0])):
        est = probe_sensitivity(cond.model, cond.ids[s : s + 1], targets=[cond.layout.last],
                                num_probes=probes, seed=s)
        value = est.value[-1, 0].double().numpy()[cond.layout.content]
        logs.append(np.log(np.maximum(value, 1e-300)))
    return np.mean(logs, axis=0)


def _interval(values: np.ndarray) -> dict[str, Any]:
    """Mean with its 95% bootstrap interval over sequences, or n/a with the reason."""
    ok = np.isfinite(values)
    if ok.sum() < len(values) or len(values) < 2:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"),
                "finite": int(ok.sum())}
    mean, low, high = bootstrap_interval(values)
    return {"mean": mean, "low": low, "high": high, "finite": int(ok.sum())}


def summarise(per_seq: dict[str, dict[str, np.ndarray]], baseline: str,
              pairs: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Rows ``{condition, quantity, mean, low, high, vs, diff, diff_low, diff_high}``.

    ``diff`` is the mean paired difference (same sequences) against the reference condition
    ``pairs.get(condition, baseline)``, with its 95% bootstrap interval over sequences; NaN
    where a value is not finite (the ``finite`` column counts the finite ones).
    """
    rows = []
    for label, values in per_seq.items():
        ref = (pairs or {}).get(label, baseline)
        for q in QUANTITIES:
            row = {"condition": label, "quantity": q, **_interval(values[q])}
            if label != ref:
                diff = _interval(values[q] - per_seq[ref][q])
                row.update(vs=ref, diff=diff["mean"], diff_low=diff["low"],
                           diff_high=diff["high"])
            rows.append(row)
    return rows
