"""Measures for the rewiring tests: spectral gap, total resistance, attention helpers.

The gap and the resistance are the public :mod:`tgnn.metrics` functions on the symmetrised
weighted graph ``(W + W^T) / 2`` with self-loops dropped (the DESIGN.md convention); the test
``test_measures.py`` checks them here against an independent dense eigendecomposition.
"""

from __future__ import annotations

import torch
from torch_geometric.data import Data

from tgnn.metrics import spectral_gap as _gap
from tgnn.metrics import total_effective_resistance


def spectral_gap(data: Data) -> float:
    """Second-smallest eigenvalue of the normalised Laplacian ``I - D^-1/2 W D^-1/2``."""
    return _gap(data)


def total_resistance(data: Data) -> float:
    """Kirchhoff index ``n tr(L^+)`` of the weighted Laplacian (inf if disconnected)."""
    return total_effective_resistance(data)


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
