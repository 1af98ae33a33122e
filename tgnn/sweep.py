"""Corpus sweep: documents x models -> per-layer metrics and per-position profiles, one table.

Each (model, document) pair is one point of the benchmarks' sweep runner
(``tgnn.benchmarks.runner.run_sweep``): the point loads the model (once per worker process),
tokenises the document, runs :func:`~tgnn.convert.capture_sparse_graphs` once (never
``H x n x n`` in memory) and turns each layer's graph into rows. Points run in this process,
in spawned local processes (``workers > 1``) or as Ray tasks (``ray_address``), and give the
same rows in the same order.

The table is a list of flat dicts with the keys :data:`COLUMNS`, in this order (``None`` where
a column does not apply); ``pandas.DataFrame(rows)``, or ``pandas.read_csv`` /
``pandas.read_json(path, lines=True)`` of :func:`write_rows`'s file, loads it as it is.

| column | layer row (``kind="layer"``) | position row (``kind="position"``) |
|---|---|---|
| ``model``, ``doc``, ``layer`` | model name, document id, layer index | the same |
| ``pos``, ``token`` | ``None`` | position in the document, token id |
| ``n``, ``heads`` | tokens captured, query heads | the same |
| ``edges`` | edges of the layer's graph | kept keys of this query |
| ``kept_mass`` | mean over tokens | mass of this query's kept edges |
| ``entropy`` | mean over tokens | row entropy (nats), mean over heads |
| ``first_token_mass`` | mean over tokens | ``A[i, 0]``, mean over heads |
| ``column_sum`` | ``None`` | ``sum_i A[i, pos]``, mean over heads |
| ``spectral_gap`` | ``lambda_2`` of the symmetrised graph | ``None`` |

Entropy, first-token mass and column sums come from the full softmax rows (exact whatever
``top_k`` keeps); edges, kept mass and the spectral gap are those of the head-mean graph with
``top_k`` edges per query.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tgnn._devices import check_device, check_dtype
from tgnn.errors import (
    DisconnectedGraphError,
    EmptyInputError,
    OptionError,
    ShapeError,
    SizeLimitError,
)

if TYPE_CHECKING:
    import torch

__all__ = ["COLUMNS", "corpus_sweep", "check_model", "write_rows"]

COLUMNS = ("model", "doc", "layer", "kind", "pos", "token", "n", "heads", "edges", "kept_mass",
           "entropy", "first_token_mass", "column_sum", "spectral_gap")
"""The columns of every row, in order (see the table of :mod:`tgnn.sweep`)."""

RANDOM_KINDS = ("gpt2", "llama", "bert")
_OVERFLOWS = ("error", "keep_first", "keep_last")


def check_model(name: str) -> str:
    """Check that ``name`` is a model :func:`corpus_sweep` can load without the network.

    Accepted: an embedded model (``"tgnn-gpt2-tiny"``, ``"tgnn-gpt2-tiny-nobos"``,
    ``"minilm"``), ``"random:gpt2"``, ``"random:llama"`` or ``"random:bert"`` (a seeded
    random-init model of :func:`tgnn.models.random_config_model`), a ``.safetensors`` file
    written by ``tgnn train-tiny`` or a Hugging Face checkpoint folder. Hub names are refused:
    every worker would download the model; pass the downloaded folder (on a cluster, a path
    that every node sees).

    Examples
    --------
    >>> check_model("random:llama")
    'random:llama'
    >>> check_model("no-such-model")
    Traceback (most recent call last):
    ...
    tgnn.errors.OptionError: model: expected ...checkpoint folder, got 'no-such-model'
    """
    from tgnn.models import EMBEDDED

    if not isinstance(name, str):
        raise ShapeError(f"model: expected a model name (str), got {type(name).__name__}")
    if name in EMBEDDED or name in {f"random:{kind}" for kind in RANDOM_KINDS}:
        return name
    path = Path(name)
    if (path.is_dir() and (path / "config.json").is_file()) or (
        path.suffix == ".safetensors" and path.is_file()
    ):
        return name
    kinds = ", ".join(f"'random:{kind}'" for kind in RANDOM_KINDS)
    raise OptionError(
        f"model: expected one of {', '.join(map(repr, EMBEDDED))}, {kinds}, a .safetensors file "
        f"or a Hugging Face checkpoint folder, got {name!r}"
    )


def load_model(name: str, device: Any = "cpu", dtype: Any = None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` of a name :func:`check_model` accepts (``random:KIND`` included),
    never from the hub; shared by the sweep and the command line."""
    from tgnn.models import load, random_config_model

    if name.startswith("random:"):
        model, tokenizer = random_config_model(name.removeprefix("random:"), seed=0)
        return model.to(device=device, dtype=dtype), tokenizer
    return load(name, device=device, dtype=dtype, local_files_only=True)


