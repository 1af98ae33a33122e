"""The corpus sweep: the table's schema and values, the same rows in this process, in spawned
processes and on a local Ray instance, in other dtypes up to rounding, the CSV / JSON lines
writer, and ``tgnn sweep``."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from tgnn import sweep
from tgnn.cli import app
from tgnn.errors import (
    ContextLengthError,
    EmptyInputError,
    OptionError,
    OutputExistsError,
    ShapeError,
)
from tgnn.sweep import COLUMNS, corpus_sweep, write_rows

DOCS = {"cat": "The cat sat on the mat.", "graph": "Graphs explain attention!"}
MODELS = ["random:gpt2", "random:llama"]
LONG = "the cat sat on the mat. " * 12 + "end"  # 292 tokens with BOS in tgnn-gpt2-tiny (256)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, object]]:
    return corpus_sweep(DOCS, MODELS, top_k=3)


def test_rows_follow_the_schema_and_order(rows: list[dict[str, object]]) -> None:
    assert all(tuple(row) == COLUMNS for row in rows)
    layer_rows = [row for row in rows if row["kind"] == "layer"]
    # models outer, documents inner, then layers; each layer row followed by its n tokens
    assert [(r["model"], r["doc"], r["layer"]) for r in layer_rows] == [
        (m, d, layer) for m in MODELS for d in DOCS for layer in (0, 1)]
    start = 0
    for layer_row in layer_rows:
        assert rows[start] is layer_row
        n = int(layer_row["n"])  # type: ignore[call-overload]
        assert n == len(DOCS[str(layer_row["doc"])]) + 1  # characters and BOS
        block = rows[start + 1: start + 1 + n]
        assert [r["pos"] for r in block] == list(range(n))
        assert {r["kind"] for r in block} == {"position"}
        start += n + 1
    assert start == len(rows)


def test_values_are_consistent(rows: list[dict[str, object]]) -> None:
    layer_row, positions = rows[0], rows[1: 1 + int(rows[0]["n"])]  # type: ignore[call-overload]
    n = len(positions)
    assert layer_row["heads"] == 4 and layer_row["pos"] is None and layer_row["column_sum"] is None
    assert layer_row["edges"] == sum(r["edges"] for r in positions)  # type: ignore[misc]
    assert [r["edges"] for r in positions] == [min(i + 1, 3) for i in range(n)]  # top_k = 3
    for name in ("kept_mass", "entropy", "first_token_mass"):
        mean = sum(float(r[name]) for r in positions) / n  # type: ignore[arg-type]
        assert math.isclose(float(layer_row[name]), mean, rel_tol=1e-5)  # type: ignore[arg-type]
    first = positions[0]
    assert first["token"] == 1 and first["kept_mass"] == 1.0 and first["first_token_mass"] == 1.0
    assert first["entropy"] == 0.0  # BOS reads only itself (causal)
    # rows of A sum to one, so the columns' sums add up to n
    assert math.isclose(sum(float(r["column_sum"]) for r in positions), n,  # type: ignore[arg-type]
                        rel_tol=1e-5)
    assert all(r["spectral_gap"] is None for r in positions)
    assert 0.0 < float(layer_row["spectral_gap"]) <= 2.0  # type: ignore[arg-type]


def test_options_select_layers_profiles_and_tokens() -> None:
    rows = corpus_sweep(["abcdefghij"], ["random:bert"], layers=[1], profiles=False,
                        max_tokens=5, top_k=None, gap_max_nodes=0)
    (row,) = rows
    assert (row["doc"], row["layer"], row["n"], row["spectral_gap"]) == ("0", 1, 5, None)
    assert row["edges"] == 25  # bidirectional, every edge kept
    assert math.isclose(float(row["kept_mass"]), 1.0, rel_tol=1e-6)  # type: ignore[arg-type]


def test_long_documents_are_truncated_or_refused() -> None:
    first = corpus_sweep([LONG], ["tgnn-gpt2-tiny"], layers=[0], top_k=2)
    last = corpus_sweep([LONG], ["tgnn-gpt2-tiny"], layers=[0], top_k=2, overflow="keep-last")
    assert first[0]["n"] == last[0]["n"] == 256
    assert first[1]["token"] == last[1]["token"] == 1  # BOS kept in both
    # pos is the position in the whole document: keep-last skips 292 - 256 tokens after BOS
    assert [r["pos"] for r in first[1:]] == list(range(256))
    assert [r["pos"] for r in last[1:]] == [0, *range(37, 292)]
    with pytest.raises(ContextLengthError, match="292 tokens"):
        corpus_sweep([LONG], ["tgnn-gpt2-tiny"], overflow="error")


def test_a_learned_sink_node_gets_no_position_row() -> None:
    """gpt-oss style sinks: node 0 of each graph is the sink; the rows are the real tokens."""
    import torch
    from transformers import GptOssConfig, GptOssForCausalLM

    from tgnn.convert import capture_sparse_graphs
    from tgnn.sweep import _rows

    config = GptOssConfig(
        vocab_size=50, hidden_size=32, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, num_local_experts=4,
        num_experts_per_tok=2, sliding_window=4, max_position_embeddings=64,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
    )
    torch.manual_seed(0)
    model = GptOssForCausalLM(config).eval()
    (graph,) = capture_sparse_graphs(model, {"input_ids": torch.arange(3, 9)[None]}, top_k=2)
    assert graph.num_nodes == 7  # the sink and 6 tokens
    point = {"model": "oss", "doc": "d", "profiles": True, "gap_max_nodes": 100}
    layer_row, *positions = _rows(graph, point)
    assert layer_row["n"] == 6 and layer_row["spectral_gap"] is not None
    assert [r["pos"] for r in positions] == list(range(6))
    assert [r["token"] for r in positions] == list(range(3, 9))
    assert all(float(r["kept_mass"]) <= 1.0 + 1e-6 for r in positions)  # type: ignore[arg-type]


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: corpus_sweep(["a"], ["gpt2"]), ShapeError, "model: expected .*'random:gpt2'"),
    (lambda: corpus_sweep(["a"], "random:gpt2"), ShapeError, "models: expected a non-empty"),
    (lambda: corpus_sweep([], ["random:gpt2"]), EmptyInputError, "documents: expected at least"),
    (lambda: corpus_sweep({"x": ""}, ["random:gpt2"]), EmptyInputError, "non-empty text for 'x'"),
    (lambda: corpus_sweep("abc", ["random:gpt2"]), ShapeError, "documents: expected a list"),
    (lambda: corpus_sweep(["a"], ["random:gpt2"], top_k=0), ShapeError, "top_k: expected an"),
    (lambda: corpus_sweep(["a"], ["random:gpt2"], overflow="windows"), ShapeError, "overflow:"),
    (lambda: corpus_sweep(["a"], ["random:gpt2"], workers=0), ShapeError, "workers: expected"),
    (lambda: corpus_sweep(["a"], ["random:gpt2"], dtype="float8"), OptionError,
     "dtype: expected one of float32, float64, bfloat16, float16, got 'float8'"),
    (lambda: corpus_sweep(["a"], ["random:gpt2"], dtype=torch.int64), OptionError,
     "dtype: expected one of .*, got torch.int64"),
])
def test_bad_arguments_are_named(call: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]


def test_other_dtypes_give_the_float32_rows_up_to_rounding(
    rows: list[dict[str, object]]
) -> None:
    """The dtype reaches the loaded models and changes only rounding: float64 weights give the
    float32 table to float32's precision; bfloat16 weights (8-bit mantissa) give the exact row
    facts (full softmax rows, captured in float32) to 1e-3, but not bit for bit."""
    wide = corpus_sweep(DOCS, MODELS, top_k=3, dtype="float64")
    narrow = corpus_sweep(DOCS, MODELS, top_k=3, dtype=torch.bfloat16)
    assert sweep._model("random:gpt2", "cpu", "bfloat16")[0].dtype == torch.bfloat16
    assert sweep._model("random:llama", "cpu", "float64")[0].dtype == torch.float64
    facts = ("entropy", "first_token_mass", "column_sum")
    for other, names, tolerance in ((wide, (*facts, "kept_mass", "spectral_gap"), 1e-5),
                                    (narrow, facts, 1e-3)):
        assert [row["edges"] for row in other] == [row["edges"] for row in rows]
        for ours, theirs in zip(rows, other, strict=True):
            for name in names:
                if ours[name] is None:
                    assert theirs[name] is None
                else:
                    assert theirs[name] == pytest.approx(ours[name], abs=tolerance), name
    assert narrow != rows


@pytest.mark.parametrize(("device", "message"), [
    ("tpu", "device: expected cpu, cuda, cuda:N or mps, got 'tpu'"),
    ("meta", "device: expected cpu, cuda, cuda:N or mps, got 'meta'"),
    ("cuda:x", "device: expected cpu, cuda, cuda:N or mps, got 'cuda:x'"),
    pytest.param("cuda", "device: expected a device this torch can use, got 'cuda' (this torch "
                 "build sees no CUDA device); use cpu",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="has CUDA")),
    pytest.param("mps", "device: expected a device this torch can use, got 'mps' (MPS is not "
                 "available here); use cpu",
                 marks=pytest.mark.skipif(torch.backends.mps.is_available(), reason="has MPS")),
])
def test_a_device_this_torch_cannot_use_is_refused_before_any_model_loads(
    device: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep, "load_model", lambda *a, **k: pytest.fail("a model loaded"))
    with pytest.raises(OptionError, match=f"^{re.escape(message)}$"):
        corpus_sweep(["a"], ["random:gpt2"], device=device)


def test_ray_with_a_gpu_is_refused_before_ray_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep's Ray tasks ask for CPUs only, so Ray hides every GPU from them."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(sweep, "load_model", lambda *a, **k: pytest.fail("a model loaded"))
    with pytest.raises(OptionError, match="^device: expected cpu with Ray .*, got 'cuda'; run "
                                          "without Ray to use cuda$"):
        corpus_sweep(["a"], ["random:gpt2"], device="cuda", ray_address="local")


def test_csv_and_json_lines_round_trip(rows: list[dict[str, object]], tmp_path: Path) -> None:
    table = write_rows(rows, tmp_path / "rows.csv")
    with table.open(encoding="utf-8", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert tuple(read[0]) == COLUMNS and len(read) == len(rows)
    assert read[0]["pos"] == "" and read[1]["pos"] == "0"  # None is an empty cell
    assert float(read[1]["column_sum"]) == rows[1]["column_sum"]  # repr round-trips
    lines = write_rows(rows, tmp_path / "rows.jsonl")
    assert [json.loads(line) for line in lines.read_text().splitlines()] == rows


def test_writer_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "rows.csv"
    out.write_text("keep me")
    with pytest.raises(OutputExistsError, match="path: .* exists; pass force=True"):
        write_rows([{"model": "m"}], out)
    assert issubclass(OutputExistsError, FileExistsError)
    assert out.read_text() == "keep me"
    write_rows([{"model": "m"}], out, force=True)
    assert out.read_text().splitlines()[1].startswith("m,")
    with pytest.raises(ShapeError, match=r"path: expected a \.csv or \.jsonl"):
        write_rows([], tmp_path / "rows.txt")


@pytest.mark.slow
def test_spawned_processes_give_the_same_rows() -> None:
    docs = dict(list(DOCS.items())[:1])
    assert corpus_sweep(docs, MODELS, workers=2) == corpus_sweep(docs, MODELS)


@pytest.mark.slow
def test_local_ray_with_two_workers_gives_the_same_rows() -> None:
    ray = pytest.importorskip("ray")
    serial = corpus_sweep(DOCS, MODELS)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:  # an initialised Ray is used as it is: two CPUs, two workers
        assert corpus_sweep(DOCS, MODELS, ray_address="local") == serial
    finally:
        ray.shutdown()


# ---------------------------------------------------------------------------------- the command
runner = CliRunner()


def _sweep(*arguments: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, ["sweep", *map(str, arguments)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_cli_writes_the_table_from_files_folders_and_texts(tmp_path: Path) -> None:
    (tmp_path / "corpus" / "sub").mkdir(parents=True)
    (tmp_path / "corpus" / "b.txt").write_text("Graphs!", encoding="utf-8")
    (tmp_path / "corpus" / "sub" / "a.txt").write_text("Cats.", encoding="utf-8")
    (tmp_path / "corpus" / "skip.md").write_text("not a document", encoding="utf-8")
    out = tmp_path / "table.jsonl"
    code, output = _sweep(tmp_path / "corpus", "--text", "hi", "--model", "random:gpt2",
                          "--model", "random:bert", "--top-k", "2", "--no-profiles",
                          "--out", out)
    assert code == 0, output
    assert "wrote 12 rows (12 layer rows, 3 documents x 2 models)" in output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    docs = [Path(row["doc"]).name for row in rows if row["model"] == "random:gpt2"]
    assert docs == ["b.txt", "b.txt", "a.txt", "a.txt", "text-0", "text-0"]


@pytest.mark.parametrize(("arguments", "message"), [
    (["missing.txt"], "tgnn sweep: no such file or folder: 'missing.txt'"),
    (["--text", "a", "--model", "nope"], "tgnn sweep: model: expected one of 'tgnn-gpt2-tiny'"),
    (["--text", "a", "--out", "rows.txt"], "tgnn sweep: --out: expected a .csv or .jsonl"),
    ([], "tgnn sweep: no documents: give text files, folders of .txt files or --text"),
    (["empty"], "tgnn sweep: no .txt files in the folder"),
    (["--text", "a", "--top-k", "-1"], "tgnn sweep: top_k: expected an integer >= 1"),
])
def test_cli_user_mistakes_exit_2_in_one_line(
    arguments: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    code, output = _sweep(*arguments, "--model", "random:gpt2")
    assert code == 2
    (line,) = output.strip().splitlines()
    assert line.startswith(message)
    assert not (tmp_path / "sweep.csv").exists()


def test_cli_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "rows.csv"
    out.write_text("keep me")
    code, output = _sweep("--text", "ab", "--model", "random:gpt2", "--out", out)
    assert code == 2
    assert output.strip() == f"tgnn sweep: --out: '{out}' exists; pass --force to overwrite it"
    assert out.read_text() == "keep me"
    code, output = _sweep("--text", "ab", "--model", "random:gpt2", "--out", out, "--force")
    assert code == 0, output
    assert out.read_text().startswith(",".join(COLUMNS))


def test_cli_help_names_the_options() -> None:
    result = runner.invoke(app, ["sweep", "--help"], terminal_width=100)
    assert result.exit_code == 0
    for option in ("--model", "--text", "--top-k", "--max-tokens", "--ray", "--workers",
                   "--out", "--force", "--no-profiles", "random:llama", "--ray auto"):
        assert option in result.output, option
