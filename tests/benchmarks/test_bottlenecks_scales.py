"""Section 1's common scale: every graph rescaled to mean weighted degree 1, checked against closed
forms (path, complete graph), commute times (C = vol R) and invariance under weight scaling."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from tgnn.benchmarks.bottlenecks import measure, unit_scale
from torch_geometric.data import Data


def _graph(edge_index: torch.Tensor, n: int, weight: torch.Tensor | None = None,
           name: str = "g", kind: str = "GNN") -> Data:
    data = Data(edge_index=edge_index, edge_weight=weight, num_nodes=n)
    data.name, data.kind = name, kind
    return data


def _path(n: int, weight: float = 1.0) -> Data:
    src = torch.arange(n - 1)
    ei = torch.cat([torch.stack([src, src + 1]), torch.stack([src + 1, src])], dim=1)
    return _graph(ei, n, torch.full((ei.shape[1],), weight, dtype=torch.float64))


@pytest.mark.parametrize("n", [5, 9])
def test_path_unit_scale_closed_form(n: int) -> None:
    """P_n: dbar = 2(n-1)/n, Kf = n(n^2-1)/6, max R = n-1; rescaled values are dbar times them,
    and max R at unit degree is the end-to-end commute time per node, 2(n-1)^2 / n."""
    row = measure(_path(n))
    dbar = 2 * (n - 1) / n
    assert row["mean_degree"] == pytest.approx(dbar, rel=1e-12)
    assert row["total_R_unit"] == pytest.approx(dbar * n * (n * n - 1) / 6, rel=1e-10)
    assert row["mean_R_unit"] == pytest.approx(dbar * (n + 1) / 3, rel=1e-10)
    assert row["max_R_unit"] == pytest.approx(row["commute_first_last"] / n, rel=1e-10)
    assert row["max_R_unit"] == pytest.approx(2 * (n - 1) ** 2 / n, rel=1e-10)


def test_unit_scale_is_invariant_to_weight_scaling_and_keeps_raw_values() -> None:
    """Weights x 7: raw resistances / 7, rescaled ones unchanged (to rounding)."""
    one, seven = measure(_path(6)), measure(_path(6, weight=7.0))
    assert seven["total_R"] == pytest.approx(one["total_R"] / 7, rel=1e-12)
    for key in ("total_R_unit", "mean_R_unit", "max_R_unit"):
        assert seven[key] == pytest.approx(one[key], rel=1e-10)


def test_row_stochastic_complete_graph_meets_unit_weight_complete_graph() -> None:
    """Uniform bidirectional attention on n tokens (A = J/n, self-loops 1/n) and the unit-weight
    complete graph K_n are the same graph up to a weight factor: one point on the common scale,
    where their raw total resistances differ by the factor n. Reference: networkx's
    resistance distance on K_n (2/n per pair)."""
    n = 6
    full = torch.ones(n, n, dtype=torch.float64)
    rows, cols = full.nonzero().T
    attention = _graph(torch.stack([cols, rows]), n, full[rows, cols] / n, kind="attention")
    off = rows != cols
    complete = _graph(torch.stack([cols[off], rows[off]]), n, full[rows, cols][off])
    a, k = measure(attention), measure(complete)
    assert a["mean_degree"] == pytest.approx((n - 1) / n)  # 1 - mean self-attention
    assert a["total_R"] == pytest.approx(n * k["total_R"], rel=1e-10)
    assert a["mean_R_unit"] == pytest.approx(k["mean_R_unit"], rel=1e-10)
    pair = nx.resistance_distance(nx.complete_graph(n), 0, 1)
    assert k["mean_R_unit"] == pytest.approx((n - 1) * pair, rel=1e-10)


def test_unit_scale_of_one_node_has_no_pairs() -> None:
    out = unit_scale(_graph(torch.zeros(2, 0, dtype=torch.long), 1), 0.0, 0.0)
    assert out["total_R_unit"] == 0.0 and out["mean_R_unit"] == 0.0


def test_section_claims_against_the_complete_graph_closed_form() -> None:
    """``K_n`` at mean weighted degree 1 has mean pairwise resistance ``2 (n - 1) / n``
    (networkx's resistance distance on the unit-weight complete graph, rescaled)."""
    from tgnn.benchmarks.bottleneck_claims import complete_graph_mean_resistance, section_claims
    from tgnn.benchmarks.bottlenecks import build_graphs

    n = 7
    unit = nx.complete_graph(n)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    mean = sum(nx.resistance_distance(unit, i, j) for i, j in pairs) / len(pairs)
    assert complete_graph_mean_resistance(n) == pytest.approx(mean * (n - 1))  # degree n-1 -> 1
    rows = [measure(g) for g in build_graphs(12, 8, model_layers=False,
                                             causal_model="tgnn-gpt2-tiny")]
    verdicts = [claim.verdict for claim in section_claims(rows)]
    assert verdicts == ["reproduced", "reproduced"]