@functools.lru_cache(maxsize=4)
def _model(name: str, device: str, dtype: str) -> tuple[Any, Any]:
    """``(model, tokenizer)`` on ``device`` in ``dtype`` (names), loaded once per process (each
    worker keeps its own)."""
    import torch

    return load_model(name, device=device, dtype=getattr(torch, dtype))


def tokenize_quietly(tokenizer: Any, text: str | list[str]) -> dict[str, Any]:
    """``tokenizer(text)`` (texts padded to one length) without transformers' "longer than the
    maximum" warning: the context check says it in one line instead."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return dict(tokenizer(text, return_tensors="pt", padding=True))
    finally:
        hf_logging.set_verbosity(verbosity)


def _gap(graph: Any, max_nodes: int) -> float | None:
    """Spectral gap of the symmetrised graph; 0 if disconnected; None if skipped or too large."""
    from tgnn.metrics import spectral_gap

    if graph.num_nodes < 2 or graph.num_nodes > max_nodes:
        return None
    try:  # one BLAS thread: the eigensolver's last digits depend on the thread count, and Ray
        from threadpoolctl import threadpool_limits  # workers have one (OMP_NUM_THREADS=1)

        one_thread: Any = threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        one_thread = contextlib.nullcontext()
    try:
        with one_thread:
            return spectral_gap(graph, on_disconnected="raise")
    except DisconnectedGraphError:
        return 0.0
    except SizeLimitError:
        return None


def _rows(graph: Any, point: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The layer row and (with ``point["profiles"]``) the position rows of one layer graph."""
    import torch

    n = int(graph.num_nodes)
    keep = torch.ones(n, dtype=torch.bool)
    if getattr(graph, "is_learned_sink", None) is not None:  # gpt-oss: node 0 is the sink
        keep = ~graph.is_learned_sink.bool()

    def mean_heads(name: str) -> torch.Tensor:
        value = getattr(graph, name).float()
        return (value.mean(1) if value.dim() == 2 else value)[keep]

    kept, entropy = mean_heads("kept_mass"), mean_heads("row_entropy")
    first, column = mean_heads("first_token_mass"), mean_heads("column_sum")
    edges = torch.bincount(graph.edge_index[1], minlength=n)[keep]
    heads = int(graph.row_entropy.shape[-1])
    base = {"model": point["model"], "doc": point["doc"], "layer": int(graph.layer),
            "n": int(keep.sum()), "heads": heads}
    rows = [dict.fromkeys(COLUMNS) | base | {
        "kind": "layer", "edges": int(graph.num_edges), "kept_mass": float(kept.mean()),
        "entropy": float(entropy.mean()), "first_token_mass": float(first.mean()),
        "spectral_gap": _gap(graph, point["gap_max_nodes"]),
    }]
    if point["profiles"]:
        pos, tokens = graph.pos[keep].tolist(), getattr(graph, "token", None)
        token = tokens[keep].tolist() if tokens is not None else [None] * len(pos)
        columns = zip(pos, token, edges.tolist(), kept.tolist(), entropy.tolist(),
                      first.tolist(), column.tolist(), strict=True)
        rows += [dict.fromkeys(COLUMNS) | base | {
            "kind": "position", "pos": p, "token": t, "edges": e, "kept_mass": k, "entropy": h,
            "first_token_mass": f, "column_sum": c} for p, t, e, k, h, f, c in columns]
    return rows


def sweep_point(point: Mapping[str, Any]) -> dict[str, Any]:
    """Rows of one (model, document) point; the unit of work that :func:`corpus_sweep` sends.

    A module-level function so that spawned processes and Ray workers can import it.
    """
    from tgnn.convert import Overflow, capture_sparse_graphs
    from tgnn.convert.context import context_windows

    model, tokenizer = _model(point["model"], point["device"], point["dtype"])
    inputs = tokenize_quietly(tokenizer, point["text"])
    ids = inputs["input_ids"][0].tolist()
    special = set(getattr(tokenizer, "all_special_ids", None) or [])
    ends = [int(len(ids) > 1 and ids[end] in special) for end in (0, -1)]
    if point["max_tokens"] is not None:
        cut = Overflow("keep_first", keep_prefix=ends[0], keep_suffix=ends[1])
        inputs = context_windows(inputs, point["max_tokens"], cut)[0].inputs
    policy = Overflow(point["overflow"], keep_prefix=ends[0], keep_suffix=ends[1])
    inputs = {key: value.to(model.device) for key, value in inputs.items()}
    graphs = capture_sparse_graphs(model, inputs, layers=point["layers"], top_k=point["top_k"],
                                   overflow=policy)
    return {"rows": [row for graph in graphs for row in _rows(graph.cpu(), point)]}


