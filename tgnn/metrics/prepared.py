"""A graph validated once, with what several metrics share cached: :func:`prepare`.

Every graph metric and transform accepts a :class:`PreparedGraph` wherever it accepts a PyG
``Data`` or the triple ``edge_index, edge_weight, num_nodes``, and gives the same value. The
prepared graph skips the repeated validation of the edge list and keeps, per symmetrisation
rule, the adjacency ``W`` and what the metrics derive from it: connected components, the
Laplacian, the dense ``L^+`` of each component, the factorised grounded Laplacian and the two
smallest Laplacian eigenvalues. A study that asks a graph for its spectral gap, Cheeger bounds,
all-pairs resistance, total resistance and commute times so factorises it once.

Cached values are never handed out to be modified: the metrics copy what they change. The
cache is bounded by what was asked (one dense ``n x n`` array per component for the dense
resistances); drop the object to free it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from tgnn.errors import GraphError, OptionError
from tgnn.metrics._input import edges

__all__ = ["PreparedGraph", "prepare", "cached"]

Symmetrize = Literal["mean", "sum", "max"] | None
RULES: tuple[Symmetrize, ...] = ("mean", "sum", "max", None)
_CACHE = "_tgnn_cache"
T = TypeVar("T")


class PreparedGraph:
    """One validated graph and the matrices the metrics derive from it (see :func:`prepare`).

    Attributes
    ----------
    num_nodes:
        Number of nodes ``n``.
    edge_index:
        ``[2, E]`` int64 tensor of the input's edges (self-loops and duplicates kept, as given).
    edge_weight:
        ``[E]`` float64 tensor of their weights (ones when the input had none).
    """

    def __init__(self, graph: Any, edge_weight: Any = None, num_nodes: Any = None) -> None:
        self._row, self._col, self._weight, self.num_nodes = edges(graph, edge_weight, num_nodes)
        self._adjacency: dict[Symmetrize, sp.csr_array] = {}

    @property
    def edge_index(self) -> Tensor:
        return torch.from_numpy(np.stack([self._row, self._col]))

    @property
    def edge_weight(self) -> Tensor:
        return torch.from_numpy(self._weight.copy())

    @property
    def num_edges(self) -> int:
        return len(self._row)

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """The validated ``(row, col, weight, n)`` (read-only views)."""
        return _frozen(self._row), _frozen(self._col), _frozen(self._weight), self.num_nodes

    def adjacency(self, symmetrize: Symmetrize = "mean") -> sp.csr_array:
        r"""Symmetric float64 adjacency ``W`` (zero diagonal, sorted indices), built once per rule.

        ``W_{ij}`` sums the weights of the edges ``i -> j``; the rules are ``"mean"``
        ``(W + W^T)/2``, ``"sum"`` ``W + W^T``, ``"max"`` ``max(W, W^T)`` and ``None`` (the
        input must already be symmetric). Self-loops and zero weights are not edges.
        """
        if symmetrize not in RULES:
            raise OptionError(f"symmetrize: expected one of {RULES}, got {symmetrize!r}")
        if symmetrize not in self._adjacency:
            W = _symmetric(self._row, self._col, self._weight, self.num_nodes, symmetrize)
            setattr(W, _CACHE, {})
            self._adjacency[symmetrize] = W
        return self._adjacency[symmetrize]

    def to_data(self) -> Any:
        """The graph as a PyG ``Data`` (``edge_index``, ``edge_weight``, ``num_nodes``)."""
        from torch_geometric.data import Data

        return Data(edge_index=self.edge_index, edge_weight=self.edge_weight,
                    num_nodes=self.num_nodes)

    def __repr__(self) -> str:
        rules = ", ".join(str(rule) for rule in self._adjacency) or "none yet"
        return (f"PreparedGraph(num_nodes={self.num_nodes}, num_edges={self.num_edges}, "
                f"adjacency built for: {rules})")


def prepare(graph: Any, edge_weight: Any = None, num_nodes: Any = None) -> PreparedGraph:
    """Validate a graph once and cache what several metrics share (a :class:`PreparedGraph`).

    Parameters
    ----------
    graph:
        A PyG ``Data`` (one graph; a ``Batch`` of several is refused), an ``edge_index``
        ``[2, E]`` with ``num_nodes``, or a :class:`PreparedGraph` (returned as it is).
    edge_weight:
        Optional ``[E]`` non-negative finite weights (with a bare ``edge_index``).
    num_nodes:
        Number of nodes (required with a bare ``edge_index``).

    Returns
    -------
    PreparedGraph
        Accepted by every graph metric and transform in place of the input, with equal
        results; the validation and the factorisations happen once.

    Examples
    --------
    >>> from tgnn.metrics import cheeger_bounds, spectral_gap, total_effective_resistance
    >>> ring = prepare(torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]]), num_nodes=4)
    >>> # each direction given once: weight 1/2 per undirected edge by the "mean" rule
    >>> round(spectral_gap(ring, normalization=None), 12), total_effective_resistance(ring)
    (1.0, 10.0)
    >>> lo, hi = cheeger_bounds(ring)   # reuses the eigenvalues computed for the gap
    """
    if isinstance(graph, PreparedGraph):
        if edge_weight is not None or num_nodes is not None:
            raise GraphError("edge_weight, num_nodes: expected None with a PreparedGraph (it "
                             "carries its own), got "
                             f"edge_weight={type(edge_weight).__name__}, num_nodes={num_nodes!r}")
        return graph
    return PreparedGraph(graph, edge_weight, num_nodes)


def cached(W: sp.csr_array, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """``compute()``, remembered under ``key`` when ``W`` is a prepared graph's adjacency.

    Callers must not modify what this returns (copy first): it may be the cached object.
    """
    store: dict[tuple[Any, ...], Any] | None = getattr(W, _CACHE, None)
    if store is None:
        return compute()
    if key not in store:
        store[key] = compute()
    value: T = store[key]
    return value


def _frozen(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def _symmetric(
    row: np.ndarray, col: np.ndarray, w: np.ndarray, n: int, symmetrize: Symmetrize
) -> sp.csr_array:
    keep = (row != col) & (w > 0)
    W = sp.csr_array((w[keep], (row[keep], col[keep])), shape=(n, n))
    W.sum_duplicates()
    WT = W.T.tocsr()
    if symmetrize is None:
        if W.nnz and abs(W - WT).max() > 1e-12 * float(abs(W).max()):
            raise GraphError(
                "edge_index: expected an undirected graph (W == W^T) with symmetrize=None, "
                "got a directed one; pass symmetrize='mean', 'sum' or 'max'"
            )
        S = W
    elif symmetrize == "mean":
        S = (W + WT) * 0.5
    elif symmetrize == "sum":
        S = W + WT
    else:
        S = W.maximum(WT)
    S = sp.csr_array(S, dtype=np.float64)
    S.eliminate_zeros()
    S.sort_indices()
    return S
