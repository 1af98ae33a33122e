"""Render the explorer page: one self-contained HTML file (inline JS, CSS and data; no network).

``render_html`` takes a model and a text (attention is captured as sparse graphs with
:func:`tgnn.capture_sparse_graphs`), precomputed sparse graphs, or precomputed dense attentions
and tokens; ``write_html`` writes the
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
from tgnn._progress import step
from tgnn.errors import ShapeError
from tgnn.explorer.jacobian import JACOBIAN_BUDGET_S, SensitivityMode, measured_sensitivity
from tgnn.explorer.payload import Sensitivity, build_payload
from tgnn.explorer.sparse_payload import build_sparse_payload

if TYPE_CHECKING:
    from tgnn.convert.context import Overflow

__all__ = ["render_html", "write_html", "notebook_html", "sample_page", "SAMPLE_TEXT"]

SAMPLE_TEXT = "The cat sat on the mat because it was warm."

_SCRIPTS = ("data.js", "compute.js", "overview.js", "grid.js", "detail.js", "main.js")
"""The page's script, in order: one closure shares their top-level names."""


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
    template, css = _asset("template.html"), _asset("explorer.css")
    js = "\n".join(_asset(name) for name in _SCRIPTS)
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    title = str(payload.get("title") or "tgnn attention explorer")
    title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (template.replace("__TGNN_TITLE__", title)
            .replace("/*__TGNN_CSS__*/", css)
            .replace("/*__TGNN_JS__*/", js)
            .replace("__TGNN_DATA__", data))


def _display(token: str) -> str:
    r"""Spaces and newlines (plain, or GPT-2's byte-level markers) shown as visible symbols.

    Examples
    --------
    >>> _display(" "), _display("\u0120the"), _display("\n")
    ('␣', '␣the', '⏎')
    """
    return (token.replace("\u0120", "\u2423").replace(" ", "\u2423")
            .replace("\u010a", "\u23ce").replace("\n", "\u23ce"))


def capture_text(
    model: Any, tokenizer: Any, text: str, overflow: str | Overflow = "error", window: int = 0,
    *, top_k: int = 8, progress: bool = False,
) -> tuple[list[Any], list[str], Any]:
    """Tokenise ``text`` and capture every layer as a sparse graph (each head's ``top_k`` keys).

    Uses :func:`tgnn.capture_sparse_graphs` with ``head_reduction=None``: peak memory
    ``O(H x block x n + L H n k)``, never ``H x n x n``. A text longer than the model's context
    is handled by ``overflow`` (see :func:`tgnn.fit_context`); with ``"windows"``, ``window``
    says which one to capture. Returns ``(graphs, token strings, input_ids [1, n])``; a model
    with learned sinks gets a ``<learned sink>`` token at node 0.
    """
    from tgnn.convert import capture_sparse_graphs, context_windows

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
    graphs = capture_sparse_graphs(model, inputs, head_reduction=None, top_k=top_k,
                                   progress=progress)
    tokens = [_display(t) for t in tokenizer.convert_ids_to_tokens(ids[0].tolist())]
    if getattr(graphs[0], "is_learned_sink", None) is not None:
        tokens = ["<learned sink>", *tokens]
    return list(graphs), tokens, ids


def render_html(
    model: Any = None,
    tokenizer: Any = None,
    text: str | None = None,
    *,
    attentions: Sequence[Any] | None = None,
    graphs: Sequence[Any] | None = None,
    tokens: Sequence[str] | None = None,
    top_k: int = 8,
    rho: float = 0.5,
    sensitivity: SensitivityMode = None,
    jacobian_budget_s: float = JACOBIAN_BUDGET_S,
    title: str | None = None,
    overflow: str | Overflow = "error",
    window: int = 0,
    progress: bool = False,
) -> str:
    """The explorer page for one input, as a self-contained HTML string (works offline).

    Either ``model``, ``tokenizer`` and ``text`` (captured as sparse graphs with
    :func:`capture_text`, so 8k tokens cost ``O(L H n k)`` memory), or precomputed sparse
    ``graphs`` (one per layer, from ``tgnn.capture_sparse_graphs(..., head_reduction=None)``)
    with ``tokens``, or precomputed dense ``attentions`` (``L`` layers of ``[H, n, n]``, for
    short inputs) with ``tokens``. A text longer than the model's context raises
    :class:`~tgnn.errors.ContextLengthError` before the model runs, unless ``overflow`` says to
    keep the last or first tokens or to split it into windows (:func:`tgnn.fit_context`);
    ``window`` picks the window to draw.

    With a model, the sensitivity of the last token is measured as ``sensitivity`` says (see
    :func:`tgnn.explorer.jacobian.measured_sensitivity`): ``None`` chooses by memory and by the
    estimated time against ``jacobian_budget_s`` (exact, else a random-probe estimate with its
    standard error, else none and the page says why), ``True`` exact, ``"probe"`` the estimate,
    ``False`` none. ``progress`` shows the capture's progress bar on stderr.

    The page shows an overview heatmap of the stored edges of one layer and head, per-position
    profiles, a grid of all layers x heads, and a detail view of a window of tokens; each
    query keeps its ``top_k`` strongest keys per head (and head-mean), and the page shows the
    share of each row's attention that keeps (the drawn mass). Size about
    ``L (H + 1) n (4 top_k + 16)`` bytes before base64.

    Examples
    --------
    >>> import torch
    >>> u = torch.tril(torch.ones(3, 3)) / torch.arange(1, 4)[:, None]
    >>> html = render_html(attentions=[u[None]], tokens=["a", "b", "c"])
    >>> "tgnn-data" in html and "http" not in html.split("<body")[1]
    True
    """
    found = Sensitivity()
    if attentions is None and graphs is None:
        if model is None or tokenizer is None or text is None:
            raise ShapeError("model, tokenizer, text: expected all three, or attentions (or "
                             "graphs) and tokens")
        with step("capturing attention (sparse rows)"):
            graphs, tokens, ids = capture_text(model, tokenizer, text, overflow, window,
                                               top_k=top_k, progress=progress)
        with step("choosing and measuring the Jacobian sensitivity"):
            found = measured_sensitivity(model, ids, len(graphs), sensitivity,
                                         budget_s=jacobian_budget_s)
        if found.values is not None and len(tokens) != found.values.shape[-1]:  # learned sink
            found.values = np.concatenate([np.full((len(graphs), 1), np.nan), found.values], 1)
            if found.stderr is not None:
                found.stderr = np.concatenate([np.full((len(graphs), 1), np.nan),
                                               found.stderr], 1)
        name = Path(str(getattr(model.config, "name_or_path", ""))).name or type(model).__name__
        title = title or f"{name}: {text[:60]}"
    elif tokens is None:
        raise ShapeError("tokens: expected the token strings of the precomputed attentions or "
                         "graphs")
    elif attentions is not None and graphs is not None:
        raise ShapeError("attentions, graphs: expected one of them, got both")
    title = title or "attention explorer"
    with step("computing the page's graph quantities"):
        if graphs is not None:
            payload = build_sparse_payload(graphs, tokens, top_k=top_k, rho=rho,
                                           sensitivity=found, title=title)
        else:
            payload = build_payload(attentions or [], tokens, top_k=top_k, rho=rho,
                                    sensitivity=found, title=title)
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
