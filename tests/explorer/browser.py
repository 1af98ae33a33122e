"""Drive an explorer page in headless Chromium with Playwright (shared by the tests, by
``measure_large.py`` and by ``docs/explorer/screenshots.py``). Playwright's own browser download
is not used: we launch the system Chromium (Debian: ``apt-get install -y chromium``) or
``$TGNN_CHROMIUM``."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
VIEWPORT = {"width": 1400, "height": 900}


def chromium_path() -> str | None:
    """The Chromium executable to drive, or None when none is installed."""
    explicit = os.environ.get("TGNN_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


@contextmanager
def open_page(html: Path, viewport: dict[str, int] | None = None) -> Iterator[tuple[Any, dict]]:
    """Open ``html``; yield the Playwright page and a record with ``load`` (ms, from navigation
    to the testing API being ready) and ``errors`` (page errors and console errors)."""
    from playwright.sync_api import sync_playwright

    record: dict[str, Any] = {"errors": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(),
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport=viewport or VIEWPORT)
            page.on("pageerror", lambda e: record["errors"].append(str(e)))
            page.on("console", lambda m: record["errors"].append(f"{m.type}: {m.text}")
                    if m.type == "error" else None)
            start = time.perf_counter()
            page.goto(html.resolve().as_uri())
            page.wait_for_function("() => window.tgnnExplorer !== undefined")
            record["load"] = 1000 * (time.perf_counter() - start)
            yield page, record
        finally:
            browser.close()


def timed(page: Any, action: Callable[[], Any]) -> float:
    """Run ``action``, wait for the redraw it schedules, return the wall time in ms."""
    start = time.perf_counter()
    action()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))")
    return 1000 * (time.perf_counter() - start)


def exercise(page: Any) -> dict[str, Any]:
    """Use every control once; return, per control, the wall time of the step as seen from
    Python (``ms``: includes Playwright's round trips), the page's own latency from the
    input event to the end of the redraw (``latency``, ms) and the state after it."""
    api = "tgnnExplorer"
    layers, heads = page.evaluate(f"[{api}.data.layers, {api}.data.heads]")
    n = page.evaluate(f"{api}.data.n")
    steps: dict[str, Callable[[], Any]] = {
        "layer": lambda: page.select_option("#layer", str(layers - 1)),
        "head": lambda: page.select_option("#head", str(heads - 1)),
        "colour": lambda: page.select_option("#colour", "1"),
        "grid": lambda: page.select_option("#grid-q", "2"),
        "threshold": lambda: page.fill("#threshold", "20"),
        "context": lambda: page.check("#context"),
        "next": lambda: page.click("#next"),
        "prev": lambda: page.click("#prev"),
        "find": lambda: (page.fill("#find", f"w{n // 2}"), page.press("#find", "Enter")),
        "grid_cell": lambda: page.mouse.click(**page.evaluate(f"{api}.gridPoint(0, 0)")),
        "detail_click": lambda: page.mouse.click(**page.evaluate(
            f"{api}.nodePoint({api}.data.layers, {api}.state().window[0] + 2)")),
        "brush": lambda: _brush(page),
    }
    out: dict[str, Any] = {"ms": {}, "latency": {}, "states": {}}
    for name, step in steps.items():
        out["ms"][name] = timed(page, step)
        out["states"][name] = page.evaluate(f"Object.assign({api}.state(), {api}.summary())")
        out["latency"][name] = out["states"][name]["latency"]
    return out


def _brush(page: Any) -> None:
    box = page.locator("#overview").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 0.25 * box["width"], y)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.30 * box["width"], y)
    page.mouse.up()