def _documents(documents: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    if isinstance(documents, str):
        raise ShapeError("documents: expected a list of texts or a {id: text} mapping, got a str")
    items = documents.items() if isinstance(documents, Mapping) else enumerate(documents)
    docs = {str(doc): text for doc, text in items}
    if not docs:
        raise EmptyInputError("documents: expected at least one document, got none")
    for doc, text in docs.items():
        if not isinstance(text, str):
            raise ShapeError(f"documents: expected a str for {doc!r}, got {type(text).__name__}")
        if not text:
            raise EmptyInputError(f"documents: expected a non-empty text for {doc!r}, got ''")
    return docs


def _positive(name: str, value: Any, minimum: int = 1) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < minimum):
        raise ShapeError(f"{name}: expected an integer >= {minimum} or None, got {value!r}")


def corpus_sweep(
    documents: Mapping[str, str] | Sequence[str],
    models: Sequence[str],
    *,
    layers: Sequence[int] | None = None,
    top_k: int | None = 8,
    max_tokens: int | None = None,
    overflow: str = "keep_first",
    profiles: bool = True,
    gap_max_nodes: int = 1024,
    workers: int = 1,
    ray_address: str | None = None,
    progress: bool = False,
    device: Any = "cpu",
    dtype: Any = "float32",
) -> list[dict[str, Any]]:
    """Per-layer metrics and per-position profiles of many documents in many models, as rows.

    For each model and document (models outer, documents inner) the text is tokenised,
    truncated to ``max_tokens`` and to the model's context, and
    :func:`~tgnn.convert.capture_sparse_graphs` runs once with ``top_k`` edges per query (head
    mean). Every layer gives one ``kind="layer"`` row, then (``profiles=True``) one
    ``kind="position"`` row per token, with the keys :data:`COLUMNS`. Entropy, first-token
    mass and column sums are exact (from the full softmax rows), whatever ``top_k`` keeps.

    Parameters
    ----------
    documents
        Texts (ids ``"0"``, ``"1"``, ...) or a mapping ``{id: text}``.
    models
        Model names, each checked by :func:`check_model` before anything runs: embedded models,
        ``"random:gpt2"`` / ``"random:llama"`` / ``"random:bert"``, a ``.safetensors`` file or
        a checkpoint folder. Each worker process loads a model once and keeps it.
    layers
        Layer indices to capture (default: all).
    top_k
        Edges kept per query in the graph (``None``: every edge; the spectral gap then costs
        more); edges, kept mass and the spectral gap depend on it.
    max_tokens
        Keep at most this many first tokens of each document (special tokens that the tokenizer
        put first or last are kept). None: the whole text.
    overflow
        A document longer than the model's context: ``"keep_first"`` (default) or
        ``"keep_last"`` tokens (special tokens kept), or ``"error"``
        (:class:`~tgnn.errors.ContextLengthError`).
    profiles
        Add the per-position rows (``False``: layer rows only, one per model, document, layer).
    gap_max_nodes
        Compute the spectral gap (dense eigensolver, ``O(n^3)``) only up to this many tokens;
        ``None`` in the column above it (0: never).
    workers
        Local processes (``spawn``; 1: in this process).
    ray_address
        Run the points as Ray tasks instead: ``"local"`` starts a local Ray with the cores this
        process may use, ``"auto"`` joins the cluster of this machine (``ray start``),
        ``"ray://host:10001"`` or ``"host:6379"`` joins that one. Needs ``pip install 'tgnn[ray]'``.
    progress
        Show a progress bar over the points.
    device, dtype
        Where each model runs and the dtype of its weights (both checked before any model
        loads): ``"cpu"`` (default), ``"cuda"``,
        ``"cuda:N"`` or ``"mps"``; ``"float32"`` (default), ``"float64"``, ``"bfloat16"`` or
        ``"float16"``. The inputs go to the model's device; attention is captured in float32
        whatever the weights, and the rows are computed on the CPU. A worker process holds
        one copy of each model on ``device``. Ray tasks get CPUs only: with ``ray_address``
        the device must be the CPU.

    Returns
    -------
    list of dict
        The rows, the same (values and order) for every backend: ``model``, ``doc``,
        ``layer``, ``kind``, ``pos``, ``token``, ``n``, ``heads``, ``edges``, ``kept_mass``,
        ``entropy``, ``first_token_mass``, ``column_sum``, ``spectral_gap``.

    Notes
    -----
    Per point: one forward pass (time ``O(L H n^2 d)``, memory ``O(budget + n k)``) and, per
    layer, the spectral gap (``O(n^3)`` up to ``gap_max_nodes``, on one BLAS thread so that its
    last digits do not depend on the backend). Rows: ``L (n + 1)`` per point. Local processes
    and Ray workers each import torch and transformers and load each model once (seconds):
    they pay off on corpora whose points take longer than that.

    Examples
    --------
    >>> rows = corpus_sweep(["abc", "hello"], ["random:gpt2"], top_k=2)
    >>> [(r["doc"], r["layer"], r["kind"], r["n"]) for r in rows][:5]
    [('0', 0, 'layer', 4), ('0', 0, 'position', 4), ('0', 0, 'position', 4), \
('0', 0, 'position', 4), ('0', 0, 'position', 4)]
    >>> layer = rows[0]
    >>> layer["kept_mass"] <= 1.0, layer["column_sum"] is None, layer["spectral_gap"] > 0
    (True, True, True)
    """
    from tgnn.benchmarks.runner import grid, run_sweep

    docs = _documents(documents)
    if isinstance(models, str) or not models:
        raise ShapeError(f"models: expected a non-empty list of model names, got {models!r}")
    names = [check_model(name) for name in models]
    where, weights = check_device(device), check_dtype(dtype)
    if ray_address is not None and where.type != "cpu":  # tasks ask Ray for CPUs, never a GPU
        raise OptionError(f"device: expected cpu with Ray (its sweep tasks get CPUs only), got "
                          f"{device!r}; run without Ray to use {where.type}")
    if layers is not None:
        layers = list(layers)
        for layer in layers:
            _positive("layers", layer, 0)
    _positive("top_k", top_k)
    _positive("max_tokens", max_tokens)
    _positive("gap_max_nodes", gap_max_nodes, 0)
    _positive("workers", workers)
    mode = str(overflow).replace("-", "_")
    if mode not in _OVERFLOWS:
        raise OptionError(f"overflow: expected one of {_OVERFLOWS}, got {overflow!r}")
    common = {"layers": layers, "top_k": top_k, "max_tokens": max_tokens, "overflow": mode,
              "profiles": bool(profiles), "gap_max_nodes": gap_max_nodes, "seed": 0,
              "device": str(where), "dtype": str(weights).removeprefix("torch.")}
    points = [point | {"text": docs[point["doc"]]} | common
              for point in grid(model=names, doc=list(docs))]
    results = run_sweep(sweep_point, points, workers=workers, ray_address=ray_address,
                        desc="corpus sweep", progress=progress)
    return [row for result in results for row in result["rows"]]


