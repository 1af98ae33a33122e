"""Graph metrics at 50k tokens on sparse attention graphs, under a 3 GiB address-space cap.

Each test runs in a fresh interpreter (imports take about 5 s of its time).
"""

from __future__ import annotations

from tests._long_context import run_capped

N = 50_000


def test_expander_at_50k_tokens_gap_without_a_factor_and_refused_source() -> None:
    out = run_capped(f"""
    from tgnn.errors import SizeLimitError
    from tgnn.metrics import FACTOR_MAX, effective_resistance, laplacian, spectral_gap
    from tgnn.metrics._limits import factor_size
    expander = random_graph({N})
    out["gap"] = timed("spectral_gap", lambda: spectral_gap(expander))
    out["fill_refused"] = factor_size(laplacian(expander))[0] > FACTOR_MAX
    try:
        timed("source_refused", lambda: effective_resistance(expander, source={N} - 1))
        out["source"] = "computed"
    except SizeLimitError as error:
        out["source"] = str(error)
    """)
    assert 0.05 < out["gap"] < 1.0, out  # random long-range keys and a sink: a large gap
    assert out["fill_refused"], out  # so the gap came from the factor-free path
    assert "factor_max" in out["source"] and "pairs=" in out["source"], out
    assert out["peak_rss_mib"] < 3 * 1024, out


def test_resistance_from_the_last_token_at_50k_tokens_without_a_dense_array() -> None:
    out = run_capped(f"""
    from tgnn.errors import SizeLimitError
    from tgnn.metrics import effective_resistance
    n = {N}
    local = local_graph(n, window=32)
    row = timed("source_row", lambda: effective_resistance(local, source=n - 1)).numpy()
    pairs = torch.tensor([[n - 1] * 3, [0, n // 2, n - 2]])
    out["row"] = [row[0], row[n // 2], row[n - 2]]
    out["pairs"] = effective_resistance(local, pairs=pairs).tolist()
    out["self"] = float(row[n - 1])
    try:
        effective_resistance(local)
        out["all_pairs"] = "computed"
    except SizeLimitError as error:
        out["all_pairs"] = str(error)
    """)
    assert out["self"] == 0.0
    for got, check in zip(out["row"], out["pairs"], strict=True):
        assert abs(got - check) <= 1e-9 * check, out  # selected inversion = sparse solves
    assert "n = 50000" in out["all_pairs"] and "source=" in out["all_pairs"], out
    assert out["peak_rss_mib"] < 3 * 1024, out
