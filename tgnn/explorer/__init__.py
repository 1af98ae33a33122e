"""Attention-graph explorer: one self-contained, offline HTML page per input.

The page shows the unrolled attention graph of one input (tokens in order, one column per
depth), each query's strongest edges per layer and head (or head-mean) with a threshold slider,
tokens coloured by sink mass, entropy, rollout / absorbing resistance or measured Jacobian
sensitivity, the strongest incoming paths of a clicked token, and per-layer graph numbers.

``render_html(model, tokenizer, text)`` or ``render_html(attentions=..., tokens=...)`` returns
the HTML; in a notebook show it with ``IPython.display.HTML(notebook_html(html))``;
``write_html(path, ...)`` writes it; ``sample_page()`` writes the docs' sample page. The command
line is ``tgnn view``.
"""

from tgnn.explorer.edges import dequantize, encode_top_k, quantize
from tgnn.explorer.page import (
    SAMPLE_TEXT,
    capture_text,
    html_from_payload,
    notebook_html,
    render_html,
    sample_page,
    write_html,
)
from tgnn.explorer.payload import build_payload

__all__ = [
    "SAMPLE_TEXT",
    "build_payload",
    "capture_text",
    "dequantize",
    "encode_top_k",
    "html_from_payload",
    "notebook_html",
    "quantize",
    "render_html",
    "sample_page",
    "write_html",
]
