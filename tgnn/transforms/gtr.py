r"""GTR: greedy total-resistance rewiring (Black, Wan, Nayyeri, Wang 2023)."""

from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import connected_components
from torch_geometric.data.datapipes import functional_transform

from tgnn._params import check_count
from tgnn.metrics._limits import check_dense
from tgnn.transforms._rewire import Pair, RewiringTransform, UndirectedView, check_added_weight

__all__ = ["GTR", "gtr_rewire"]


def _pseudoinverse(lap: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``L^+ = (L + B)^{-1} - B`` with ``B = sum_c 1_c 1_c^T / n_c`` over components ``c``."""
    block = np.zeros_like(lap)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        block[np.ix_(members, members)] = 1.0 / members.size
    return np.linalg.inv(lap + block) - block


def _join_components(lap: np.ndarray, labels: np.ndarray) -> Pair:
    """Edge joining the two largest components at their resistance centres.

    For a bridge ``(a, b)`` between components ``G_1, G_2`` the total resistance is
    ``R_1 + R_2 + n_2 sum_i R(i, a) + n_1 sum_j R(b, j) + n_1 n_2 / w``, and
    ``sum_{i in G_1} R(i, a) = n_1 L^+_aa + tr(L^+_1)``: the best ``a`` minimises ``L^+_aa``.
    """
    pinv = _pseudoinverse(lap, labels)
    sizes = np.bincount(labels)
    first, second = np.argsort(-sizes, kind="stable")[:2]
    diag = np.diag(pinv)
    centres = []
    for c in (first, second):
        members = np.flatnonzero(labels == c)
        centres.append(int(members[np.argmin(diag[members])]))
    return (min(centres), max(centres))


def _best_pair(pinv: np.ndarray, sq: np.ndarray, free: np.ndarray, weight: float) -> Pair | None:
    """Non-edge maximising ``w ||L^+ b||^2 / (1 + w R_uv)``, ``b = e_u - e_v``."""
    dp, dq = np.diag(pinv), np.diag(sq)
    resistance = dp[:, None] + dp[None, :] - 2 * pinv
    drop = weight * (dq[:, None] + dq[None, :] - 2 * sq) / (1 + weight * resistance)
    drop = np.where(free, drop, -np.inf)
    best = int(np.argmax(drop))
    if not np.isfinite(drop.flat[best]):
        return None
    u, v = divmod(best, pinv.shape[0])
    return (u, v)


def gtr_rewire(view: UndirectedView, num_edges: int = 10, added_weight: float = 1.0) -> list[Pair]:
    r"""Add ``num_edges`` edges, each the one that most lowers the total effective resistance.

    Total resistance ``R_tot = n tr(L^+)``. Adding ``(u, v)`` of weight ``w`` is the rank-one
    update ``L + w b b^T`` (``b = e_u - e_v``), and by Sherman-Morrison

    .. math:: \Delta R_{tot} = -n \frac{w \|L^+ b\|^2}{1 + w R_{uv}},\qquad
              L^+ \leftarrow L^+ - \frac{w\, L^+ b\, b^T L^+}{1 + w R_{uv}}

    so with ``L^+`` and ``(L^+)^2`` kept up to date every candidate is scored in ``O(1)`` and
    each step costs ``O(n^2)`` (one dense solve ``O(n^3)`` at the start). A disconnected graph
    (isolated nodes included) has infinite ``R_tot``: its two largest components are first
    joined at their resistance centres, one edge per step, until it is connected. Graphs above
    ``tgnn.metrics.DENSE_MAX_NODES`` nodes raise :class:`~tgnn.errors.SizeLimitError` (four
    dense ``n x n`` arrays and ``O(n^3)`` work) before anything is allocated.

    Reference: Black, Wan, Nayyeri, Wang, "Understanding oversquashing in GNNs through the lens
    of effective resistance", ICML 2023.

    Examples
    --------
    >>> from tgnn.graphs import path_graph
    >>> from tgnn.transforms._rewire import undirected_view
    >>> gtr_rewire(undirected_view(path_graph(4)), num_edges=1)  # closes P4 into C4
    [(0, 3)]
    """
    num_edges = check_count(num_edges, "num_edges")
    added_weight = check_added_weight(added_weight)
    n = view.num_nodes
    check_dense(n, "gtr_rewire (GTR)", "FoSR or SDRF, which stay sparse")
    w = view.adjacency(weighted=True).toarray()
    lap = np.diag(w.sum(1)) - w
    free = np.triu(w == 0, k=1)
    added: list[Pair] = []
    while len(added) < num_edges:
        count, labels = connected_components(w != 0, directed=False)
        if count <= 1:  # connected, or no nodes at all
            break
        u, v = _join_components(lap, labels)
        added.append((u, v))
        w[u, v] = w[v, u] = added_weight
        lap[[u, v], [u, v]] += added_weight
        lap[u, v] = lap[v, u] = -added_weight
        free[u, v] = False
    if len(added) >= num_edges or n < 2:
        return added
    pinv = _pseudoinverse(lap, np.zeros(n, dtype=np.int64))
    sq = pinv @ pinv
    while len(added) < num_edges:
        pair = _best_pair(pinv, sq, free, added_weight)
        if pair is None:
            break
        u, v = pair
        z = pinv[:, u] - pinv[:, v]
        q = sq[:, u] - sq[:, v]
        c = added_weight / (1 + added_weight * (z[u] - z[v]))
        sq += c * c * float(z @ z) * np.outer(z, z) - c * (np.outer(q, z) + np.outer(z, q))
        pinv -= c * np.outer(z, z)
        free[u, v] = False
        added.append(pair)
    return added


@functional_transform("gtr")
class GTR(RewiringTransform):
    r"""Greedy total-resistance rewiring (Black et al. 2023): add the edges that most lower it.

    Runs :func:`gtr_rewire` on the symmetrised weighted support (dense: meant for graphs of up to a
    few thousand nodes) and appends the added edges, flagged in ``edge_added``. On causal attention
    graphs an added pair ``u < v`` becomes only ``u -> v`` and incoming weights are renormalised
    (see ``tgnn.transforms``). Deterministic (ties go to the first pair in row-major order).

    Parameters
    ----------
    num_edges
        Number of edges to add, an integer ``>= 0`` (fewer if the graph becomes complete).
    causal, renormalize
        ``None``: from the data (``is_causal``; renormalise attention graphs).
    added_weight
        Conductance of added edges in the resistance model and their ``edge_weight`` (when not
        renormalising), finite and positive (zero joined the same pair again and again).

    Raises
    ------
    ShapeError
        At construction, for a parameter outside the ranges above.

    Examples
    --------
    >>> from tgnn.graphs import path_graph
    >>> out = GTR(num_edges=1)(path_graph(4))
    >>> out.edge_index[:, out.edge_added].tolist()
    [[0, 3], [3, 0]]
    """

    def __init__(
        self,
        num_edges: int = 10,
        causal: bool | None = None,
        renormalize: bool | None = None,
        added_weight: float = 1.0,
    ) -> None:
        super().__init__(causal, renormalize, added_weight)
        self.num_edges = check_count(num_edges, "num_edges")

    def rewire(self, view: UndirectedView) -> tuple[list[Pair], set[Pair]]:
        return gtr_rewire(view, self.num_edges, self.added_weight), set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_edges={self.num_edges})"
