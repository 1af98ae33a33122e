"""MkDocs hooks of the tgnn site: API pages from ``__all__``, the benchmark report, the explorer.

Nothing here runs a benchmark or a model. At build time the hooks

* mirror ``tgnn/`` and ``theory/`` into ``build/docs-src/tgnn`` (``theory/`` as ``tgnn/theory``)
  so that griffe, which reads source files and cannot follow setuptools' ``package-dir``
  mapping of an editable install, sees ``tgnn.theory`` under its public name;
* write one API page per public package (``api/<package>.md``) listing every name of that
  package's ``__all__``: rendered there, or linked to the one page that renders it;
* copy MathJax 3 (the ``es5`` build that the PyPI package ``django-static-mathjax`` ships,
  Apache-2.0) into ``javascripts/mathjax/``: the math renders from the site itself, offline and
  from disk (``file://``), never from a CDN;
* copy the benchmark report (``report.md`` and its plots) to ``benchmarks/``: ``reports/latest/``
  when it exists (``make bench``), else the committed quick report ``docs/benchmarks/report/``,
  else a page that says how to make one;
* write the explorer's sample page when ``tgnn.explorer`` offers a sample-page writer;
* add a placeholder ``theory.md`` when the theory page has not been written yet.

``api_pages(root)`` is importable without MkDocs (the docs tests use it).
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Public packages in the order of the API nav; a name exported by several of them is rendered on
# the first page whose package exports it and linked from the others (``tgnn`` comes last: it
# re-exports).
PACKAGES = (
    "tgnn.convert",
    "tgnn.graphs",
    "tgnn.metrics",
    "tgnn.transforms",
    "tgnn.models",
    "tgnn.theory",
    "tgnn.explorer",
    "tgnn.sweep",
    "tgnn",
)
MIRROR = Path("build") / "docs-src"
REPORT = Path("reports") / "latest"
# The committed quick report (refresh: `tgnn bench --quick --out docs/benchmarks/report`; git keeps
# report.md and the plots, not the results.json files), shown when no local report exists (CI, a
# fresh clone). mkdocs.yml excludes it from the pages.
COMMITTED_REPORT = Path("docs") / "benchmarks" / "report"
# MathJax 3 from the installed `django-static-mathjax` (import name `mathjax`): the SVG output
# bundle draws every glyph itself, so no web font is fetched (browsers refuse fonts from file://).
MATHJAX_PACKAGE = "mathjax"
MATHJAX_ES5 = ("static", "mathjax", "es5")
MATHJAX_BUNDLE = "tex-svg.js"
MATHJAX_SITE = "javascripts/mathjax"
ASSET_SUFFIXES = {".png", ".svg", ".jpg", ".jpeg", ".gif", ".json", ".csv", ".txt", ".html"}
EXPLORER_MODULES = ("tgnn.explorer", "tgnn.explorer.page")
EXPLORER_WRITER = "sample_page"  # sample_page(path) writes a self-contained sample HTML page


def mirror_sources(root: Path, out: Path | None = None) -> Path:
    """Copy ``tgnn/`` and ``theory/`` (as ``tgnn/theory``) to ``out`` (``root/build/docs-src``)."""
    out = root / MIRROR if out is None else out
    shutil.rmtree(out, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "weights")
    shutil.copytree(root / "tgnn", out / "tgnn", ignore=ignore)
    if (root / "theory").is_dir() and not (out / "tgnn" / "theory").exists():
        shutil.copytree(root / "theory", out / "tgnn" / "theory", ignore=ignore)
    return out


def load_api(root: Path, mirror: Path | None = None) -> Any:
    """The griffe tree of ``tgnn`` as mkdocstrings will see it (aliases resolved)."""
    import griffe

    loader = griffe.GriffeLoader(search_paths=[str(mirror_sources(root, mirror))])
    module = loader.load("tgnn", try_relative_path=False)
    loader.resolve_aliases(implicit=False, external=False)
    return module


def _exports(module: Any) -> list[str]:
    names = module.exports
    return [str(name) for name in names] if names else []


def _canonical(obj: Any) -> str:
    try:
        return str(obj.final_target.path) if obj.is_alias else str(obj.path)
    except Exception:  # unresolved alias (e.g. to a third-party object): keep its own path
        return str(obj.path)


def _owners(api: Any, packages: Iterable[str]) -> dict[str, str]:
    """Canonical object path -> the package whose page renders it (first exporter wins)."""
    owners: dict[str, str] = {}
    for package in packages:
        module = api if package == "tgnn" else api[package.removeprefix("tgnn.")]
        for name in _exports(module):
            if name in module.all_members:
                owners.setdefault(_canonical(module.all_members[name]), package)
    return owners


def _page_name(package: str) -> str:
    return f"api/{package}.md"


def _page(api: Any, package: str, owners: dict[str, str]) -> str:
    module = api if package == "tgnn" else api[package.removeprefix("tgnn.")]
    lines = [
        f"# `{package}`",
        "",
        f"::: {package}",
        "    options:",
        "      members: false",
        "      show_root_heading: false",
        "      show_root_toc_entry: false",
        "",
    ]
    linked: list[tuple[str, str]] = []
    rendered: list[tuple[str, str]] = []
    for name in _exports(module):
        member = module.all_members.get(name)
        if member is None:
            raise KeyError(f"{package}.__all__ names {name!r}, which {package} does not define")
        owner = owners.get(_canonical(member), package)
        (rendered if owner == package else linked).append((name, owner))
    if linked:
        lines += ["## Re-exported", "", "| name | documented in |", "|---|---|"]
        for name, owner in linked:
            lines.append(f"| [`{package}.{name}`][{owner}.{name}] | [`{owner}`]({owner}.md) |")
        lines.append("")
    for name, _ in rendered:
        lines += [f"::: {package}.{name}", ""]
    return "\n".join(lines)


def api_pages(root: Path, mirror: Path | None = None) -> dict[str, str]:
    """``{"api/<package>.md": markdown}`` for every public package that exists under ``root``."""
    api = load_api(root, mirror)
    present = [
        p for p in PACKAGES if p == "tgnn" or p.removeprefix("tgnn.") in api.modules
    ]
    owners = _owners(api, present)
    return {_page_name(p): _page(api, p, owners) for p in present}


# ----------------------------------------------------------------------------- mkdocs events
_API: dict[str, str] = {}


def on_startup(**_: Any) -> None:
    """Mirror the sources before any plugin runs.

    mkdocstrings keeps only the ``paths`` that exist when its handler starts (a missing one is
    silently replaced by the project folder, where ``tgnn.theory`` does not exist): in a fresh
    clone ``build/docs-src`` must exist before the plugins' ``on_config``.
    """
    mirror_sources(Path(__file__).resolve().parent.parent)


def on_config(config: Any, **_: Any) -> Any:
    """Generate the API pages and put them in the nav under "API reference"."""
    root = Path(config.config_file_path).parent
    _API.clear()
    _API.update(api_pages(root))
    nav = config.nav or []
    for item in nav:
        if isinstance(item, dict) and "API reference" in item:
            # The top-level package first (it renders last: it only re-exports and adds errors).
            order = sorted(_API, key=lambda path: path != "api/tgnn.md")
            item["API reference"] = [
                {path.removeprefix("api/").removesuffix(".md"): path} for path in order
            ]
    return config


def _generated(config: Any, path: str, content: str | bytes | Path) -> Any:
    """A site file at ``path`` with ``content``, or copied from the file ``content`` names."""
    from mkdocs.structure.files import File

    if isinstance(content, Path):
        return File.generated(config, path, abs_src_path=str(content))
    return File.generated(config, path, content=content)


def mathjax_root() -> Path:
    """The folder of MathJax 3's ``es5`` build inside the installed ``django-static-mathjax``.

    Raises
    ------
    mkdocs.exceptions.PluginError
        When the package is not installed (it is in the ``docs`` extra), or ships no
        ``tex-svg.js`` (a MathJax other than 3.x): the build stops rather than publish raw TeX.
    """
    from mkdocs.exceptions import PluginError

    fix = "install the docs extra: pip install -e '.[docs]' (or make setup)"
    try:
        package = importlib.import_module(MATHJAX_PACKAGE)
    except ModuleNotFoundError as error:
        raise PluginError(f"the docs need MathJax 3 from django-static-mathjax: {fix}") from error
    root = Path(next(iter(package.__path__))).joinpath(*MATHJAX_ES5)
    if not (root / MATHJAX_BUNDLE).is_file():
        raise PluginError(f"expected MathJax 3's {MATHJAX_BUNDLE} in {root}, found none: {fix}")
    return root


def _mathjax_files(config: Any) -> list[Any]:
    """MathJax's bundle and the components it loads on demand (TeX extensions, menu, a11y).

    The other prebuilt bundles of ``es5/`` (and ``node-main.js``) are left out.
    """
    root = mathjax_root()
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and (len(rel.parts) > 1 or rel.name == MATHJAX_BUNDLE):
            files.append(_generated(config, f"{MATHJAX_SITE}/{rel.as_posix()}", path))
    return files


def report_folder(root: Path) -> Path | None:
    """The report the site shows: ``reports/latest`` if it has a ``report.md``, else the committed
    quick report ``docs/benchmarks/report``, else None."""
    folders = (root / REPORT, root / COMMITTED_REPORT)
    return next((folder for folder in folders if (folder / "report.md").is_file()), None)


def _report_files(config: Any, root: Path) -> list[Any]:
    folder = report_folder(root)
    if folder is None:
        text = (
            "# Benchmark report\n\n"
            "No report was found when this site was built. Make one with\n\n"
            "```bash\nmake bench      # or: tgnn bench --quick\n```\n\n"
            "which writes `reports/latest/report.md` and its plots, then rebuild the docs with "
            "`make docs`: they are copied here.\n"
        )
        return [_generated(config, "benchmarks/index.md", text)]
    text = (folder / "report.md").read_text(encoding="utf-8")
    if folder == root / COMMITTED_REPORT:
        text = _with_note(text, COMMITTED_NOTE)
    files = [_generated(config, "benchmarks/index.md", text)]
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in ASSET_SUFFIXES:
            rel = path.relative_to(folder).as_posix()
            files.append(_generated(config, f"benchmarks/{rel}", path))
    return files


COMMITTED_NOTE = (
    "!!! note \"The committed quick report\"\n"
    "    This is the quick run committed with the sources (`docs/benchmarks/report/`, made by "
    "`tgnn bench --quick --out docs/benchmarks/report`; only its text and plots are kept, not "
    "the `results.json` files it names). Run `make bench` to write your own "
    "`reports/latest/`: `make docs` then shows that one here instead.\n"
)


def _with_note(markdown: str, note: str) -> str:
    """``markdown`` with ``note`` after its first heading line (or first, when it has none)."""
    lines = markdown.splitlines(keepends=True)
    at = next((i + 1 for i, line in enumerate(lines) if line.startswith("# ")), 0)
    return "".join([*lines[:at], "\n", note, "\n", *lines[at:]])


def _explorer_files(config: Any) -> list[Any]:
    writer = None
    if (Path(config.config_file_path).parent / "tgnn" / "explorer" / "__init__.py").is_file():
        for name in EXPLORER_MODULES:
            try:
                writer = writer or getattr(importlib.import_module(name), EXPLORER_WRITER, None)
            except ModuleNotFoundError:
                continue
    if writer is None:
        text = (
            "# Explorer\n\nThe interactive explorer (`tgnn.explorer`) was not available when "
            "this site was built, so no sample page is included.\n"
        )
        return [_generated(config, "explorer/index.md", text)]
    out = Path(config.site_dir).parent / MIRROR / "explorer-sample.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)  # the last build's page: writers refuse to overwrite a file
    writer(out)
    text = (
        "---\nhide:\n  - toc\n---\n\n"  # the sample page gets the full content width
        "# Explorer\n\n`tgnn.explorer` writes a self-contained HTML page to browse the attention "
        "graphs and metrics of a model layer by layer. A sample, built with the docs: "
        "[open the sample page](sample.html).\n\n"
        '<iframe src="sample.html" style="width:100%;height:720px;border:1px solid #ddd">'
        "</iframe>\n"
    )
    return [
        _generated(config, "explorer/index.md", text),
        _generated(config, "explorer/sample.html", out.read_bytes()),
    ]


def on_files(files: Any, config: Any, **_: Any) -> Any:
    """Add the API pages, the benchmark report, the explorer sample, MathJax and a theory
    placeholder."""
    root = Path(config.config_file_path).parent
    for path, text in _API.items():
        files.append(_generated(config, path, text))
    generated = [*_report_files(config, root), *_explorer_files(config),
                 *_mathjax_files(config)]
    for file in generated:
        if files.get_file_from_path(file.src_uri) is None:  # a real file in docs/ wins
            files.append(file)
    if files.get_file_from_path("theory.md") is None:
        text = (
            "# Theory\n\nThe theory guide (causal effective resistance) has not been written "
            "yet; see the API of [`tgnn.theory`](api/tgnn.theory.md).\n"
        )
        files.append(_generated(config, "theory.md", text))
    return files
