"""The command line: help texts, the MiniLM demo table, convert to a graphs file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from tgnn.cli import app
from tgnn.convert import load_graphs

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
    out = tmp_path / "graphs.safetensors"
    result = runner.invoke(
        app,
        ["convert", "minilm", "--text", "a b c", "--text", "a", "--out", str(out), "--top-k", "2"],
    )
    assert result.exit_code == 0, result.output
    graphs = load_graphs(out)
    assert len(graphs) == 6
    first, second = graphs[0].to_data_list()
    assert first.num_nodes == 5 and second.num_nodes == 3  # [CLS] a b c [SEP] / [CLS] a [SEP]
    assert int(torch.bincount(first.edge_index[1]).max()) <= 2


LONG_TEXT = "the cat sat on the mat. " * 12 + "end"  # 291 characters: 292 tokens with BOS


def test_too_long_text_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    for command in ("convert", "view"):
        out = tmp_path / (f"{command}.safetensors" if command == "convert" else "view.html")
        arguments = ["convert", "tgnn-gpt2-tiny"] if command == "convert" else ["view"]
        result = runner.invoke(app, [*arguments, "--text", LONG_TEXT, "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        (line,) = result.output.strip().splitlines()
        assert line == (f"tgnn {command}: 292 tokens exceed the context of GPT2LMHeadModel "
                        "'tgnn-gpt2-tiny' (n_positions = 256); rerun with --overflow keep-last, "
                        "keep-first or windows")
        assert not out.exists()


def test_minilm_too_long_is_refused_before_running() -> None:
    result = runner.invoke(app, ["convert", "minilm", "--text", "word " * 600])
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("tgnn convert:")]
    assert "602 tokens" in line and "BertModel 'minilm'" in line
    assert "max_position_embeddings = 512" in line


def test_convert_keep_last_keeps_bos_and_original_positions(tmp_path: Path) -> None:
    out = tmp_path / "graphs.safetensors"
    result = runner.invoke(app, ["convert", "tgnn-gpt2-tiny", "--text", LONG_TEXT, "--out",
                                 str(out), "--top-k", "2", "--overflow", "keep-last"])
    assert result.exit_code == 0, result.output
    graphs = load_graphs(out)
    assert len(graphs) == 4 and all(g.num_nodes == 256 for g in graphs)
    assert graphs[0].token[0] == 1  # <bos> kept in front
    assert graphs[0].pos.tolist() == [0, *range(292 - 255, 292)]


def test_convert_and_view_windows(tmp_path: Path) -> None:
    out = tmp_path / "graphs.safetensors"
    result = runner.invoke(app, ["convert", "tgnn-gpt2-tiny", "--text", LONG_TEXT, "--out",
                                 str(out), "--top-k", "2", "--overflow", "windows"])
    assert result.exit_code == 0, result.output
    assert "in 2 windows" in result.output
    graphs = load_graphs(out)
    assert [(g.window, g.layer) for g in graphs] == [(w, la) for w in (0, 1) for la in range(4)]
    covered = sorted({int(p) for g in graphs for p in g.pos})
    assert covered == list(range(292)) and all(int(g.pos[0]) == 0 for g in graphs)  # BOS each
    page = tmp_path / "view.html"
    result = runner.invoke(app, ["view", "--text", LONG_TEXT, "--out", str(page), "--overflow",
                                 "windows", "--no-sensitivity", "--top-k", "2"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "view-0.html").is_file() and (tmp_path / "view-1.html").is_file()


def test_convert_sparse_equals_dense_and_carries_row_facts(tmp_path: Path) -> None:
    saved = {}
    for mode in ("--no-sparse", "--sparse", "--sparse --eager"):
        out = tmp_path / f"{mode.replace(' ', '')}.safetensors"
        args = ["convert", "tgnn-gpt2-tiny", "--text", "the cat sat", "--top-k", "3",
                *mode.split(), "--out", str(out)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        saved[mode] = load_graphs(out)
    for dense, sparse, eager in zip(saved["--no-sparse"], saved["--sparse"],
                                    saved["--sparse --eager"], strict=True):
        assert torch.equal(dense.edge_index, sparse.edge_index)
        torch.testing.assert_close(dense.edge_weight, sparse.edge_weight, rtol=0, atol=1e-6)
        assert sparse.row_entropy.shape == (dense.num_nodes, 4)
        assert torch.equal(eager.edge_index, dense.edge_index)
        assert torch.equal(eager.edge_weight, dense.edge_weight)  # bit for bit


def test_convert_eager_needs_sparse_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", "tgnn-gpt2-tiny", "--text", "x", "--eager",
                                 "--out", str(tmp_path / "g.safetensors")])
    assert result.exit_code == 2 and "--eager" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_convert_sparse_refuses_hidden_states_in_one_line(tmp_path: Path) -> None:
    args = ["convert", "tgnn-gpt2-tiny", "--text", "x", "--sparse", "--hidden-states",
            "--out", str(tmp_path / "g.safetensors")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "--sparse" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["convert", "no-such-model", "--text", "hi"], "no-such-model"),
        (["view", "no-such-model"], "no-such-model"),
        (["convert", "tgnn-gpt2-tiny", "--text", "hi", "--dtype", "float8"], "--dtype"),
        (["convert", "tgnn-gpt2-tiny", "--text", "hi", "--device", "nope"], "--device"),
        (["demo", "--device", "nope"], "--device"),
        (["convert", "tgnn-gpt2-tiny", "--text", "hi", "--top-k", "0"], "top_k"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(args: list[str], named: str,
                                               tmp_path: Path) -> None:
    result = runner.invoke(app, [*args, *(["--out", str(tmp_path / "g.safetensors")]
                                         if args[0] == "convert" else [])])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if "Loading weights" not in line]
    assert len(lines) == 1 and named in lines[0], result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a CPU-only build")
def test_cuda_on_a_cpu_only_build_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", "tgnn-gpt2-tiny", "--text", "hi", "--device", "cuda",
                                 "--out", str(tmp_path / "g.safetensors")])
    assert result.exit_code == 2 and "no CUDA device" in result.output


def test_convert_runs_in_bfloat16(tmp_path: Path) -> None:
    out = tmp_path / "g.safetensors"
    result = runner.invoke(app, ["convert", "random:llama", "--text", "hello", "--top-k", "2",
                                 "--dtype", "bfloat16", "--out", str(out)])
    assert result.exit_code == 0, result.output
    from tgnn import load_graphs

    graphs = load_graphs(out)
    assert len(graphs) == 2 and graphs[0].edge_weight.dtype == torch.float32
