"""The built documentation site works offline and opened from disk (``file://``).

These tests read the site that ``make docs`` built (``site/``, or the folder ``$TGNN_SITE``
names); ``.ci/run`` builds it before the tests. Without a built site they are skipped (a docs
build takes about a minute, too long for the suite). A site built before these checks existed
fails them: rebuild it with ``make docs``.

Without a browser: every relative link and asset of every page resolves to a file (opened from
disk, a link to a folder shows a directory listing), no page loads anything from the network,
and the benchmark page is a report rather than the "no report" placeholder. In headless Chromium
(skipped without Playwright or Chromium, see ``tests/explorer/browser.py``): the theory page's
math is typeset by the site's own MathJax with no request leaving ``file://``, a nav link opens
a page (the benchmark report, with its plots shown), and the search answers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.explorer.browser import chromium_path

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("TGNN_SITE", ROOT / "site"))
LOCAL_SCHEMES = ("file", "data", "blob", "about")  # what a request of an offline page may use
# Raw TeX delimiters left in a text node outside code: math that no renderer typeset.
RAW_MATH_JS = r"""() => {
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const raw = [];
  for (let node; (node = walk.nextNode()); ) {
    if (node.parentElement.closest("pre, code, script, style")) continue;
    if (/\\[(\[]/.test(node.nodeValue)) raw.push(node.nodeValue.trim().slice(0, 80));
  }
  return raw;
}"""


@pytest.fixture(scope="module")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        pytest.skip(f"no built site in {SITE} (make docs, or set TGNN_SITE)")
    return SITE


class _References(HTMLParser):
    """``(tag, attribute, url)`` of every ``href`` and ``src`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.found.append((tag, name, value))


def references(page: Path) -> list[tuple[str, str, str]]:
    parser = _References()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.found


def pages(site: Path) -> Iterator[Path]:
    return (p for p in sorted(site.rglob("*.html")) if p.name != "404.html")


def test_reference_parser_sees_links_and_assets() -> None:
    parser = _References()
    parser.feed('<a href="a.html#x">a</a><img src="p.png"><link rel="x" href="https://h/s.css">')
    assert parser.found == [("a", "href", "a.html#x"), ("img", "src", "p.png"),
                            ("link", "href", "https://h/s.css")]


def test_every_relative_link_and_asset_is_a_file(site: Path) -> None:
    broken = []
    for page in pages(site):
        for tag, _, url in references(page):
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or not parts.path:  # external, data:, or #anchor
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: <{tag}> {url}")
    assert broken == [], "links to folders or missing files (rebuild: make docs):\n" + "\n".join(
        broken[:20])


def test_no_page_loads_anything_from_the_network(site: Path) -> None:
    remote = []
    for page in pages(site):
        for tag, _, url in references(page):
            if tag != "a" and urlsplit(url).scheme not in ("", *LOCAL_SCHEMES):
                remote.append(f"{page.relative_to(site)}: <{tag}> {url}")
    assert remote == [], "assets loaded from the network (rebuild: make docs):\n" + "\n".join(
        remote[:20])


def test_benchmark_page_is_a_report(site: Path) -> None:
    page = site / "benchmarks" / "index.html"
    html = page.read_text(encoding="utf-8")
    assert "No report was found" not in html
    images = [url for tag, _, url in references(page) if tag == "img"]
    assert len(images) >= 3, f"expected the report's plots on {page}, found {images}"


# ----------------------------------------------------------------------------- in Chromium
@pytest.fixture(scope="module")
def browser(site: Path) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra)")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium found (apt-get install -y chromium, or set TGNN_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable,
                                              args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def _open(browser: Any, page_path: Path) -> tuple[Any, list[str], list[str]]:
    """A new page at ``page_path`` (file://): the page, its requests' URLs and its errors."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(page_path.resolve().as_uri())
    return page, requests, errors


@pytest.mark.browser
@pytest.mark.slow
def test_theory_math_is_typeset_offline(site: Path, browser: Any) -> None:
    page, requests, errors = _open(browser, site / "theory.html")
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")
    assert page.evaluate(RAW_MATH_JS) == []
    spans = page.locator("article .arithmatex").count()
    assert spans > 0 and page.locator("article .arithmatex mjx-container").count() == spans
    assert [u for u in requests if urlsplit(u).scheme not in LOCAL_SCHEMES] == []
    assert any("javascripts/mathjax/tex-svg.js" in u for u in requests)
    assert errors == []


@pytest.mark.browser
@pytest.mark.slow
def test_nav_link_opens_a_page_and_search_answers(site: Path, browser: Any) -> None:
    page, requests, errors = _open(browser, site / "index.html")
    page.click("nav.md-nav--primary >> text=Benchmark report")
    page.wait_for_load_state()
    assert page.url == (site / "benchmarks" / "index.html").resolve().as_uri()
    assert page.title() == "Benchmark report - tgnn"  # a page of the site, not a folder listing
    shown = page.evaluate("() => Array.from(document.images, i => i.complete && i.naturalWidth)")
    assert len(shown) >= 3 and all(shown), f"report plots not shown: {shown}"
    page.keyboard.press("s")  # material's shortcut to the search box
    page.keyboard.type("resistance")
    page.wait_for_selector(".md-search-result__item", timeout=10_000)
    assert [u for u in requests if urlsplit(u).scheme not in LOCAL_SCHEMES] == []
    assert errors == []
