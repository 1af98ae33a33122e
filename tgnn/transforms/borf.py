r"""BORF: batched Ollivier-Ricci flow rewiring (Nguyen et al. 2023)."""

from __future__ import annotations

from typing import Any, Literal

from torch_geometric.data.datapipes import functional_transform

from tgnn._params import check_choice, check_count, check_real
from tgnn.metrics._balanced_forman import affected_edges
from tgnn.metrics._ollivier import orc_edge
from tgnn.transforms._rewire import Pair, RewiringTransform, UndirectedView, net_changes

__all__ = ["BORF", "borf_rewire"]


class _OrcCache:
    """Ollivier-Ricci curvature and transport argmax of every edge, refreshed locally."""

    def __init__(self, view: UndirectedView, alpha: float, pick: str) -> None:
        self.adj = view.neighbour_sets()
        self.alpha = alpha
        self.pick = pick
        self.values: dict[Pair, tuple[float, Pair]] = {}
        self.stale: set[Pair] = set(zip(view.u.tolist(), view.v.tolist(), strict=True))

    def edges(self) -> set[Pair]:
        return {(a, b) for a in range(len(self.adj)) for b in self.adj[a] if a < b}

    def refresh(self) -> dict[Pair, tuple[float, Pair]]:
        for pair in self.stale:
            if pair[1] in self.adj[pair[0]]:
                self.values[pair] = orc_edge(self.adj, *pair, self.alpha, self.pick)
        self.stale = set()
        return self.values

    def toggle(self, a: int, b: int, add: bool) -> None:
        if not add:
            self.stale |= affected_edges(self.adj, a, b)
            self.values.pop((min(a, b), max(a, b)), None)
        (self.adj[a].add if add else self.adj[a].discard)(b)
        (self.adj[b].add if add else self.adj[b].discard)(a)
        if add:
            self.stale |= affected_edges(self.adj, a, b)


def _check_parameters(
    num_iterations: int,
    batch_add: int,
    batch_remove: int,
    removal_bound: float,
    alpha: float,
    pick: str,
) -> tuple[Any, ...]:
    """The parameters of :func:`borf_rewire`, checked (named errors, never NaN)."""
    return (
        check_count(num_iterations, "num_iterations"),
        check_count(batch_add, "batch_add"),
        check_count(batch_remove, "batch_remove"),
        check_real(removal_bound, "removal_bound"),
        check_real(alpha, "alpha", 0.0, 1.0),
        check_choice(pick, "pick", ("cost", "mass")),
    )


def borf_rewire(
    view: UndirectedView,
    num_iterations: int = 3,
    batch_add: int = 4,
    batch_remove: int = 2,
    removal_bound: float = 0.5,
    alpha: float = 0.0,
    pick: Literal["cost", "mass"] = "cost",
) -> tuple[list[Pair], set[Pair]]:
    r"""Run BORF on an undirected simple graph; return added pairs (in order) and removed pairs.

    Each of ``num_iterations`` batches computes the Ollivier-Ricci curvature of every edge; for
    each of the ``batch_add`` most negatively curved edges ``(u, v)`` it adds a pair ``(p, q)``
    from the optimal transport plan from ``m_u`` to ``m_v`` (``pick``, see
    :func:`~tgnn.metrics._ollivier.orc_edge`; skipped when ``p == q`` or already an edge),
    then removes the ``batch_remove`` most positively curved edges of the batch whose curvature
    exceeds ``removal_bound`` (the published code removes them whatever their sign, which
    cuts rings and trees apart). Ties are broken by edge order (deterministic).

    Complexity: one exact transport problem per edge in the first batch, then only for edges
    within one hop of a change (the published code recomputes all curvatures every batch).

    Examples
    --------
    >>> from tgnn.graphs import barbell_graph
    >>> from tgnn.transforms._rewire import undirected_view
    >>> added, removed = borf_rewire(undirected_view(barbell_graph(4)), 1, 1, 0)
    >>> added
    [(0, 7)]
    """
    num_iterations, batch_add, batch_remove, removal_bound, alpha, pick = _check_parameters(
        num_iterations, batch_add, batch_remove, removal_bound, alpha, pick
    )
    cache = _OrcCache(view, alpha, pick)
    original = cache.edges()
    order: list[Pair] = []
    for _ in range(num_iterations):
        values = cache.refresh()
        ranked = sorted(values, key=lambda p: (values[p][0], p))
        if not ranked:
            break
        positive = [p for p in ranked[::-1][:batch_remove] if values[p][0] > removal_bound]
        for edge in ranked[:batch_add]:
            p, q = values[edge][1]
            if p != q and q not in cache.adj[p]:
                cache.toggle(p, q, add=True)
                order.append((min(p, q), max(p, q)))
        for a, b in positive:
            if b in cache.adj[a]:
                cache.toggle(a, b, add=False)
    return net_changes(original, cache.edges(), order)