def write_rows(rows: Sequence[Mapping[str, Any]], path: str | Path, *,
               force: bool = False) -> Path:
    """Write rows to ``path``: CSV (``.csv``) or JSON lines (``.jsonl``), columns in order.

    CSV leaves ``None`` empty (pandas reads it as NaN); JSON lines write ``null``. Columns are
    :data:`COLUMNS` first, then any other key in order of first appearance.

    The file is written beside ``path`` and moved there once complete (a failed write leaves
    an existing file as it was).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is False (nothing is written); also a
        :class:`FileExistsError`.
    ProtectedPathError
        ``path`` lies inside the installed tgnn package.
    ShapeError
        The suffix is neither ``.csv`` nor ``.jsonl``.

    Examples
    --------
    >>> import tempfile
    >>> out = write_rows([{"model": "m", "n": 3}], Path(tempfile.mkdtemp()) / "rows.csv")
    >>> out.read_text().splitlines()[1]
    'm,,,,,,3,,,,,,,'
    """
    from tgnn._output import atomic_output

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise ShapeError(f"path: expected a .csv or .jsonl file, got {str(path)!r}")
    columns = list(COLUMNS) + [key for key in dict.fromkeys(k for row in rows for k in row)
                               if key not in COLUMNS]
    with atomic_output(path, overwrite=force, option="force=True") as temporary, \
            temporary.open("w", encoding="utf-8", newline="") as handle:
        if suffix == ".csv":
            writer = csv.DictWriter(handle, columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        else:
            for row in rows:
                handle.write(json.dumps({c: _plain(row.get(c)) for c in columns}) + "\n")
    return path


def _plain(value: Any) -> Any:
    """JSON has no NaN: non-finite floats become null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value
