r"""Best-first search for the non-edge of least score product ``y_u y_v`` without ``O(n^2)`` work.

FoSR adds the non-edge ``(u, v)`` minimising ``y_u y_v``. The published code forms the full
``n x n`` outer product for every added edge. Sorted once, the products of positive and
negative entries form a grid monotone in both indices, so a heap walk from the most negative
corner meets the minimum after skipping only the existing edges in its way: ``O(n log n)`` to
sort plus ``O(s log s)`` for ``s`` skipped edges.
"""

from __future__ import annotations

import heapq

import numpy as np


def _walk(
    first: np.ndarray,
    second: np.ndarray,
    score: np.ndarray,
    taken: set[int],
    n: int,
    same_list: bool,
) -> tuple[int, int] | None:
    """Smallest ``score[a] * score[b]`` over the monotone grid ``first x second``."""
    if first.size == 0 or second.size == 0:
        return None
    start = (0, 1) if same_list else (0, 0)
    if same_list and first.size < 2:
        return None
    heap = [(float(score[first[start[0]]] * score[second[start[1]]]), *start)]
    seen = {start}
    while heap:
        _, a, b = heapq.heappop(heap)
        u, v = int(first[a]), int(second[b])
        if u != v and min(u, v) * n + max(u, v) not in taken:
            return (min(u, v), max(u, v))
        for na, nb in ((a + 1, b), (a, b + 1)):
            if na < first.size and nb < second.size and (na, nb) not in seen:
                if same_list and na >= nb:
                    continue
                seen.add((na, nb))
                heapq.heappush(heap, (float(score[first[na]] * score[second[nb]]), na, nb))
    return None


def least_product_non_edge(score: np.ndarray, taken: set[int]) -> tuple[int, int] | None:
    """Pair ``u < v``, ``u * n + v`` not in ``taken``, of least ``score[u] * score[v]``.

    Ties are broken towards the pair met first by the walk (deterministic). Returns None when
    every pair is taken.

    Examples
    --------
    >>> least_product_non_edge(np.array([0.5, -1.0, 2.0, 0.1]), taken={1 * 4 + 2})
    (0, 1)
    """
    n = score.size
    order = np.argsort(-score, kind="stable")
    positive = order[score[order] > 0]
    negative = order[score[order] < 0][::-1]
    pair = _walk(positive, negative, score, taken, n, same_list=False)
    if pair is not None:
        return pair
    by_size = np.argsort(np.abs(score), kind="stable")
    return _walk(by_size, by_size, np.abs(score), taken, n, same_list=True)
