"""The commands that write files: never into the package, never over a file without --force.

Each refusal is one line on stderr with exit code 2, and leaves every file as it was.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import tgnn
from tgnn.cli import app
from tgnn.convert import load_graphs
from tgnn.models.train import WEIGHTS_DIR

runner = CliRunner()


def refused(result: Result, *words: str) -> str:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (line,) = result.stderr.strip().splitlines()
    assert "Traceback" not in result.output
    for word in words:
        assert word in line, line
    return line


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_convert_needs_force_to_replace_and_writes_safetensors(tmp_path: Path) -> None:
    out = tmp_path / "graphs.safetensors"
    out.write_bytes(b"mine")
    args = ["convert", "tgnn-gpt2-tiny", "--text", "ab", "--top-k", "2", "--out", str(out)]
    line = refused(runner.invoke(app, args), "--out", "exists", "pass --force")
    assert line.startswith("tgnn convert: ") and out.read_bytes() == b"mine"
    result = runner.invoke(app, [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert [g.layer for g in load_graphs(out)] == [0, 1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graphs.safetensors"]


def test_convert_refuses_other_suffixes_and_the_package(tmp_path: Path) -> None:
    args = ["convert", "tgnn-gpt2-tiny", "--text", "ab", "--out"]
    refused(runner.invoke(app, [*args, str(tmp_path / "g.pt")]), "--out", ".safetensors")
    inside = Path(tgnn.__file__).parent / "graphs.safetensors"
    refused(runner.invoke(app, [*args, str(inside), "--force"]),
            "inside the installed tgnn package")
    assert not inside.exists() and not (tmp_path / "g.pt").exists()


def test_view_checks_every_window_page_before_writing(tmp_path: Path) -> None:
    page = tmp_path / "view.html"
    page.write_text("mine", encoding="utf-8")
    refused(runner.invoke(app, ["view", "--text", "hi", "--out", str(page)]),
            "view.html' exists", "--force")
    assert page.read_text(encoding="utf-8") == "mine"
    (tmp_path / "long-1.html").write_text("mine", encoding="utf-8")
    args = ["view", "--text", "the cat sat on the mat. " * 12, "--overflow", "windows",
            "--no-sensitivity", "--out", str(tmp_path / "long.html")]
    refused(runner.invoke(app, args), "long-1.html' exists")
    assert not (tmp_path / "long-0.html").exists()  # nothing written before the refusal


def test_train_tiny_cannot_touch_the_package(tmp_path: Path) -> None:
    before = digest(WEIGHTS_DIR)
    for out in (WEIGHTS_DIR, Path(tgnn.__file__).parent, WEIGHTS_DIR / "new"):
        for extra in ([], ["--force"]):
            result = runner.invoke(app, ["train-tiny", "--steps", "1", "--out", str(out), *extra])
            refused(result, "tgnn train-tiny: --out", "inside the installed tgnn package")
    assert digest(WEIGHTS_DIR) == before and not (WEIGHTS_DIR / "new").exists()


def test_train_tiny_writes_to_the_current_folder_and_needs_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tgnn-gpt2-tiny.meta.json").write_text("{}", encoding="utf-8")
    line = refused(runner.invoke(app, ["train-tiny", "--steps", "1"]),
                   "'tgnn-gpt2-tiny.meta.json' exists; pass --force")
    assert line.startswith("tgnn train-tiny: --out")
    assert (tmp_path / "tgnn-gpt2-tiny.meta.json").read_text(encoding="utf-8") == "{}"
    (tmp_path / "folder").write_text("a file", encoding="utf-8")
    refused(runner.invoke(app, ["train-tiny", "--out", "folder"]), "is a file; expected a folder")


def test_bench_refuses_the_package() -> None:
    out = Path(tgnn.__file__).parent / "reports"
    refused(runner.invoke(app, ["bench", "toy", "--quick", "--out", str(out)]),
            "tgnn bench: --out", "inside the installed tgnn package")
    assert not out.exists()
