"""write_html never overwrites unasked, never writes into the package, never leaves half a page."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import tgnn
from tgnn.errors import OutputExistsError, ProtectedPathError, ShapeError
from tgnn.explorer import sample_page, write_html

U = [(torch.tril(torch.ones(2, 2)) / torch.arange(1, 3)[:, None])[None]]


def test_existing_page_needs_overwrite_and_survives_a_failed_call(tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    out.write_text("mine", encoding="utf-8")
    with pytest.raises(OutputExistsError, match=r"page\.html' exists; pass overwrite=True"):
        write_html(out, attentions=U, tokens=["a", "b"])
    with pytest.raises(ShapeError, match="tokens"):  # the render fails: the file stays
        write_html(out, attentions=U, overwrite=True)
    assert out.read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]  # no temporary left
    write_html(out, attentions=U, tokens=["a", "b"], overwrite=True)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_package_folder_is_refused_before_any_work(tmp_path: Path) -> None:
    inside = Path(tgnn.__file__).parent / "explorer" / "page.html"
    with pytest.raises(ProtectedPathError, match="inside the installed tgnn package"):
        write_html(inside, attentions=U, tokens=["a", "b"])
    assert not inside.exists()
    existing = tmp_path / "sample.html"
    existing.write_text("x", encoding="utf-8")
    with pytest.raises(OutputExistsError):  # refused before the model loads
        sample_page(existing)
