"""Drive an explorer page in headless Chromium with Playwright (shared by the test and by
``measure_large.py``). Playwright's own browser download is not used: we launch the system
Chromium (Debian: ``apt-get install -y chromium``) or ``$TGNN_CHROMIUM``."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    """The Chromium executable to drive, or None when none is installed."""
    explicit = os.environ.get("TGNN_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


def _timed(page: Any, action: Any) -> float:
    """Run ``action``, wait for the redraw it schedules, return the wall time in ms."""
    start = time.perf_counter()
    action()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))")
    return 1000 * (time.perf_counter() - start)


def drive(html: Path, screenshot: Path, *, timings: bool = False) -> dict[str, Any]:
    """Open ``html``, switch layer and head, move the slider, click a token, take a screenshot.

    Returns what the page reported after each step (``summary`` of ``window.tgnnExplorer``, the
    stats line, the panel's current layer row and token text), or, with ``timings``, the wall
    time of each step in milliseconds.
    """
    from playwright.sync_api import sync_playwright

    record: dict[str, Any] = {}
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(),
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        start = time.perf_counter()
        page.goto(html.resolve().as_uri())
        page.wait_for_function("() => window.tgnnExplorer !== undefined")
        record["load"] = 1000 * (time.perf_counter() - start)

        def snap(name: str) -> None:
            record[name] = {
                "summary": page.evaluate("tgnnExplorer.summary()"),
                "stats": page.inner_text("#stats"),
                "current": page.inner_text("#panel-layers tr.current") if page.locator(
                    "#panel-layers tr.current").count() else "",
                "token": page.inner_text("#panel-token"),
            }

        snap("initial")
        last = page.evaluate("tgnnExplorer.data.layers") - 1
        heads = page.evaluate("tgnnExplorer.data.heads")
        record["t_layer"] = _timed(page, lambda: page.select_option("#layer", str(last)))
        snap("layer")
        record["t_head"] = _timed(page, lambda: page.select_option("#head", str(heads - 1)))
        snap("head")
        record["t_slider"] = _timed(page, lambda: page.fill("#threshold", "30"))
        snap("slider")
        point = page.evaluate(f"tgnnExplorer.nodePoint({last + 1}, tgnnExplorer.data.n - 1)")
        page.evaluate("p => document.getElementById('scroller').scrollTo(0, p.y - 400)", point)
        point = page.evaluate(f"tgnnExplorer.nodePoint({last + 1}, tgnnExplorer.data.n - 1)")
        record["t_click"] = _timed(page, lambda: page.mouse.click(point["x"], point["y"]))
        snap("click")
        record["sources"] = page.evaluate(
            f"Array.from(tgnnExplorer.flows({last + 1}, tgnnExplorer.data.n - 1, {heads - 1})"
            ".sources)")
        record["t_draw_in_page"] = page.evaluate(
            "() => { const t = performance.now(); for (let i = 0; i < 5; i++) tgnnExplorer.draw();"
            " return (performance.now() - t) / 5; }")
        page.mouse.move(5, 5)
        page.screenshot(path=str(screenshot))
        browser.close()
    record["errors"] = errors
    if timings:
        return {k: v for k, v in record.items() if k == "load" or k.startswith("t_")}
    return record
