"""tgnn.metrics: graph metrics (spectral, resistance, curvature) and collapse / attention metrics.

Graph metrics take a PyG ``Data`` or ``edge_index, edge_weight, num_nodes``; undirected metrics
symmetrise a directed graph by ``(W + W^T) / 2`` unless told otherwise (``symmetrize=``).
"""

from tgnn.metrics.curvature import (
    augmented_forman_curvature,
    balanced_forman_curvature,
    forman_curvature,
    ollivier_ricci_curvature,
)
from tgnn.metrics.resistance import (
    commute_time,
    edge_resistance,
    effective_resistance,
    total_effective_resistance,
)
from tgnn.metrics.spectral import cheeger_bounds, laplacian, spectral_gap

__all__ = [
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
]
