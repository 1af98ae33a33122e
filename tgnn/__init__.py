"""tgnn: transformer attention as graphs, with the tools of graph neural network theory.

The converter is re-exported here (``import tgnn; tgnn.attention_to_data(A)``); metrics, graph
generators, transforms, models and the causal-resistance theory live in their subpackages:
``tgnn.metrics``, ``tgnn.graphs``, ``tgnn.transforms``, ``tgnn.models``, ``tgnn.theory``.
"""

from tgnn import errors
from tgnn._version import __version__
from tgnn.convert import (
    LayerAttention,
    attention_to_data,
    attention_to_unrolled,
    capture_attention,
    capture_graphs,
    capture_sparse_graphs,
    fit_context,
    graph_to_attention_mask,
    lens_attention,
    load_graphs,
    max_positions,
    record_attention,
    save_graphs,
    stream_attention,
    to_dense_attention,
)
from tgnn.sweep import corpus_sweep, write_rows

__all__ = [
    "LayerAttention",
    "__version__",
    "attention_to_data",
    "attention_to_unrolled",
    "capture_attention",
    "capture_graphs",
    "capture_sparse_graphs",
    "corpus_sweep",
    "errors",
    "fit_context",
    "graph_to_attention_mask",
    "lens_attention",
    "load_graphs",
    "max_positions",
    "record_attention",
    "save_graphs",
    "stream_attention",
    "to_dense_attention",
    "write_rows",
]
