"""Smoke runs of every experiment in its tiniest configuration, checking the numbers' invariants
against closed forms (THEORY.md, Kirchhoff index of a path) and monotonicity laws."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from tgnn.benchmarks.report import BenchConfig


@pytest.fixture
def config(tmp_path: Path) -> BenchConfig:
    return BenchConfig(quick=True, smoke=True, out=tmp_path, progress=False)


def _figures_exist(result, config: BenchConfig) -> None:  # type: ignore[no-untyped-def]
    for fig in result.figures:
        assert (Path(config.out) / fig).stat().st_size > 1000


def test_bottlenecks_closed_forms(config: BenchConfig) -> None:
    from tgnn.benchmarks import bottlenecks

    result = bottlenecks.run(config)
    rows = {r["graph"]: r for r in result.numbers["rows"]}
    path = rows["path"]
    n = path["n"]
    assert path["total_R"] == pytest.approx(n * (n * n - 1) / 6)  # Kirchhoff index of P_n
    assert path["max_R"] == pytest.approx(n - 1)
    uni = rows["uniform causal"]
    m = uni["n"]
    harmonic = sum(1 / k for k in range(1, m))
    assert uni["R_abs"] == pytest.approx(m / (m - 1))  # N[n, n] = n / (n - 1)
    assert uni["R_group"] == pytest.approx(1 + harmonic + m / (m - 1))
    for row in result.numbers["rows"]:
        assert 0 <= row["cheeger_lo"] <= row["cheeger_hi"]
        assert 0 < row["spectral_gap"] <= 2
        if row.get("R_roll") is not None and math.isfinite(row["R_roll"]):
            assert row["R_roll"] >= 1.0  # 1 / (a probability)
    _figures_exist(result, config)


def test_position_bias_scores_and_surrogate_equality(config: BenchConfig) -> None:
    from tgnn.benchmarks import position_bias

    result = position_bias.run(config)
    assert result.numbers["surrogate_gap_max"] < 1e-6  # bound is equality in the linear model
    for row in result.numbers["rows"]:
        assert row["C_star"] > 0 and row["spread"] >= 1
        for value in row["spearman"].values():
            assert math.isnan(value) or -1 <= value <= 1
        assert np.all(np.asarray(row["resistances"]["R_roll"]) >= 1 - 1e-9)
    again = position_bias.position_point(result.numbers["rows"][0]["point"])
    assert again["spearman"] == result.numbers["rows"][0]["spearman"]  # same seed, same numbers
    _figures_exist(result, config)


def test_representational_collapse_rows(config: BenchConfig) -> None:
    from tgnn.benchmarks import representational_collapse

    result = representational_collapse.run(config)
    rows = result.numbers["results"][0]["rows"]
    assert {r["dtype"] for r in rows} == {"fp32", "bf16", "fp16"}
    for r in rows:
        assert r["distance"] >= 0
        assert r["equal"] == (r["distance"] == 0)
    assert all(r["distance"] > 0 for r in rows if r["dtype"] == "fp32")


def test_init_collapse_ranges_and_entropy_falls_with_scale(config: BenchConfig) -> None:
    from tgnn.benchmarks import init_collapse

    result = init_collapse.run(config)
    rows = result.numbers["rows"]
    for r in rows:
        assert all(-1 - 1e-9 <= c <= 1 + 1e-9 for c in r["cosine"])
        assert all(0 <= e <= 1 + 1e-9 for e in r["entropy"])
        assert r["grad_ratio"] > 0
    first = {(r["point"]["beta"], r["point"]["alpha"]): r["entropy"][0] for r in rows}
    assert first[(4.0, 0.0)] < first[(0.5, 0.0)]  # sharper logits, lower entropy
    assert result.numbers["beta_c"] == pytest.approx(math.sqrt(2))  # paper's beta_c(rho = 0)
    assert any("REM critical scale" in c["paper"] for c in result.numbers["claims"])


def test_consensus_attention_only_contracts(config: BenchConfig) -> None:
    from tgnn.benchmarks import consensus

    result = consensus.run(config)
    for r in result.numbers["rows"]:
        assert all(0 <= m <= 1 + 1e-12 for m in r["mu"])
        if r["point"]["variant"] == "attention only":  # x <- A x with A stochastic, causal
            assert r["mu"][-1] < r["mu"][0] and r["rate"] > 0


def test_sinks_pause_graph_part(config: BenchConfig) -> None:
    from tgnn.benchmarks import sinks_pause

    result = sinks_pause.run(config)
    graphs = {r["graph"]: r for r in result.numbers["graphs"]}
    n = 10
    assert graphs["uniform causal"]["R_abs"] == pytest.approx(n / (n - 1))
    # start pauses put absorbing tokens before the content: the first token is farther
    assert graphs["+ pause start (2)"]["R_abs"] > graphs["uniform causal"]["R_abs"]
    for row in result.numbers["model"]:
        assert row["R_roll"] >= 1 and row["loss"] > 0


def test_rewiring_adding_edges_lowers_resistance(config: BenchConfig) -> None:
    from tgnn.benchmarks import rewiring

    result = rewiring.run(config)
    rows = result.numbers["graphs"]
    for graph in ("barbell", "clique-path"):  # unit weights, no removal: Rayleigh monotonicity
        base = next(r for r in rows if r["graph"] == graph and r["transform"] == "none")
        for name in ("FoSR", "GTR"):
            new = next(r for r in rows if r["graph"] == graph and r["transform"] == name)
            assert new["total_R"] <= base["total_R"] + 1e-9 and new["added"] > 0
    masks = {r["mask"]: r for r in result.numbers["model"]}
    assert masks["full causal (no mask)"]["allowed_pairs"] == 12 * 13 // 2


def test_speed_rows_and_suite_report(config: BenchConfig) -> None:
    from tgnn.benchmarks.speed import speed_rows
    from tgnn.benchmarks.suite import EXPERIMENTS, run_suite

    assert speed_rows({"a": [{"name": "x", "ratio": 2.0}, {"name": "y"}], "b": 3}) == [
        {"name": "x", "ratio": 2.0}]
    _, report = run_suite(["speed", "init_collapse"], out=config.out, smoke=True,
                          progress=False)
    text = report.read_text()
    speed = list(EXPERIMENTS).index("speed") + 1  # sections keep the registry's numbers
    assert "## 4. Rank vs entropy collapse" in text and f"## {speed}. Speed" in text
    assert "](init_collapse/phase_diagram.png)" in text
    assert (Path(config.out) / "init_collapse" / "results.json").exists()
    with pytest.raises(KeyError):
        run_suite(["nope"], out=config.out, progress=False)
    assert len(EXPERIMENTS) == 10


def test_cli_bench_wiring(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tgnn.cli import app

    runner = CliRunner()
    help_text = runner.invoke(app, ["bench", "--help"]).output
    assert "--quick" in help_text and "--ray" in help_text and "--out" in help_text
    bad = runner.invoke(app, ["bench", "no-such-experiment", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "no-such-experiment" in bad.stderr


def test_long_context_exact_and_measured(config: BenchConfig) -> None:
    from tgnn.benchmarks import long_context

    result = long_context.run(config)
    for check in result.numbers["exactness"]:
        assert check["same_edges"] and check["met"]
    for row in result.numbers["scale"]:
        assert "error" not in row
        assert row["capture_s"] > 0 and row["sdpa_s"] > 0
        assert row["edges_per_layer"] <= row["n"] * long_context.TOP_K
        assert 0 < row["mean_kept_mass"] <= 1 + 1e-6
    _figures_exist(result, config)


def test_long_profiles_uniform_closed_forms(config: BenchConfig) -> None:
    from fractions import Fraction

    from tgnn.benchmarks import long_profiles

    n = 6
    uniform = long_profiles.uniform_profiles(n, layers=2, rho=0.5)
    a = [[Fraction(1, i + 1) if j <= i else Fraction(0) for j in range(n)] for i in range(n)]
    row = [Fraction(int(j == n - 1)) for j in range(n)]
    for _ in range(2):  # exact rollout of uniform causal attention, rational arithmetic
        row = [row[j] / 2 + sum(row[i] * a[i][j] for i in range(n)) / 2 for j in range(n)]
    assert np.allclose(uniform["rollout"], [float(v) for v in row], rtol=1e-12, atol=0)
    received = [sum(a[i][s] for i in range(n)) / (n - s) for s in range(n)]
    assert np.allclose(uniform["received"], [float(v) for v in received], rtol=1e-12, atol=0)
    result = long_profiles.run(config)
    for label, profile in result.numbers["profiles"].items():
        rollout = np.asarray(profile["rollout"])
        assert np.all(rollout >= 0) and rollout.sum() == pytest.approx(1.0), label
        assert np.all(np.asarray(profile["first_token_mass"]) <= 1 + 1e-6)
    _figures_exist(result, config)
