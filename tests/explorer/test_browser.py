"""The explorer page in headless Chromium: a 2,000-token page from a sparse capture of a
random-init model (load, every control, find, no console errors, numbers against tgnn.theory)
and a short dense page (layer / head / threshold / click, the path flow against the rollout).

Needs Playwright (``pip install playwright``, in the ``dev`` extra) and a system Chromium
(Debian: ``apt-get install -y chromium``; or ``$TGNN_CHROMIUM``); skipped when either is missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from tgnn.theory import absorbing_resistance

import tgnn
from tests.explorer.browser import chromium_path, exercise, open_page, timed
from tgnn.explorer import encode_top_k, write_html
from tgnn.models import random_config_model

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOAD_MS, CONTROL_MS = 2000, 100


@pytest.fixture(autouse=True)
def _browser() -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    if chromium_path() is None:
        pytest.skip("no Chromium found (apt-get install -y chromium, or set TGNN_CHROMIUM)")


@pytest.fixture(scope="module")
def long_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """A 2,000-token page of a random-init GPT-2 (2 layers, 4 heads), from its sparse capture."""
    model, _ = random_config_model("gpt2", seed=0, n_layer=2, n_head=4, hidden=32, n_ctx=2048,
                                   attn_implementation="sdpa")
    ids = torch.randint(2, 97, (1, 2000), generator=torch.Generator().manual_seed(0))
    graphs = tgnn.capture_sparse_graphs(model, {"input_ids": ids}, head_reduction=None, top_k=8)
    out = tmp_path_factory.mktemp("explorer") / "long.html"
    write_html(out, graphs=graphs, tokens=[f"w{i}" for i in range(2000)], title="2k tokens")
    return out, graphs


def stored_matrix(graphs: list, layer: int, head: int, n: int) -> sp.csr_array:
    """The page's stored edges of one layer and head as a sparse matrix (independent of the
    page: each head's 8 strongest captured keys per query, exact float32 weights)."""
    data = graphs[layer]
    key, query = data.edge_index
    w = data.edge_attr[:, head].numpy()
    dense_rows: dict[int, list[tuple[float, int]]] = {}
    for j, i, v in zip(key.tolist(), query.tolist(), w.tolist(), strict=True):
        dense_rows.setdefault(i, []).append((v, j))
    rows, cols, vals = [], [], []
    for i, items in dense_rows.items():
        for v, j in sorted(items, key=lambda x: -x[0])[:8]:
            rows.append(i)
            cols.append(j)
            vals.append(v)
    return sp.csr_array((vals, (rows, cols)), shape=(n, n))


def test_2k_page_loads_answers_and_finds_a_token(long_page: tuple[Path, list]) -> None:
    html, graphs = long_page
    with open_page(html) as (page, record):
        assert record["load"] < LOAD_MS, record["load"]
        page.evaluate("tgnnExplorer.setWindow(0, 40); tgnnExplorer.select(1999)")
        page.select_option("#layer", "1")
        page.select_option("#head", "2")
        found = page.evaluate("tgnnExplorer.find('w1000')")
        assert found["t"] == 1000 and found["matches"] == 1 and found["label"] == "w1000"
        state = page.evaluate("tgnnExplorer.state()")
        assert state["selected"] == 1000 and state["window"][0] <= 1000 < state["window"][1]
        label = next(x for x in page.evaluate("tgnnExplorer.labels()") if x["t"] == 1000)
        assert label["text"] == "w1000" and label["font"] >= 11  # legible, not a 3-px row
        assert page.inner_text("#selected-label") == "w1000"
        # the page's absorbing resistance from token 1000 = tgnn.theory on the stored edges
        ours = np.array(page.evaluate("Array.from(tgnnExplorer.absorbing(1, 2, 1000))"),
                        dtype=float)
        theirs = absorbing_resistance(stored_matrix(graphs, 1, 2, 2000), target=1000)
        finite = np.isfinite(theirs[:1001])
        assert finite.sum() > 10
        # float16 weights in the page: 2^-11 relative per weight
        np.testing.assert_allclose(ours[:1001][finite], theirs[:1001][finite], rtol=1e-2)
        # the stats line states the kept mass per row: the capture's numbers, not an edge count
        drawn = np.array(page.evaluate("tgnnExplorer.series('drawn_mass', 1, 2)"))
        kept = stored_matrix(graphs, 1, 2, 2000).sum(1)
        np.testing.assert_allclose(drawn, kept, atol=2e-3)
        mass = page.evaluate("tgnnExplorer.summary().heatmapMass")  # layer 1, head 2 shown
        assert mass == pytest.approx(drawn.sum(), rel=1e-3)
        timings, again = exercise(page), exercise(page)
        assert record["errors"] == []
    # from the input event to the end of the redraw, measured by the page (the wall time seen
    # from Python adds Playwright's round trips); the better of two passes, as the CI machine
    # is shared (one pass has seen 200 ms spikes at 500 tokens under a load of 17 on 2 cores)
    best = {k: min(v, again["latency"][k]) for k, v in timings["latency"].items()}
    slow = {k: round(v) for k, v in best.items() if v >= CONTROL_MS}
    assert not slow, slow
    states = timings["states"]
    assert states["layer"]["layer"] == 1 and states["head"]["head"] == 3
    assert states["threshold"]["hidden"] > 0
    a, b = states["context"]["window"]  # around token 1000, from find above
    size = b - a
    assert states["next"]["window"] == [b, b + size] and states["prev"]["window"] == [a, b]
    assert states["find"]["selected"] == 1000
    assert states["find"]["window"][1] - states["find"]["window"][0] == size
    clicked = states["detail_click"]
    assert (clicked["selected"], clicked["depth"]) == (clicked["window"][0] + 2, 2)
    assert (states["grid_cell"]["layer"], states["grid_cell"]["head"]) == (0, 0)
    assert states["brush"]["window"][0] in range(490, 510)  # a quarter of the way: token 500


