"""Causal effective resistance (``tgnn.theory``): resistances for directed acyclic attention graphs.

In causal attention the attention graph is a DAG, where commute times are infinite and directed
Laplacians collapse. Three well-defined replacements live here (0-based tokens throughout):

- :func:`rollout_resistance` ``R^roll_L(s, i) = 1 / Phi_L[i, s]``: sensitivity and over-squashing;
- :func:`absorbing_resistance` ``R^abs``: one-way reachability of the backward attention walk;
- :func:`ysl_resistance` ``R^Y`` (Young-Scardovi-Leonard): consensus coupling;

plus :func:`group_inverse_resistance` (a documented pitfall), exact closed forms
(:mod:`tgnn.theory.closed_forms`) and the over-squashing bound (:mod:`tgnn.theory.bounds`).
The softmax-separation limit of representational collapse is in
:mod:`tgnn.theory.representational_collapse`.
Signal propagation at initialisation (critical query-key scale, REM participation ratio, the
block's correlation map; Giorlandino & Goldt) is in :mod:`tgnn.theory.signal_propagation`.
The specification is ``THEORY.md`` of the project; ``docs/theory.md`` explains it.
"""

from . import closed_forms
from ._sparse import DENSE_MAX_NODES
from .absorbing import (
    absorbing_resistance,
    absorption_time,
    fundamental_matrix,
    hitting_probabilities,
)
from .bounds import oversquashing_bound, predicted_sensitivity_profile, sensitivity_constant
from .group_inverse import group_inverse, group_inverse_resistance
from .representational_collapse import (
    max_softmax_weight,
    softmax_separation_limit,
    softmax_total_variation,
    unit_roundoff,
)
from .rollout import (
    calibrated_residual_share,
    gain_rollout_row,
    rollout_matrix,
    rollout_resistance,
    rollout_row,
    value_weighted_attention,
)
from .signal_propagation import (
    block_update,
    correlation_map,
    correlation_trajectory,
    critical_beta,
    participation_ratio,
    participation_ratio_finite,
)
from .ysl import globally_reachable_nodes, ysl_resistance

__all__ = [
    "DENSE_MAX_NODES",
    "closed_forms",
    "absorbing_resistance",
    "absorption_time",
    "fundamental_matrix",
    "hitting_probabilities",
    "oversquashing_bound",
    "predicted_sensitivity_profile",
    "sensitivity_constant",
    "group_inverse",
    "group_inverse_resistance",
    "calibrated_residual_share",
    "gain_rollout_row",
    "rollout_matrix",
    "rollout_resistance",
    "rollout_row",
    "value_weighted_attention",
    "globally_reachable_nodes",
    "max_softmax_weight",
    "softmax_separation_limit",
    "softmax_total_variation",
    "unit_roundoff",
    "ysl_resistance",
    "block_update",
    "correlation_map",
    "correlation_trajectory",
    "critical_beta",
    "participation_ratio",
    "participation_ratio_finite",
]
