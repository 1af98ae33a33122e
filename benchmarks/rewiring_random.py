"""The random-edge baseline of section 7: as many added edges as a rewiring, placed at random.

A rewiring transform claims to put its edges where they relieve a bottleneck. The baseline that
tests the placement adds the same number of node pairs, drawn uniformly among the pairs
``u < v`` that are not yet connected (self-loops excluded), and writes them back exactly as the
transforms do (:func:`tgnn.transforms._rewire.apply_rewiring`): on a causal attention graph a
pair becomes the edge ``u -> v`` only (key ``u`` read by the later query ``v``, so the mask stays
causal) and rows are renormalised; on an undirected graph it becomes both directions. The
baseline never removes edges (SDRF and BORF also remove some: the comparison is then of the same
number of additions).
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data

from tgnn.errors import ShapeError

__all__ = ["added_pairs", "random_rewiring"]


def added_pairs(data: Data) -> int:
    """Number of distinct node pairs ``{u, v}`` among the edges flagged ``edge_added``.

    Examples
    --------
    >>> d = Data(edge_index=torch.tensor([[0, 1, 0], [1, 0, 2]]), num_nodes=3,
    ...          edge_added=torch.tensor([True, True, False]))
    >>> added_pairs(d)
    1
    """
    flag = data.get("edge_added")
    if flag is None or not bool(flag.any()):
        return 0
    ei = data.edge_index[:, flag]
    lo, hi = torch.minimum(ei[0], ei[1]), torch.maximum(ei[0], ei[1])
    return int(torch.unique(lo * data.num_nodes + hi).numel())


def _free_pairs(data: Data) -> np.ndarray:
    """``[F, 2]`` pairs ``u < v`` with no edge in either direction, in lexicographic order."""
    n = int(data.num_nodes)
    taken = np.zeros((n, n), dtype=bool)
    ei = data.edge_index.numpy()
    taken[ei[0], ei[1]] = taken[ei[1], ei[0]] = True
    u, v = np.triu_indices(n, k=1)
    keep = ~taken[u, v]
    return np.stack([u[keep], v[keep]], axis=1)


def random_rewiring(data: Data, count: int, seed: int) -> Data:
    """``data`` with ``count`` random new node pairs added (flagged in ``edge_added``).

    Causal direction and renormalisation follow the data, as for the rewiring transforms
    (``data.is_causal``: causal edge ``u -> v``, rows renormalised). ``O(n^2)`` memory.

    Raises
    ------
    ShapeError
        ``count`` is negative or more than the number of unconnected pairs.

    Examples
    --------
    >>> from tgnn import attention_to_data
    >>> from tgnn.graphs import sliding_window
    >>> out = random_rewiring(attention_to_data(sliding_window(6, 2)), 3, seed=0)
    >>> added_pairs(out), bool((out.edge_index[0] <= out.edge_index[1]).all())  # causal
    (3, True)
    """
    from tgnn.transforms._rewire import apply_rewiring, resolve_causal, resolve_renormalize

    free = _free_pairs(data)
    if not 0 <= count <= len(free):
        raise ShapeError(f"count: expected 0 <= count <= {len(free)} unconnected pairs, got "
                         f"{count}")
    pick = np.sort(np.random.default_rng(seed).choice(len(free), size=count, replace=False))
    pairs = [(int(u), int(v)) for u, v in free[pick]]
    return apply_rewiring(data, pairs, set(), causal=resolve_causal(data, None),
                          renormalize=resolve_renormalize(data, None))