def causal_layers(layers: int, heads: int, n: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(n, n, dtype=torch.bool).triu(1)
    out = []
    for _ in range(layers):
        scores = 2.0 * torch.randn(heads, n, n, generator=g)
        scores[:, :, 0] += 2.0  # a sink
        out.append(scores.masked_fill(mask, -torch.inf).softmax(-1))
    return out


def stored_rollout_row(layers: list[torch.Tensor], head: int, rho: float = 0.5) -> np.ndarray:
    """``e_last^T Ahat_{L-1} ... Ahat_0`` with each query's 8 strongest keys, as stored."""
    n = layers[0].shape[-1]
    row = np.eye(n)[-1]
    for layer in reversed(layers):
        block = encode_top_k(layer[head : head + 1], 8)
        sparse = np.zeros((n, n))  # empty slots: key 0 with weight 0, so add, never overwrite
        rows = np.repeat(np.arange(n), block.keys.shape[-1])
        np.add.at(sparse, (rows, block.keys[0].ravel().astype(np.int64)),
                  block.weights[0].ravel().astype(np.float64))
        row = rho * row @ sparse + (1 - rho) * row
    return row


def test_short_dense_page_reacts_to_layer_head_slider_and_click(tmp_path: Path) -> None:
    layers = causal_layers(3, 4, 48)
    tokens = [f"w{i}" for i in range(48)]
    html = write_html(tmp_path / "page.html", attentions=layers, tokens=tokens)
    with open_page(html) as (page, record):
        summary = "Object.assign(tgnnExplorer.state(), tgnnExplorer.summary())"
        first = page.evaluate(summary)
        assert first["window"] == [0, 48] and first["selected"] == 47  # all of it fits
        assert first["drawn"] == 48 * 8 - (1 + 2 + 3 + 4 + 5 + 6 + 7)  # short rows
        timed(page, lambda: page.select_option("#layer", "2"))
        layer = page.evaluate(summary)
        assert layer["signature"] != first["signature"]
        assert page.inner_text("#panel-layers tr.current").startswith("L2")
        timed(page, lambda: page.select_option("#head", "3"))
        head = page.evaluate(summary)
        assert head["signature"] != layer["signature"] and "head 3" in page.inner_text("#stats")
        timed(page, lambda: page.fill("#threshold", "30"))
        slider = page.evaluate(summary)
        assert 0 < slider["drawn"] < head["drawn"] and slider["hidden"] > 0
        point = page.evaluate("tgnnExplorer.nodePoint(3, 40)")
        timed(page, lambda: page.mouse.click(point["x"], point["y"]))
        assert page.evaluate("tgnnExplorer.state().selected") == 40
        assert "position 40" in page.inner_text("#panel-token")
        assert page.evaluate("tgnnExplorer.find('33').t") == 33  # a position: no token is "33"
        assert page.evaluate("tgnnExplorer.find('W4').matches") == 9  # w4, w40..w47
        assert page.evaluate("tgnnExplorer.find('zz')") is None
        assert page.inner_text("#find-result") == 'no token matches "zz"'
        sources = page.evaluate("Array.from(tgnnExplorer.flows(3, 47, 3).sources)")
        assert record["errors"] == []
    # the page's path flow = rollout row of the last token through the stored top-k edges
    np.testing.assert_allclose(sources, stored_rollout_row(layers, head=3), atol=1e-6)
