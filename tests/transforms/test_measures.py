"""The rewiring tests' measures (tgnn.metrics) against an independent dense eigendecomposition."""

from __future__ import annotations

import numpy as np
import pytest
from rewire_measure import attention_data, spectral_gap, total_resistance
from torch_geometric.data import Data

from tgnn.graphs import barbell_graph, binary_tree, sliding_window
from tgnn.transforms import GTR, SDRF


def _dense_symmetric(data: Data) -> np.ndarray:
    n = int(data.num_nodes)
    w = np.zeros((n, n))
    ei = data.edge_index.numpy()
    ew = np.ones(ei.shape[1]) if data.edge_weight is None else data.edge_weight.double().numpy()
    np.add.at(w, (ei[1], ei[0]), ew)
    w = (w + w.T) / 2
    np.fill_diagonal(w, 0.0)
    return w


@pytest.mark.parametrize(
    "data",
    [
        barbell_graph(4, 1),
        SDRF(num_iterations=5)(binary_tree(3)),
        GTR(num_edges=3)(attention_data(sliding_window(12, 2), causal=True)),
    ],
)
def test_measures_equal_dense_eigendecomposition(data: Data):
    w = _dense_symmetric(data)
    d = w.sum(1)
    inv = 1 / np.sqrt(d)
    normalised = np.linalg.eigvalsh(np.eye(len(d)) - inv[:, None] * w * inv[None, :])
    combinatorial = np.linalg.eigvalsh(np.diag(d) - w)
    assert spectral_gap(data) == pytest.approx(normalised[1], rel=1e-9)
    assert total_resistance(data) == pytest.approx(len(d) * np.sum(1 / combinatorial[1:]), rel=1e-9)
