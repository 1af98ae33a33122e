"""The Python blocks of the quickstart and the guides run, in order, one namespace per page.

A block preceded by an HTML comment ``<!-- skip-test: why -->`` is not run (it needs something
the tests do not have, e.g. a downloaded checkpoint). Pages use the embedded models only.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path

import pytest
import torch

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"(<!-- skip-test[^>]*-->\s*)?```python\n(.*?)```", re.DOTALL)
PAGES = ["quickstart.md", "guides/gnn.md", "guides/transformers.md", "guides/long_context.md"]


def python_blocks(markdown: str) -> list[tuple[bool, str]]:
    """``(skipped, code)`` for each fenced ``python`` block of ``markdown``."""
    return [(bool(skip), code) for skip, code in BLOCK.findall(markdown)]


def run_page(page: str, docs: Path = DOCS) -> dict[str, object]:
    """Execute the runnable blocks of ``docs/page`` in one namespace and return it."""
    blocks = python_blocks((docs / page).read_text(encoding="utf-8"))
    runnable = [code for skipped, code in blocks if not skipped]
    assert runnable, f"{page} has no runnable Python example"
    namespace: dict[str, object] = {"__name__": page}
    torch.manual_seed(0)
    for index, code in enumerate(runnable):
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exec(compile(code, f"{page} block {index}", "exec"), namespace)
            except Exception as error:  # name the failing block
                raise AssertionError(f"{page} block {index} failed:\n{code}") from error
    return namespace


def test_block_parser_sees_skips() -> None:
    text = "```python\na = 1\n```\n<!-- skip-test: x -->\n```python\nb = 2\n```\n```bash\nls\n```"
    assert python_blocks(text) == [(False, "a = 1\n"), (True, "b = 2\n")]


def test_a_failing_block_is_reported(tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_text("```python\nx = 1\nassert x == 2\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="bad.md block 0 failed"):
        run_page("bad.md", docs=tmp_path)


@pytest.mark.slow
def test_quickstart_runs() -> None:
    namespace = run_page("quickstart.md")
    graphs = namespace["graphs"]
    assert isinstance(graphs, list) and len(graphs) == 6  # MiniLM has 6 layers


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES[1:])
def test_guide_examples_run(page: str) -> None:
    run_page(page)


@pytest.mark.slow
def test_readme_quickstart_runs() -> None:
    namespace = run_page("README.md", docs=DOCS.parent)
    assert namespace["g"] is namespace["graphs"][-1]  # type: ignore[index]
