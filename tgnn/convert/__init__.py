"""Attention to graphs and back: capture from models, convert tensors, sparsify, build masks."""

from tgnn.convert.capture import (
    CAPTURE_IMPLEMENTATION,
    LayerAttention,
    capture_attention,
    stream_attention,
)
from tgnn.convert.context import (
    ContextWindow,
    Overflow,
    context_windows,
    fit_context,
    max_positions,
)
from tgnn.convert.from_model import capture_graphs
from tgnn.convert.interop import LENS_PATTERN, attention_layers, lens_attention, record_attention
from tgnn.convert.io import load_graphs, save_graphs
from tgnn.convert.sparse_capture import (
    DEFAULT_MEMORY_BUDGET,
    capture_sparse_graphs,
    sparse_attention_forward,
)
from tgnn.convert.sparsify import sparsify_mask, threshold_mask, top_k_mask, top_p_mask
from tgnn.convert.to_graph import (
    HeadReduction,
    attention_to_data,
    attention_to_unrolled,
    to_dense_attention,
)
from tgnn.convert.to_mask import graph_to_attention_mask
from tgnn.convert.validate import check_attention, check_causal, check_finite, row_sum_tolerance

__all__ = [
    "CAPTURE_IMPLEMENTATION",
    "DEFAULT_MEMORY_BUDGET",
    "ContextWindow",
    "HeadReduction",
    "LENS_PATTERN",
    "LayerAttention",
    "Overflow",
    "attention_layers",
    "attention_to_data",
    "attention_to_unrolled",
    "capture_attention",
    "capture_graphs",
    "capture_sparse_graphs",
    "check_attention",
    "check_causal",
    "check_finite",
    "context_windows",
    "fit_context",
    "graph_to_attention_mask",
    "lens_attention",
    "load_graphs",
    "max_positions",
    "record_attention",
    "row_sum_tolerance",
    "save_graphs",
    "sparse_attention_forward",
    "sparsify_mask",
    "stream_attention",
    "threshold_mask",
    "to_dense_attention",
    "top_k_mask",
    "top_p_mask",
]
