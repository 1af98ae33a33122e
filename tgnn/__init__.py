"""tgnn: transformer attention as graphs, with the tools of graph neural network theory.

The converter is re-exported here (``import tgnn; tgnn.attention_to_data(A)``); metrics, graph
generators, transforms, models and the causal-resistance theory live in their subpackages:
``tgnn.metrics``, ``tgnn.graphs``, ``tgnn.transforms``, ``tgnn.models``, ``tgnn.theory``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tgnn import errors
from tgnn._version import __version__

if TYPE_CHECKING:
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

# Imported on first use (PEP 562): ``import tgnn`` and the command line's ``--help`` and
# one-line errors do not wait for torch_geometric and transformers.
_LAZY = {
    "corpus_sweep": "tgnn.sweep",
    "write_rows": "tgnn.sweep",
}
_CONVERT = (
    "LayerAttention", "attention_to_data", "attention_to_unrolled", "capture_attention",
    "capture_graphs", "capture_sparse_graphs", "fit_context", "graph_to_attention_mask",
    "lens_attention", "load_graphs", "max_positions", "record_attention", "save_graphs",
    "stream_attention", "to_dense_attention",
)
_LAZY.update(dict.fromkeys(_CONVERT, "tgnn.convert"))


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tgnn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
