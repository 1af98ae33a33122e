"""The command line for a new user: one line and exit code 2 for every mistake, clean help.

Each mistake class of issue 17 (unknown model, missing file, text too long, bad option value)
must end in exactly one line on stderr naming the argument, with no traceback, unless
``--debug`` asks for it. The help of every command must read as plain prose.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner, Result

from tgnn.cli import app
from tgnn.errors import OptionError

runner = CliRunner()
COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
LONG_TEXT = "the cat sat on the mat. " * 12  # 289 tokens with BOS: over tgnn-gpt2-tiny's 256


def one_line(result: Result, *words: str) -> str:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    for word in words:
        assert word in line, line
    return line


def test_every_command_is_listed_with_a_whole_summary() -> None:
    assert COMMANDS == ["bench", "convert", "demo", "sweep", "train-tiny", "view"]
    result = runner.invoke(app, ["--help"], terminal_width=100)
    assert result.exit_code == 0
    listing = result.output.split("Commands:")[1].strip().splitlines()
    assert [line.split()[0] for line in listing] == [
        "demo", "convert", "train-tiny", "bench", "view", "sweep"]
    for line in listing:  # click cuts a long first sentence with "..."
        assert line.endswith(".") and not line.endswith("..."), line


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)])
def test_help_is_plain_prose(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    text = result.output
    for markup in ("``", "**", "`", ":func:", ":class:", ":mod:", "[bold", "\\b"):
        assert markup not in text, (markup, text)
    assert re.search(r"\w-\n", text) is None, text  # no word split at a hyphen
    description = re.split(r"\n(?:Arguments|Options|Commands):\n", text)[0]
    for paragraph in description.split("\n\n")[1:]:  # after the usage line
        lines = paragraph.strip().splitlines()
        for line in lines[:-1]:  # reflowed: no line of a paragraph ends early
            assert len(line) > 75, (line, text)
    if command:
        for option in ("--quiet", "--debug"):
            assert option in text


@pytest.mark.parametrize("command", ["demo", "convert", "view"])
def test_commands_that_run_a_model_take_device_and_dtype(command: str) -> None:
    text = runner.invoke(app, [command, "--help"], terminal_width=100).output
    assert "--device" in text and "--dtype" in text


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["view", "no-such-model"], ["tgnn view: model:", "'no-such-model'", "random:gpt2"]),
        (["convert", "./no/such/folder", "--text", "hi"], ["model:", "./no/such/folder"]),
        (["sweep", "no-such-file.txt"], ["no such file or folder", "no-such-file.txt"]),
        (["train-tiny", "--init", "missing.safetensors"],
         ["tgnn train-tiny: Invalid value for '--init'", "does not exist", "--help"]),
        (["view", "--top-k", "x"], ["tgnn view: Invalid value for '--top-k'", "integer"]),
        (["view", "--sensitivity", "maybe"],
         ["'--sensitivity'", "'auto', 'exact', 'probe', 'off'"]),
        (["view", "--topk", "3"], ["No such option: --topk", "--top-k"]),
        (["convert", "--text", "hi"], ["Missing argument 'model'"]),
        (["nope"], ["tgnn: No such command 'nope'"]),
        (["bench", "no-such-experiment"], ["names:", "bottlenecks", "no-such-experiment"]),
        (["demo", "--dtype", "float8"], ["tgnn demo: --dtype", "float32"]),
        (["view", "--device", "nope"], ["tgnn view: --device", "cpu, cuda"]),
        (["view", "random:gpt2", "--top-k", "0", "--sensitivity", "off"], ["top_k"]),
    ],
)
def test_each_mistake_is_one_line_and_exit_2(args: list[str], words: list[str],
                                             tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    one_line(runner.invoke(app, args), *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written


def test_too_long_text_is_one_line_in_view(tmp_path: Path) -> None:
    out = tmp_path / "v.html"
    one_line(runner.invoke(app, ["view", "--text", LONG_TEXT, "--out", str(out)]),
             "289 tokens exceed the context", "--overflow keep-last")
    assert not out.exists()


def test_unreadable_checkpoint_folder_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    one_line(runner.invoke(app, ["view", str(folder), "--out", str(tmp_path / "v.html")]),
             "model: cannot load", "model_type", "Hugging Face checkpoint folder")


def test_debug_shows_the_traceback() -> None:
    result = runner.invoke(app, ["view", "no-such-model", "--debug"])
    assert result.exit_code == 1 and isinstance(result.exception, OptionError)
    assert "no-such-model" in str(result.exception)
