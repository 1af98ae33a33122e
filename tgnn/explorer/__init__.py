"""Attention-graph explorer: one self-contained, offline HTML page per input, 500 to 8k tokens.

The page has an overview and a detail view. The overview is a heatmap (query x key) of the
stored edges of one layer and head, with per-position profiles below it (sink mass, row
entropy, drawn mass, first-token mass, absorbing resistance from the selected token, rollout
resistance to the last token, measured or estimated Jacobian sensitivity); dragging across
either picks a window of tokens. The detail view draws the window's unrolled attention graph
with legible labels; a grid of all layers x heads picks the head. Each query keeps its
``top_k`` strongest keys per head and for the head-mean, and the page says how much of each
row's attention that keeps.

``render_html(model, tokenizer, text)`` (sparse capture, never ``n x n`` per head),
``render_html(graphs=..., tokens=...)`` (a sparse capture's graphs) or
``render_html(attentions=..., tokens=...)`` (dense, short inputs) return the HTML; in a
notebook show it with ``IPython.display.HTML(notebook_html(html))``; ``write_html(path, ...)``
writes it; ``sample_page()`` writes the docs' sample page. The command line is ``tgnn view``.
"""

from tgnn.explorer.edges import EdgeBlock, encode_sparse_rows, encode_top_k
from tgnn.explorer.jacobian import measured_sensitivity
from tgnn.explorer.page import (
    SAMPLE_TEXT,
    capture_text,
    html_from_payload,
    notebook_html,
    render_html,
    sample_page,
    write_html,
)
from tgnn.explorer.payload import Sensitivity, build_payload
from tgnn.explorer.sparse_payload import build_sparse_payload

__all__ = [
    "SAMPLE_TEXT",
    "EdgeBlock",
    "Sensitivity",
    "build_payload",
    "build_sparse_payload",
    "capture_text",
    "encode_sparse_rows",
    "encode_top_k",
    "html_from_payload",
    "measured_sensitivity",
    "notebook_html",
    "render_html",
    "sample_page",
    "write_html",
]
