"""tgnn.metrics: graph metrics (spectral, resistance, curvature) and collapse / attention metrics.

Graph metrics take a PyG ``Data`` or ``edge_index, edge_weight, num_nodes``; undirected metrics
symmetrise a directed graph by ``(W + W^T) / 2`` unless told otherwise (``symmetrize=``).
"""

from tgnn.metrics._limits import DENSE_MAX_NODES, FACTOR_MAX
from tgnn.metrics.attention import (
    attention_entropy,
    attention_flow,
    attention_rollout,
    sink_mass,
    sink_rate,
    unrolled_flow_network,
)
from tgnn.metrics.collapse import (
    collapse_profile,
    dirichlet_energy,
    effective_rank,
    mean_cosine,
    mu,
    residual,
    residual_ratio,
)
from tgnn.metrics.curvature import (
    augmented_forman_curvature,
    balanced_forman_curvature,
    forman_curvature,
    ollivier_ricci_curvature,
)
from tgnn.metrics.prepared import PreparedGraph, prepare
from tgnn.metrics.representation import collapse_length, collapse_table
from tgnn.metrics.resistance import (
    commute_time,
    edge_resistance,
    effective_resistance,
    total_effective_resistance,
)
from tgnn.metrics.sensitivity import jacobian_sensitivity, surrogate_sensitivity
from tgnn.metrics.spectral import cheeger_bounds, laplacian, spectral_gap

__all__ = [
    "DENSE_MAX_NODES",
    "FACTOR_MAX",
    "PreparedGraph",
    "prepare",
    "laplacian",
    "spectral_gap",
    "cheeger_bounds",
    "effective_resistance",
    "edge_resistance",
    "commute_time",
    "total_effective_resistance",
    "balanced_forman_curvature",
    "forman_curvature",
    "augmented_forman_curvature",
    "ollivier_ricci_curvature",
    "residual",
    "mu",
    "residual_ratio",
    "mean_cosine",
    "effective_rank",
    "dirichlet_energy",
    "collapse_profile",
    "attention_entropy",
    "sink_mass",
    "sink_rate",
    "attention_rollout",
    "attention_flow",
    "unrolled_flow_network",
    "jacobian_sensitivity",
    "surrogate_sensitivity",
    "collapse_table",
    "collapse_length",
]
