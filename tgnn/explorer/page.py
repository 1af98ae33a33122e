"""Render the explorer page: one self-contained HTML file (inline JS, CSS and data; no network).

``render_html`` takes a model and a text (attention is captured with
:func:`tgnn.capture_attention`) or precomputed attentions and tokens; ``write_html`` writes the
file; ``sample_page`` writes the page the docs embed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tgnn._output import atomic_output, check_output
from tgnn.errors import ShapeError
from tgnn.explorer.payload import build_payload

if TYPE_CHECKING:
    from tgnn.convert.context import Overflow

__all__ = ["render_html", "write_html", "notebook_html", "sample_page", "SAMPLE_TEXT",
           "SENSITIVITY_MAX_BYTES"]

SAMPLE_TEXT = "The cat sat on the mat because it was warm."

SENSITIVITY_MAX_BYTES = 256 * 2**20
"""Largest Jacobian (``L n d^2`` floats) measured automatically for the sensitivity colouring."""

_ASSETS = ("template.html", "explorer.css", "explorer.js")


def _asset(name: str) -> str:
    return resources.files("tgnn.explorer").joinpath(name).read_text(encoding="utf-8")


def html_from_payload(payload: dict[str, Any]) -> str:
    """Fill the page template with ``payload`` (see :func:`tgnn.explorer.build_payload`).

    Examples
    --------
    >>> html = html_from_payload({"title": "x <y>", "tokens": []})
    >>> html.startswith("<!DOCTYPE html>"), "x &lt;y&gt;" in html, "<script src" in html
    (True, True, False)
    """
    template, css, js = (_asset(name) for name in _ASSETS)
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    title = str(payload.get("title") or "tgnn attention explorer")
    title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (template.replace("__TGNN_TITLE__", title)
            .replace("/*__TGNN_CSS__*/", css)
            .replace("/*__TGNN_JS__*/", js)
            .replace("__TGNN_DATA__", data))


def _display(token: str) -> str:
    """GPT-2 byte-level markers shown as a visible space / newline."""
    return token.replace("\u0120", "\u2423").replace("\u010a", "\u23ce").replace("\n", "\u23ce")


def capture_text(
    model: Any, tokenizer: Any, text: str, overflow: str | Overflow = "error", window: int = 0
) -> tuple[list[Any], list[str], Any]:
    """Tokenise ``text``, capture every layer's ``[H, n, n]`` attention, return it with tokens.

    A text longer than the model's context is handled by ``overflow`` (see
    :func:`tgnn.fit_context`); with ``"windows"``, ``window`` says which one to capture.
    Returns ``(attentions, token strings, input_ids [1, n])``.
    """
    from tgnn.convert import capture_attention, context_windows

    inputs = tokenizer(text, return_tensors="pt")
    if inputs["input_ids"].shape[0] != 1:
        raise ShapeError(f"text: expected one sequence, got a batch of "
                         f"{inputs['input_ids'].shape[0]}")
    pieces = context_windows(inputs, model, overflow)
    if not 0 <= window < len(pieces):
        raise ShapeError(f"window: expected 0 <= window < {len(pieces)} (the windows of this "
                         f"text), got {window}")
    ids = pieces[window].inputs["input_ids"]
    inputs = {k: v.to(model.device) for k, v in pieces[window].inputs.items()
              if k in ("input_ids", "attention_mask")}
    layers = [item.weights[0].float().cpu() for item in capture_attention(model, inputs)]
    tokens = [_display(t) for t in tokenizer.convert_ids_to_tokens(ids[0].tolist())]
    return layers, tokens, ids


def measured_sensitivity(
    model: Any, input_ids: Any, num_layers: int, mode: bool | None
) -> tuple[np.ndarray | None, str]:
    """``[L, n]`` sensitivity of the last token at each layer output, or ``None`` and why."""
    from tgnn.metrics.sensitivity import jacobian_sensitivity

    n = int(input_ids.shape[-1])
    d = int(model.get_input_embeddings().weight.shape[-1])
    size = 4 * num_layers * n * d * d
    if mode is False:
        return None, "turned off (sensitivity=False)"
    if mode is None and size > SENSITIVITY_MAX_BYTES:
        return None, (f"skipped: the Jacobian needs about {size / 2**20:.0f} MiB "
                      "(pass sensitivity=True to measure it anyway)")
    values = jacobian_sensitivity(model, input_ids.to(model.device), targets=[n - 1],
                                  layers=list(range(1, num_layers + 1)))
    return values[:, 0].double().cpu().numpy(), ""


def render_html(
    model: Any = None,
    tokenizer: Any = None,
    text: str | None = None,
    *,
    attentions: Sequence[Any] | None = None,
    tokens: Sequence[str] | None = None,
    top_k: int = 8,
    rho: float = 0.5,
    sensitivity: bool | None = None,
    title: str | None = None,
    overflow: str | Overflow = "error",
    window: int = 0,
) -> str:
    """The explorer page for one input, as a self-contained HTML string (works offline).

    Either ``model``, ``tokenizer`` and ``text`` (attention captured with
    :func:`tgnn.capture_attention`; the Jacobian sensitivity of the last token is measured with
    :func:`tgnn.metrics.sensitivity.jacobian_sensitivity` when it fits in
    ``SENSITIVITY_MAX_BYTES``, always with ``sensitivity=True``, never with ``False``), or
    precomputed ``attentions`` (``L`` layers of ``[H, n, n]``) and ``tokens``. A text longer
    than the model's context raises :class:`~tgnn.errors.ContextLengthError` before the model
    runs, unless ``overflow`` says to keep the last or first tokens or to split it into
    windows (:func:`tgnn.fit_context`); ``window`` picks the window to draw.

    The page draws, per layer and head (or head-mean), each query's ``top_k`` strongest keys
    and says how many edges and how much mass that leaves out. Cost: one forward pass plus
    ``O(L H n^2 log k + L n^3)``; the page is about ``L (H + 1) n top_k * 4 + L H n * 12``
    bytes.

    Examples
    --------
    >>> import torch
    >>> u = torch.tril(torch.ones(3, 3)) / torch.arange(1, 4)[:, None]
    >>> html = render_html(attentions=[u[None]], tokens=["a", "b", "c"])
    >>> "tgnn-data" in html and "http" not in html.split("<body")[1]
    True
    """
    note = "no model given"
    values = None
    if attentions is None:
        if model is None or tokenizer is None or text is None:
            raise ShapeError("model, tokenizer, text: expected all three, or attentions and "
                             "tokens")
        attentions, tokens, ids = capture_text(model, tokenizer, text, overflow, window)
        values, note = measured_sensitivity(model, ids, len(attentions), sensitivity)
        name = Path(str(getattr(model.config, "name_or_path", ""))).name or type(model).__name__
        title = title or f"{name}: {text[:60]}"
    elif tokens is None:
        raise ShapeError("tokens: expected the token strings of the precomputed attentions")
    payload = build_payload(attentions, tokens, top_k=top_k, rho=rho, sensitivity=values,
                            sensitivity_note=note, title=title or "attention explorer")
    return html_from_payload(payload)


def write_html(path: str | Path, *args: Any, overwrite: bool = False, **kwargs: Any) -> Path:
    """Write :func:`render_html` (same arguments after ``path``) to ``path``; return the path.

    An existing file is replaced only with ``overwrite=True``, and only once the page is
    complete (a failed call leaves it as it was); ``path`` is checked before the model runs.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    ProtectedPathError
        ``path`` is inside the installed tgnn package.

    Examples
    --------
    >>> import tempfile, torch
    >>> u = torch.tril(torch.ones(2, 2)) / torch.arange(1, 3)[:, None]
    >>> out = write_html(tempfile.mkdtemp() + "/p.html", attentions=[u[None]], tokens=["a", "b"])
    >>> out.stat().st_size > 1000
    True
    >>> _ = write_html(out, attentions=[u[None]], tokens=["a", "b"], overwrite=True)
    """
    out = check_output(path, overwrite=overwrite)
    html = render_html(*args, **kwargs)
    with atomic_output(out, overwrite=overwrite) as temporary:
        temporary.write_text(html, encoding="utf-8")
    return out


def notebook_html(html: str, height: int = 760) -> str:
    """Wrap a page from :func:`render_html` in an ``<iframe srcdoc>`` for a notebook cell.

    The iframe keeps the page's script and styles apart from the notebook's (and from other
    pages in the same notebook). Show it with ``IPython.display.HTML(notebook_html(html))``.

    Examples
    --------
    >>> frame = notebook_html('<b class="x">a & b</b>', height=300)
    >>> frame.split("srcdoc=")[1]
    '"&lt;b class=&quot;x&quot;&gt;a &amp; b&lt;/b&gt;"></iframe>'
    """
    escaped = (html.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
               .replace(">", "&gt;"))
    return (f'<iframe style="width: 100%; height: {int(height)}px; border: 0" '
            f'srcdoc="{escaped}"></iframe>')


def sample_page(
    path: str | Path = "docs/explorer/sample.html", text: str = SAMPLE_TEXT, *,
    overwrite: bool = False,
) -> Path:
    """Write the docs' sample page: the embedded causal model ``tgnn-gpt2-tiny`` on ``text``.

    ``overwrite`` as in :func:`write_html`.
    """
    from tgnn.models import load

    check_output(path, overwrite=overwrite)
    model, tokenizer = load("tgnn-gpt2-tiny")
    return write_html(path, model, tokenizer, text, title=f"tgnn-gpt2-tiny: {text}",
                      overwrite=overwrite)
