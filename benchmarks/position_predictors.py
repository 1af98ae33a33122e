r"""Predictors of the last token's sensitivity profile, from one sequence's captured forward pass.

Each predictor gives a score per source position ``s`` on a log scale, higher meaning "more
sensitive": ``-log R(s, t)`` for a resistance ``R`` to the target token ``t``, ``log Phi[t, s]``
for a rollout. The score is compared with ``log ||d y_t / d x_s||`` by Spearman correlation
over ``s != t`` (THEORY.md, prediction 1).

- ``position``: ``-|s - t|`` (graph-free baseline: recency toward the target);
- ``rollout_half``: Abnar and Zuidema (2020) attention rollout with residual 1/2,
  ``Ahat = A/2 + I/2`` on the head-averaged attention (the same ranking as ``-log R^roll``);
- ``rollout_calibrated``: rollout with the measured per-token residual share
  ``rho = |a| / (|a| + |x|)`` (THEORY.md, calibration);
- ``value_norm_rollout``: rollout 1/2 of the value-norm weighted attention
  ``A[i, j] ||f(x_j)||`` renormalised per row and head (Kobayashi et al. 2020);
- ``gain_rollout``: the first-order Jacobian path sum of
  :func:`tgnn.theory.rollout.gain_rollout_row` with the measured value-path gain per head and key;
- ``R_abs``, ``R_ysl``, ``R_group`` (causal models only) and ``R_eff`` (symmetrised effective
  resistance): resistances of the layer- and head-averaged attention graph (``tgnn.theory``,
  ``tgnn.metrics``).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["CAUSAL_ONLY", "GRAPH_FREE", "PREDICTORS", "predictor_scores"]

PREDICTORS = ("position", "rollout_half", "rollout_calibrated", "value_norm_rollout",
              "gain_rollout", "R_abs", "R_ysl", "R_eff", "R_group")
GRAPH_FREE = ("position",)
CAUSAL_ONLY = ("R_abs", "R_ysl", "R_group")


def _log(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(values, dtype=np.float64))


def _resistance_scores(mean: np.ndarray, target: int, causal: bool) -> dict[str, np.ndarray]:
    from tgnn.theory.absorbing import absorbing_resistance
    from tgnn.theory.group_inverse import group_inverse_resistance
    from tgnn.theory.ysl import ysl_resistance

    from tgnn import attention_to_data, metrics

    data = attention_to_data(torch.as_tensor(mean), is_causal=causal)
    out = {"R_eff": -_log(metrics.effective_resistance(data, source=target).numpy())}
    if causal:
        out["R_abs"] = -_log(absorbing_resistance(mean, target=target))
        out["R_ysl"] = -_log(ysl_resistance(mean)[:, target])
        out["R_group"] = -_log(group_inverse_resistance(mean)[:, target])
    return out


def predictor_scores(capture: dict[str, np.ndarray], target: int, causal: bool = True
                     ) -> dict[str, np.ndarray]:
    """Scores ``[n]`` of every predictor that applies (see the module docstring).

    ``capture`` is :func:`tgnn.benchmarks.position_models.capture_sequence`'s record;
    ``target`` the 0-based token whose sensitivity is predicted. Bidirectional models
    (``causal=False``) get no causal-only resistance (they need lower-triangular attention).
    """
    from tgnn.theory.rollout import gain_rollout_row, rollout_row, value_weighted_attention

    heads = capture["heads"]
    n = heads.shape[-1]
    layers = list(heads.mean(1))
    weighted = [value_weighted_attention(h, v)
                for h, v in zip(heads, capture["value_norms"], strict=True)]
    mean = heads.mean((0, 1))
    scores = {
        "position": -np.abs(np.arange(n, dtype=np.float64) - target),
        "rollout_half": _log(rollout_row(layers, target, 0.5, causal=causal)),
        "rollout_calibrated": _log(rollout_row(layers, target, capture["rho"], causal=causal)),
        "value_norm_rollout": _log(rollout_row(weighted, target, 0.5, causal=causal)),
        "gain_rollout": _log(gain_rollout_row(list(heads), capture["key_gains"], target,
                                              causal=causal)),
        **_resistance_scores(mean / mean.sum(1, keepdims=True), target, causal),
    }
    return {k: scores[k] for k in PREDICTORS if k in scores}
