"""The command line: help texts, the MiniLM demo table, convert to a graphs file."""

from __future__ import annotations

from pathlib import Path

import torch
from typer.testing import CliRunner

from tgnn.cli import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "convert"):
        assert command in result.output


def test_demo_prints_one_row_per_minilm_layer() -> None:
    result = runner.invoke(app, ["demo", "--text", "Graphs explain attention."])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.strip().startswith("│")]
    layer_rows = [row for row in rows if row.split("│")[1].strip().isdigit()]
    assert [int(row.split("│")[1]) for row in layer_rows] == list(range(6))


def test_convert_saves_per_layer_graphs(tmp_path: Path) -> None:
    out = tmp_path / "graphs.pt"
    result = runner.invoke(
        app,
        ["convert", "minilm", "--text", "a b c", "--text", "a", "--out", str(out), "--top-k", "2"],
    )
    assert result.exit_code == 0, result.output
    graphs = torch.load(out, weights_only=False)
    assert len(graphs) == 6
    first, second = graphs[0].to_data_list()
    assert first.num_nodes == 5 and second.num_nodes == 3  # [CLS] a b c [SEP] / [CLS] a [SEP]
    assert int(torch.bincount(first.edge_index[1]).max()) <= 2
