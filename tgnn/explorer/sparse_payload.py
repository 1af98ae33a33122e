"""The explorer page from the graphs of a sparse capture (long inputs, never ``n x n`` per head).

:func:`tgnn.capture_sparse_graphs` with ``head_reduction=None`` and ``top_k=k`` keeps, per
layer, the union over heads of each head's ``k`` strongest keys, with every head's exact weight
on those edges (``edge_attr [E, H]``) and exact row facts from the full rows (``row_entropy``,
``first_token_mass``, ``column_sum``). Each head's own top-k is in the union, so the page's
per-head edges are exactly those of the dense path. The head-mean slot keeps the ``k``
strongest *union* edges by mean weight: the head-mean's own top-k whenever it lies in the
union (a key outside every head's top-k can, rarely, beat one inside on the mean).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import scipy.sparse as sp
import torch

from tgnn.errors import EmptyInputError, ShapeError
from tgnn.explorer.edges import encode_sparse_rows
from tgnn.explorer.payload import LayerRecord, Sensitivity, assemble_payload
from tgnn.explorer.quantities import sparse_row_facts

__all__ = ["sparse_records", "build_sparse_payload", "CAPTURE_FIELDS"]

CAPTURE_FIELDS = ("edge_attr", "row_entropy", "first_token_mass", "column_sum")
"""What each graph must carry: a sparse capture with ``head_reduction=None``."""


def _check_graph(data: Any, index: int, n: int) -> None:
    name = f"graphs[{index}]"
    missing = [f for f in CAPTURE_FIELDS if getattr(data, f, None) is None]
    if missing:
        raise ShapeError(
            f"{name}: expected a sparse capture with per-head weights and row facts "
            f"(tgnn.capture_sparse_graphs(..., head_reduction=None, top_k=...)), missing "
            f"{', '.join(missing)}"
        )
    if int(data.num_nodes) != n:
        raise ShapeError(f"{name}: expected {n} nodes like the tokens list, got "
                         f"{int(data.num_nodes)}")


def sparse_records(graphs: Sequence[Any], n: int, top_k: int) -> Iterator[LayerRecord]:
    """One :class:`LayerRecord` per captured layer graph. Cost O(E H + n H k log k) each."""
    for index, data in enumerate(graphs):
        _check_graph(data, index, n)
        per_head = data.edge_attr.detach().cpu().float()
        mean = per_head.mean(1, keepdim=True)
        block = encode_sparse_rows(data.edge_index, torch.cat([per_head, mean], 1), n, top_k)
        key, query = data.edge_index.cpu().numpy()
        matrix = sp.csr_array((mean[:, 0].double().numpy(), (query, key)), shape=(n, n))
        causal = bool(getattr(data, "is_causal", True))
        yield LayerRecord(block, sparse_row_facts(data, causal), matrix, causal)


def build_sparse_payload(
    graphs: Sequence[Any],
    tokens: Sequence[str],
    *,
    top_k: int = 8,
    rho: float = 0.5,
    sensitivity: Sensitivity | None = None,
    title: str = "",
) -> dict[str, Any]:
    """Everything the page draws, from a sparse capture's graphs (one per layer).

    The rollout profile uses the head-mean of the captured (union) edges: rows sum to less
    than one, so it is the rollout of the kept edges, a lower bound of the full one (and the
    rollout resistance an upper bound). Memory ``O(L H n k)``; time ``O(L^2 H n k)`` for the
    rollouts. See :func:`tgnn.explorer.build_payload` for the returned fields.

    Examples
    --------
    >>> from transformers import GPT2Config, GPT2LMHeadModel
    >>> import tgnn
    >>> model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=10)).eval()
    >>> graphs = tgnn.capture_sparse_graphs(model, {"input_ids": torch.arange(6)[None]},
    ...                                     head_reduction=None, top_k=2)
    >>> p = build_sparse_payload(graphs, list("abcdef"), top_k=2)
    >>> p["layers"], p["heads"], p["source"], p["causal"]
    (2, 2, 'sparse', True)
    """
    tokens = [str(t) for t in tokens]
    if not tokens:
        raise EmptyInputError("tokens: expected at least one token, got none")
    if not len(graphs):
        raise EmptyInputError("graphs: expected at least one layer graph, got none")
    records = sparse_records(graphs, len(tokens), top_k)
    return assemble_payload(records, tokens, top_k=top_k, rho=rho,
                            sensitivity=sensitivity or Sensitivity(), title=title,
                            source="sparse")
