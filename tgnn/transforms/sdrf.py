r"""SDRF: stochastic discrete Ricci flow rewiring (Topping et al. 2022, Algorithm 1)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from torch_geometric.data.datapipes import functional_transform

from tgnn._params import check_choice, check_count, check_real
from tgnn.metrics._balanced_forman import (
    affected_edges,
    bfc_edge,
    bfc_pairs,
    bfc_reference_edge,
)
from tgnn.transforms._rewire import Pair, RewiringTransform, UndirectedView, net_changes

__all__ = ["SDRF", "sdrf_rewire"]

EdgeCurvature = Callable[[list[set[int]], int, int], float]


class _CurvatureState:
    """Curvature of every current edge, kept up to date by local recomputation."""

    def __init__(
        self, view: UndirectedView, curvature: Literal["paper", "reference"], capacity: int
    ) -> None:
        self.adj = view.neighbour_sets()
        self.edge_fn: EdgeCurvature = bfc_edge if curvature == "paper" else bfc_reference_edge
        pairs = list(zip(view.u.tolist(), view.v.tolist(), strict=True))
        values = bfc_pairs(view.adjacency(weighted=False), view.u, view.v,
                           "paper" if curvature == "paper" else "sdrf")
        self.pairs: list[Pair] = pairs
        self.values = np.zeros(len(pairs) + capacity)
        self.values[: len(pairs)] = values
        self.alive = np.zeros(len(pairs) + capacity, dtype=bool)
        self.alive[: len(pairs)] = True
        self.slot: dict[Pair, int] = {p: s for s, p in enumerate(pairs)}

    def _refresh(self, a: int, b: int) -> None:
        for pair in affected_edges(self.adj, a, b):
            s = self.slot.get(pair)
            if s is not None and self.alive[s]:
                self.values[s] = self.edge_fn(self.adj, *pair)

    def add(self, a: int, b: int) -> None:
        pair = (min(a, b), max(a, b))
        self.adj[a].add(b)
        self.adj[b].add(a)
        if pair in self.slot:
            self.alive[self.slot[pair]] = True
        else:
            self.slot[pair] = len(self.pairs)
            self.alive[len(self.pairs)] = True
            self.pairs.append(pair)
        self._refresh(a, b)

    def remove(self, a: int, b: int) -> None:
        touched = affected_edges(self.adj, a, b)
        self.adj[a].discard(b)
        self.adj[b].discard(a)
        self.alive[self.slot[(min(a, b), max(a, b))]] = False
        for pair in touched:
            s = self.slot.get(pair)
            if s is not None and self.alive[s]:
                self.values[s] = self.edge_fn(self.adj, *pair)

    def extreme(self, largest: bool) -> tuple[Pair, float] | None:
        if not self.alive.any():
            return None
        masked = np.where(self.alive, self.values, -np.inf if largest else np.inf)
        s = int(np.argmax(masked) if largest else np.argmin(masked))
        return self.pairs[s], float(self.values[s])

    def improvements(self, u: int, v: int) -> tuple[list[Pair], np.ndarray]:
        """Candidates ``(k, l)`` in ``B1(u) x B1(v)`` and their gain on ``Ric(u, v)``."""
        base = self.edge_fn(self.adj, u, v)
        cands: list[Pair] = []
        gains: list[float] = []
        for k in sorted(self.adj[u] | {u}):
            for l in sorted(self.adj[v] | {v}):
                if k == l or l in self.adj[k]:
                    continue
                self.adj[k].add(l)
                self.adj[l].add(k)
                gains.append(self.edge_fn(self.adj, u, v) - base)
                self.adj[k].discard(l)
                self.adj[l].discard(k)
                cands.append((min(k, l), max(k, l)))
        return cands, np.asarray(gains)


def _check_parameters(
    num_iterations: int, tau: float, removal_bound: float, curvature: str, seed: int
) -> tuple[int, float, float, Literal["paper", "reference"], int]:
    """The parameters of :func:`sdrf_rewire`, checked (named errors, never NaN)."""
    return (
        check_count(num_iterations, "num_iterations"),
        check_real(tau, "tau", 0.0, math.inf),
        check_real(removal_bound, "removal_bound"),
        check_choice(curvature, "curvature", ("paper", "reference")),
        check_count(seed, "seed"),
    )


def _sample(gains: np.ndarray, tau: float, rng: np.random.Generator) -> int:
    """Index drawn with probability ``softmax(tau * gains)``; ``tau = inf``: uniform among the
    largest gains (the limit), ``tau = 0``: uniform. Computed as ``exp(tau (g - max g))``, so no
    ``tau`` overflows."""
    below = gains - gains.max()
    negative = below < 0  # the maxima stay 0 (inf * 0 would be NaN)
    with np.errstate(over="ignore"):  # below -1.8e308 is -inf: weight exp(-inf) = 0, as meant
        below[negative] *= tau
    prob = np.exp(below)
    return int(rng.choice(gains.size, p=prob / prob.sum()))


def sdrf_rewire(
    view: UndirectedView,
    num_iterations: int = 10,
    tau: float = 1.0,
    removal_bound: float = 0.5,
    curvature: Literal["paper", "reference"] = "paper",
    seed: int = 0,
) -> tuple[list[Pair], set[Pair]]:
    r"""Run SDRF on an undirected simple graph; return added pairs (in order) and removed pairs.

    Each iteration takes the edge ``(u, v)`` of least balanced Forman curvature, scores every
    non-edge ``(k, l)`` with ``k`` in ``B1(u)``, ``l`` in ``B1(v)`` by the gain
    ``x_kl = Ric'(u, v) - Ric(u, v)`` it would bring, samples one with probability
    ``softmax(tau * x)`` among those with ``x_kl > 0`` and adds it (``tau = inf``: greedy, the
    largest gain, ties drawn uniformly; ``tau = 0``: uniform); then removes the edge of
    largest curvature if it exceeds ``removal_bound`` (``C+``). It stops early when an iteration
    neither adds nor removes. After every change only edges with an endpoint in
    ``N[a] ∪ N[b]`` are recomputed.

    Complexity: one vectorised curvature pass, then per iteration ``O(|B1(u)| |B1(v)| c)``
    candidate scoring plus ``O(d^2 c)`` local updates, ``c = O(d^2)`` per edge curvature
    (the published code recomputes all curvatures on a dense ``n x n`` matrix each iteration).

    Examples
    --------
    >>> from tgnn.graphs import barbell_graph
    >>> from tgnn.transforms._rewire import undirected_view
    >>> added, removed = sdrf_rewire(undirected_view(barbell_graph(4)), num_iterations=2)
    >>> len(added) > 0
    True
    """
    num_iterations, tau, removal_bound, curvature, seed = _check_parameters(
        num_iterations, tau, removal_bound, curvature, seed
    )
    rng = np.random.default_rng(seed)
    state = _CurvatureState(view, curvature, num_iterations)
    original = set(state.pairs)
    order: list[Pair] = []
    for _ in range(num_iterations):
        changed = False
        lowest = state.extreme(largest=False)
        if lowest is not None:
            cands, gains = state.improvements(*lowest[0])
            good = np.flatnonzero(gains > 1e-12)
            if good.size:
                pick = cands[int(good[_sample(gains[good], tau, rng)])]
                state.add(*pick)
                order.append(pick)
                changed = True
        highest = state.extreme(largest=True)
        if highest is not None and highest[1] > removal_bound:
            state.remove(*highest[0])
            changed = True
        if not changed:
            break
    final = {p for s, p in enumerate(state.pairs) if state.alive[s]}
    return net_changes(original, final, order)


@functional_transform("sdrf")
class SDRF(RewiringTransform):
    r"""Curvature-based rewiring by stochastic discrete Ricci flow (Topping et al. 2022).

    Runs :func:`sdrf_rewire` on the undirected simple support of the graph (curvature ignores
    weights; weights of kept edges are carried over) and writes the result back: added edges are
    flagged in ``edge_added``, removed edges are dropped (every direction, self-loops kept).
    On causal attention graphs an added pair ``u < v`` becomes only ``u -> v`` (``A[v, u]``), so
    causality is kept, and incoming weights are renormalised (see ``tgnn.transforms``).

    Parameters
    ----------
    num_iterations
        Maximum number of iterations, an integer ``>= 0`` (each adds at most one edge and
        removes at most one).
    tau
        Softmax temperature of the sampling, ``>= 0``: large ``tau`` is greedy and
        ``float('inf')`` exactly greedy (the largest gain; ties drawn uniformly), ``0`` uniform.
    removal_bound
        ``C+``: the most positively curved edge is removed when its curvature exceeds it;
        ``float('inf')`` never removes (NaN is refused).
    curvature
        ``"paper"`` (Def. 1 of the paper) or ``"reference"`` (legacy formula of the released code).
    seed
        Seed of the sampling, an integer ``>= 0``; equal seeds give equal outputs.
    causal, renormalize
        ``None``: from the data (``is_causal``; renormalise attention graphs).
    added_weight
        ``edge_weight`` of added edges when not renormalising, finite and positive.

    Raises
    ------
    ShapeError
        At construction, for a parameter outside the ranges above.

    Complexity: see :func:`sdrf_rewire`.

    References: Topping, Di Giovanni, Chamberlain, Dong, Bronstein, "Understanding
    over-squashing and bottlenecks on graphs via curvature", ICLR 2022.

    Examples
    --------
    >>> from tgnn.graphs import barbell_graph
    >>> out = SDRF(num_iterations=3, removal_bound=float("inf"))(barbell_graph(4))
    >>> int(out.edge_added.sum()), out.num_edges - barbell_graph(4).num_edges
    (6, 6)
    """

    def __init__(
        self,
        num_iterations: int = 10,
        tau: float = 1.0,
        removal_bound: float = 0.5,
        curvature: Literal["paper", "reference"] = "paper",
        seed: int = 0,
        causal: bool | None = None,
        renormalize: bool | None = None,
        added_weight: float = 1.0,
    ) -> None:
        super().__init__(causal, renormalize, added_weight)
        self.num_iterations, self.tau, self.removal_bound, self.curvature, self.seed = (
            _check_parameters(num_iterations, tau, removal_bound, curvature, seed)
        )

    def rewire(self, view: UndirectedView) -> tuple[list[Pair], set[Pair]]:
        return sdrf_rewire(
            view, self.num_iterations, self.tau, self.removal_bound, self.curvature, self.seed
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_iterations={self.num_iterations}, tau={self.tau}, "
            f"removal_bound={self.removal_bound}, curvature={self.curvature!r})"
        )