@functional_transform("borf")
class BORF(RewiringTransform):
    r"""Batched Ollivier-Ricci flow rewiring (Nguyen et al. 2023).

    Runs :func:`borf_rewire` on the undirected simple support (curvature ignores weights, which
    kept edges carry over) and writes the result back: added edges are flagged in
    ``edge_added``, removed edges are dropped (self-loops kept). On causal attention graphs an
    added pair ``u < v`` becomes only ``u -> v`` and incoming weights are renormalised (see
    ``tgnn.transforms``). Deterministic.

    Parameters
    ----------
    num_iterations
        Number of batches, an integer ``>= 0``.
    batch_add, batch_remove
        Edges added (around the most negatively curved edges) and removed (the most positively
        curved) per batch, integers ``>= 0``; ``batch_remove=0`` only adds.
    removal_bound
        Only edges of curvature above it are removed (``float('inf')``: none; NaN is refused).
    alpha
        Idleness of the random-walk measures, in ``[0, 1]`` (0 as in the published code).
    pick
        ``"cost"`` (default) joins the pair with the largest share of the transport cost;
        ``"mass"`` the pair with the largest transported mass, as the published code.
    causal, renormalize
        ``None``: from the data (``is_causal``; renormalise attention graphs).
    added_weight
        ``edge_weight`` of added edges when not renormalising, finite and positive.

    Raises
    ------
    ShapeError
        At construction, for a parameter outside the ranges above.

    References: Nguyen, Hieu, Nguyen, Ho, Osher, Nguyen, "Revisiting over-smoothing and
    over-squashing using Ollivier-Ricci curvature", ICML 2023.

    Examples
    --------
    >>> from tgnn.graphs import barbell_graph
    >>> out = BORF(num_iterations=1, batch_add=1, batch_remove=0)(barbell_graph(4))
    >>> out.edge_index[:, out.edge_added].tolist()
    [[0, 7], [7, 0]]
    """

    def __init__(
        self,
        num_iterations: int = 3,
        batch_add: int = 4,
        batch_remove: int = 2,
        removal_bound: float = 0.5,
        alpha: float = 0.0,
        pick: Literal["cost", "mass"] = "cost",
        causal: bool | None = None,
        renormalize: bool | None = None,
        added_weight: float = 1.0,
    ) -> None:
        super().__init__(causal, renormalize, added_weight)
        checked = _check_parameters(
            num_iterations, batch_add, batch_remove, removal_bound, alpha, pick
        )
        self.num_iterations, self.batch_add, self.batch_remove = checked[:3]
        self.removal_bound, self.alpha, self.pick = checked[3:]

    def rewire(self, view: UndirectedView) -> tuple[list[Pair], set[Pair]]:
        return borf_rewire(
            view,
            self.num_iterations,
            self.batch_add,
            self.batch_remove,
            self.removal_bound,
            self.alpha,
            self.pick,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_iterations={self.num_iterations}, "
            f"batch_add={self.batch_add}, batch_remove={self.batch_remove})"
        )
