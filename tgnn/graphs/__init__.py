"""Graph generators: synthetic attention patterns and classical GNN graph families.

Attention patterns come as dense ``[n, n]`` row-stochastic float64 matrices; pass them to
:func:`tgnn.attention_to_data` for a PyG graph. GNN families come
as undirected :class:`torch_geometric.data.Data` with both edge directions and unit weights.
"""

from tgnn.graphs.attention_patterns import (
    alibi_recency,
    pause_tokens,
    sink_mixture,
    sliding_window,
    uniform_bidirectional,
    uniform_causal,
)
from tgnn.graphs.families import (
    barbell_graph,
    binary_tree,
    clique_path,
    from_networkx_undirected,
    grid_graph,
    lollipop_graph,
    path_graph,
    ring_graph,
)

__all__ = [
    "alibi_recency",
    "barbell_graph",
    "binary_tree",
    "clique_path",
    "from_networkx_undirected",
    "grid_graph",
    "lollipop_graph",
    "path_graph",
    "pause_tokens",
    "ring_graph",
    "sink_mixture",
    "sliding_window",
    "uniform_bidirectional",
    "uniform_causal",
]
