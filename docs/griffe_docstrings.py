"""Griffe extension of the docs build: the docstrings' Sphinx roles and house style as Markdown.

The docstrings follow numpy style and, like numpy and scipy, use Sphinx roles. mkdocstrings
renders Markdown, where ``:func:`x``` would show up verbatim, so before rendering:

* ``:func:`name``` (and ``class``, ``meth``, ``mod``, ``attr``, ``data``, ``exc``, ``obj``,
  with or without ``py:``) becomes an optional cross-reference to ``name`` resolved from the
  docstring's scope (the object, then its parents), shown as code; ``~a.b.c`` shows ``c``.
  Optional: a target that no page renders (a private module, a third-party class) is shown as
  plain code without a warning;
* ``:math:`x``` becomes ``\\(x\\)``, typeset by MathJax (``pymdownx.arithmatex``);
* a house-style paragraph ``Complexity: ...``, ``Definition: ...`` or ``Reference(s): ...``
  written after a numpy section header (where the numpy parser would read it as one more
  parameter) becomes a section of that title, rendered as its own titled block.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):`([^`]+)`")
MATH = re.compile(r":math:`([^`]+)`")
HOUSE = re.compile(r"(Complexity|Definition|References?)\s*:\s*(.*)")
UNDERLINE = re.compile(r"\s*-{3,}\s*")


def house_sections(text: str) -> str:
    """Turn ``Title: text`` paragraphs that follow a numpy section header into sections."""
    lines = text.splitlines()
    out: list[str] = []
    in_section = False
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        in_section = in_section or bool(line.strip() and UNDERLINE.fullmatch(following))
        match = HOUSE.fullmatch(line)
        if in_section and match and (index == 0 or not lines[index - 1].strip()):
            title, rest = match.groups()
            out += [title, "-" * len(title), *([rest] if rest else [])]
        else:
            out.append(line)
    return "\n".join(out)


def convert_roles(text: str, resolve: Callable[[str], str]) -> str:
    """Rewrite the Sphinx roles of ``text``; ``resolve`` maps a name to a full identifier."""

    def reference(match: re.Match[str]) -> str:
        target = match.group(1).strip()
        short = target.startswith("~")
        name = target.lstrip("~.").removesuffix("()")
        shown = name.rsplit(".", 1)[-1] if short else name
        return f'<autoref identifier="{resolve(name)}" optional><code>{shown}</code></autoref>'

    text = MATH.sub(lambda m: rf"\({m.group(1)}\)", text)
    return ROLE.sub(reference, text)


def _walk(obj: Any) -> Iterator[Any]:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


class DocstringMarkup(griffe.Extension):
    """Rewrite every docstring of a loaded package for Markdown (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **_: Any) -> None:
        collection = loader.modules_collection

        def exists(path: str) -> bool:
            try:
                collection[path]
            except (KeyError, ValueError, AttributeError, griffe.AliasResolutionError):
                return False
            return True

        for obj in _walk(pkg):
            if obj.docstring is None or ":" not in obj.docstring.value:  # no role, no house line
                continue
            scopes = [p.path for p in (obj, *_parents(obj))]

            def resolve(name: str, scopes: list[str] = scopes) -> str:
                for candidate in (*(f"{s}.{name}" for s in scopes), name):
                    if exists(candidate):
                        return candidate
                return name

            obj.docstring.value = convert_roles(house_sections(obj.docstring.value), resolve)


def _parents(obj: Any) -> Iterator[Any]:
    while obj.parent is not None:
        obj = obj.parent
        yield obj
