"""tgnn.theory at 50k tokens on sparse graphs, under a 3 GiB address-space cap (no n x n array)."""

from __future__ import annotations

from tests._long_context import run_capped

N = 50_000


def test_one_row_quantities_at_50k_tokens_without_a_dense_array() -> None:
    out = run_capped(f"""
    from tgnn.errors import SizeLimitError
    from tgnn.theory import (absorbing_resistance, fundamental_matrix, globally_reachable_nodes,
                             rollout_resistance, rollout_row, ysl_resistance)
    n = {N}
    layers = [random_graph(n, seed) for seed in range(4)]
    rho = np.random.default_rng(0).uniform(0.2, 0.8, size=(4, n))  # per layer and token
    row = timed("rollout_row", lambda: rollout_row(layers, -1, rho))
    out["rollout_sum"] = float(row.sum())
    r_roll = timed("rollout_resistance", lambda: rollout_resistance(layers, rho=0.5, target=-1))
    out["rollout_finite"] = int(np.isfinite(r_roll).sum())
    out["rollout_ends"] = [float(r_roll[0]), float(r_roll[-1])]
    r_abs = timed("absorbing_row", lambda: absorbing_resistance(layers[0], target=-1))
    out["absorbing_finite"] = int(np.isfinite(r_abs).sum())
    out["absorbing_first"] = float(r_abs[0])
    out["absorbing_last"] = float(r_abs[-1])
    kept = layers[1].clone()
    kept.edge_weight = kept.edge_weight * 0.9  # rows summing to 0.9: dropped edges
    out["kept_rollout_sum"] = float(rollout_row([kept], -1, 1.0).sum())
    out["kept_absorbing_first"] = float(absorbing_resistance(kept, target=-1)[0])
    out["reachable"] = globally_reachable_nodes(layers[0]).tolist()
    for name, call in [("ysl", lambda: ysl_resistance(layers[0])),
                       ("fundamental", lambda: fundamental_matrix(layers[0])),
                       ("rollout_all_pairs", lambda: rollout_resistance(layers))]:
        try:
            call()
            out[name] = "computed"
        except SizeLimitError as error:
            out[name] = str(error)
    """)
    assert abs(out["rollout_sum"] - 1.0) < 1e-9  # stochastic layers: the row is a distribution
    assert 2 < out["rollout_finite"] < N  # 4 layers of 10 keys reach token 0, self and some
    assert all(1.0 <= r < float("inf") for r in out["rollout_ends"])
    assert 2 < out["absorbing_finite"] < N and out["absorbing_last"] >= 1.0
    assert out["absorbing_first"] == out["absorbing_last"]  # R(0, i) = N[i, i] (rows sum to 1)
    assert abs(out["kept_rollout_sum"] - 0.9) < 1e-9
    assert out["kept_absorbing_first"] > 0
    assert out["reachable"] == [0]
    for name in ("ysl", "fundamental", "rollout_all_pairs"):
        assert f"n = {N}" in out[name] and "GiB" in out[name] and "target=" in out[name], out
    assert max(out["seconds"].values()) < 5.0, out
