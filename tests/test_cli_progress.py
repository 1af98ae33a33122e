"""Never silent: steps over 2 s are reported on stderr; --quiet and quick steps stay silent.

Slow steps are faked by a clock that advances 3 s per reading (``tgnn._progress._clock``), so
the tests run a small random model in well under a second per command.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tgnn import _progress
from tgnn._progress import SLOW_S, live, reporting, step
from tgnn.cli import app

runner = CliRunner()


@pytest.fixture
def slow_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = itertools.count(step=3.0)
    monkeypatch.setattr(_progress, "_clock", lambda: next(ticks))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_slow_run_reports_each_step(slow_clock: None, tmp_path: Path) -> None:
    out = tmp_path / "g.safetensors"
    result = runner.invoke(app, ["convert", "random:gpt2", "--text", "hello", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines == ["tgnn convert: loading the model random:gpt2: 3.0 s",
                     "tgnn convert: capturing attention: 3.0 s",
                     f"tgnn convert: writing {out}: 3.0 s"]
    assert result.stdout.startswith("saved 2 layer graphs")


def test_view_reports_the_model_and_the_page(slow_clock: None, tmp_path: Path) -> None:
    out = tmp_path / "v.html"
    result = runner.invoke(app, ["view", "random:gpt2", "--text", "hi", "--out", str(out),
                                 "--sensitivity", "off", "--top-k", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == "tgnn view: loading the model random:gpt2: 3.0 s"
    assert lines[-1].startswith(f"tgnn view: building {out}: ") and lines[-1].endswith(" s")


def test_quiet_and_quick_runs_print_no_progress(slow_clock: None, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["convert", "random:gpt2", "--text", "hello", "--out", str(tmp_path / "g.safetensors")]
    quiet = runner.invoke(app, [*args, "--quiet"])
    assert quiet.exit_code == 0 and quiet.stderr == "", quiet.output
    monkeypatch.setattr(_progress, "_clock", lambda: 0.0)  # every step instant
    quick = runner.invoke(app, [*args, "--force"])
    assert quick.exit_code == 0 and quick.stderr == "", quick.output


def test_a_failed_step_leaves_only_its_error(slow_clock: None) -> None:
    stream = io.StringIO()
    with pytest.raises(RuntimeError), reporting("view", stream=stream), step("failing"):
        raise RuntimeError("boom")
    assert stream.getvalue() == ""


def test_threshold_is_two_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    for seconds, expected in ((SLOW_S - 0.01, ""), (SLOW_S, "tgnn demo: x: 2.0 s\n")):
        readings = iter([0.0, seconds])
        monkeypatch.setattr(_progress, "_clock", lambda r=readings: next(r))
        stream = io.StringIO()
        with reporting("demo", stream=stream), step("x"):
            pass
        assert stream.getvalue() == expected


def test_terminal_gets_a_live_line_then_the_step_time(slow_clock: None) -> None:
    stream = Terminal()
    with reporting("view", stream=stream):
        assert live()
        with step("measuring the Jacobian"):
            pass
    text = stream.getvalue()
    assert "\r" in text and "tgnn view: measuring the Jacobian (" in text  # the live line
    assert text.endswith("tgnn view: measuring the Jacobian: 3.0 s\n")
    assert not live()  # outside the block: library code draws no bars
    with reporting("view", stream=Terminal(), quiet=True):
        assert not live()
