"""Independent dense references for the rewiring tests: spectral gap and total resistance.

Both act on the symmetrised weighted graph ``(W + W^T) / 2`` with self-loops dropped, the
DESIGN.md convention for undirected metrics on directed (attention) graphs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data


def dense_symmetric(data: Data) -> np.ndarray:
    n = int(data.num_nodes)
    w = np.zeros((n, n))
    ei = data.edge_index.numpy()
    ew = np.ones(ei.shape[1]) if data.edge_weight is None else data.edge_weight.double().numpy()
    np.add.at(w, (ei[1], ei[0]), ew)
    w = (w + w.T) / 2
    np.fill_diagonal(w, 0.0)
    return w


def spectral_gap(data: Data) -> float:
    """Second-smallest eigenvalue of the normalised Laplacian ``I - D^-1/2 W D^-1/2``."""
    w = dense_symmetric(data)
    d = w.sum(1)
    inv = np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0.0)
    lap = np.eye(len(d)) - inv[:, None] * w * inv[None, :]
    return float(np.linalg.eigvalsh(lap)[1])


def total_resistance(data: Data) -> float:
    """Kirchhoff index ``n tr(L^+)`` of the weighted Laplacian (inf if disconnected)."""
    w = dense_symmetric(data)
    n = len(w)
    lap = np.diag(w.sum(1)) - w
    vals = np.linalg.eigvalsh(lap)
    if vals[1] < 1e-9:
        return float("inf")
    return float(n * np.sum(1 / vals[1:]))


def attention_data(attention: torch.Tensor, causal: bool) -> Data:
    """A ``Data`` in tgnn's attention convention from a dense ``[n, n]`` matrix."""
    i, j = attention.nonzero(as_tuple=True)
    return Data(
        edge_index=torch.stack([j, i]),
        edge_weight=attention[i, j].double(),
        num_nodes=attention.size(0),
        pos=torch.arange(attention.size(0)),
        is_causal=causal,
    )


def row_sums(data: Data) -> torch.Tensor:
    n = int(data.num_nodes)
    return torch.zeros(n, dtype=torch.float64).index_add_(
        0, data.edge_index[1], data.edge_weight.double()
    )
