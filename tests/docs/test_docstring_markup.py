"""docs/griffe_docstrings.py: docstrings' Sphinx roles and house style become Markdown."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _roles() -> Any:
    path = ROOT / "docs" / "griffe_docstrings.py"
    spec = importlib.util.spec_from_file_location("tgnn_docs_markup", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_roles_become_optional_references_and_math() -> None:
    convert = _roles().convert_roles
    known = {"rollout_matrix": "tgnn.theory.rollout.rollout_matrix"}
    text = "See :func:`rollout_matrix`, :class:`~torch_geometric.data.Data` and :math:`\\hat A`."
    out = convert(text, lambda name: known.get(name, name))
    assert out == (
        'See <autoref identifier="tgnn.theory.rollout.rollout_matrix" optional>'
        "<code>rollout_matrix</code></autoref>, "
        '<autoref identifier="torch_geometric.data.Data" optional><code>Data</code></autoref>'
        " and \\(\\hat A\\)."
    )


def test_plain_text_and_code_are_untouched() -> None:
    text = "Ratio: ``a:b`` and time: O(n^2); not a role: func:`x`."
    assert _roles().convert_roles(text, str) == text


def test_extension_resolves_from_the_docstring_scope() -> None:
    import griffe

    roles = _roles()
    code = (
        'def helper():\n    """Help."""\n\n'
        'def user():\n    """Uses :func:`helper` and :func:`missing`."""\n'
    )
    loader = griffe.GriffeLoader(extensions=griffe.load_extensions(roles.DocstringMarkup()))
    module = griffe.visit("pkg", Path("pkg/__init__.py"), code)
    loader.modules_collection.set_member("pkg", module)
    roles.DocstringMarkup().on_package(pkg=module, loader=loader)
    value = module["user"].docstring.value
    assert 'identifier="pkg.helper"' in value and 'identifier="missing"' in value


HOUSE_DOC = """Summary.

Complexity: O(n) in the description stays a paragraph.

Parameters
----------
x
    The x.

Complexity: see :func:`f`.

References: Topping et al., "Understanding
over-squashing", ICLR 2022.

Examples
--------
>>> 1
1"""


def test_house_paragraphs_after_a_section_become_sections() -> None:
    import griffe

    text = _roles().house_sections(HOUSE_DOC)
    assert "Complexity: O(n) in the description stays a paragraph." in text
    sections = griffe.Docstring(text, parser="numpy").parse("numpy")
    kinds = [(s.kind.value, getattr(s, "title", None)) for s in sections]
    assert kinds == [
        ("text", None), ("parameters", None), ("admonition", "Complexity"),
        ("admonition", "References"), ("examples", None),
    ]
    assert [p.name for p in sections[1].value] == ["x"]  # not "Complexity", "References", "over"
