"""``--device`` and ``--dtype`` on every command that runs a model (issue 17, item 3).

``sweep`` and ``train-tiny`` pass them on; a device this torch cannot use or an unknown dtype
is one line and exit code 2 before any model loads or any file is written. ``bench`` records
them in results.json and refuses any device but the CPU and any dtype but float32, in one line
that says why and which commands take them.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import torch
import typer.main
from typer.testing import CliRunner, Result

from tgnn.cli import app

runner = CliRunner()
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this torch sees a CUDA device")


def one_line(result: Result, *words: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    for word in words:
        assert word in line, line
    return line


def test_every_command_that_runs_a_model_takes_device_and_dtype() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert sorted(commands) == ["bench", "convert", "demo", "sweep", "train-tiny", "view"]
    for name in commands:  # every tgnn command runs a model
        text = runner.invoke(app, [name, "--help"], terminal_width=100).output
        assert "--device" in text and "--dtype" in text, name


@pytest.mark.parametrize(("args", "words"), [
    (["--device", "tpu"], ["--device: expected cpu, cuda, cuda:N or mps, got 'tpu'"]),
    pytest.param(["--device", "cuda"], ["--device: expected a device this torch can use",
                                        "'cuda'", "no CUDA device", "use cpu"], marks=NO_CUDA),
    (["--dtype", "float64"], ["--dtype: expected one of float32, bfloat16, float16"]),
])
@pytest.mark.parametrize("command", [["sweep", "--text", "hi", "--model", "random:gpt2"],
                                     ["train-tiny", "--stop-after", "1"]])
def test_a_bad_device_or_dtype_is_one_line_before_any_model(
    command: list[str], args: list[str], words: list[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tgnn import sweep
    from tgnn.models import train

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sweep, "load_model", lambda *a, **k: pytest.fail("a model loaded"))
    monkeypatch.setattr(train, "corpus_text", lambda: pytest.fail("training started"))
    line = one_line(runner.invoke(app, [*command, *args]), *words)
    assert line.startswith(f"tgnn {command[0]}: ")
    assert list(tmp_path.iterdir()) == []


def test_sweep_runs_its_models_in_the_dtype_asked(tmp_path: Path) -> None:
    from tgnn.sweep import corpus_sweep

    out = tmp_path / "rows.jsonl"
    result = runner.invoke(app, ["sweep", "--text", "The cat sat.", "--model", "random:gpt2",
                                 "--no-profiles", "--device", "cpu", "--dtype", "bfloat16",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    expected = corpus_sweep({"text-0": "The cat sat."}, ["random:gpt2"], profiles=False,
                            dtype="bfloat16")
    assert rows == expected
    float32 = corpus_sweep({"text-0": "The cat sat."}, ["random:gpt2"], profiles=False)
    assert [r["first_token_mass"] for r in rows] != [r["first_token_mass"] for r in float32]


def test_train_tiny_passes_device_and_dtype_on(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from tgnn.models import train

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(train, "train_tiny", lambda **options: calls.append(options) or {})
    result = runner.invoke(app, ["train-tiny", "--out", str(tmp_path), "--device", "cpu",
                                 "--dtype", "float16"])
    assert result.exit_code == 0, result.output
    assert (calls[0]["device"], calls[0]["dtype"]) == ("cpu", "float16")


@pytest.mark.parametrize(("args", "words"), [
    (["--device", "cuda"], ["tgnn bench: device: expected 'cpu', got 'cuda'",
                            "measured on the CPU", "every other tgnn command takes --device"]),
    (["--device", "tpu"], ["device: expected 'cpu', got 'tpu'"]),
    (["--dtype", "bfloat16"], ["tgnn bench: dtype: expected 'float32', got 'bfloat16'",
                               "representational_collapse", "takes --dtype"]),
])
def test_bench_refuses_a_gpu_and_other_dtypes_before_writing(
    args: list[str], words: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "report"
    one_line(runner.invoke(app, ["bench", "bottlenecks", "--out", str(out), *args]), *words)
    assert not out.exists()


def _probe(config: Any) -> Any:
    """A stand-in section: loads the causal model through the benchmarks' loader."""
    from tgnn.benchmarks.common import load_model
    from tgnn.benchmarks.report import ExperimentResult

    model, _ = load_model("gpt2-random")
    parameter = next(model.parameters())
    return ExperimentResult(name="device_probe", title="Device probe", markdown="probe",
                            numbers={"device": str(parameter.device),
                                     "dtype": str(parameter.dtype)})


def test_bench_on_the_cpu_in_float32_records_both(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The CPU path through the command line, with a stand-in section (the real sections'
    smoke runs are in tests/benchmarks): the options reach results.json."""
    from tgnn.benchmarks import suite

    module = types.ModuleType("tgnn.benchmarks.device_probe")
    module.run = _probe  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tgnn.benchmarks.device_probe", module)
    monkeypatch.setitem(suite.EXPERIMENTS, "device_probe", "Device probe")
    out = tmp_path / "report"
    result = runner.invoke(app, ["bench", "device_probe", "--out", str(out), "--device", "cpu",
                                 "--dtype", "float32", "--quiet"])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "device_probe" / "results.json").read_text())
    assert (saved["config"]["device"], saved["config"]["dtype"]) == ("cpu", "float32")
    assert saved["numbers"] == {"device": "cpu", "dtype": "torch.float32"}
    assert "Device probe" in (out / "report.md").read_text()
