"""The explorer page in headless Chromium: switch layer and head, move the slider, click a token.

Needs Playwright (``pip install playwright``, in the ``dev`` extra) and a system Chromium
(Debian: ``apt-get install -y chromium``; or ``$TGNN_CHROMIUM``); skipped when either is missing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.explorer.browser import chromium_path, drive
from tgnn.explorer import dequantize, encode_top_k, write_html

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def causal_layers(layers: int, heads: int, n: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(n, n, dtype=torch.bool).triu(1)
    out = []
    for _ in range(layers):
        scores = 2.0 * torch.randn(heads, n, n, generator=g)
        scores[:, :, 0] += 2.0  # a sink
        out.append(scores.masked_fill(mask, -torch.inf).softmax(-1))
    return out


def test_page_reacts_to_layer_head_slider_and_click() -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    if chromium_path() is None:
        pytest.skip("no Chromium found (apt-get install -y chromium, or set TGNN_CHROMIUM)")
    folder = Path(tempfile.mkdtemp(prefix="tgnn-explorer-"))
    tokens = [f"w{i}" for i in range(48)]
    layers = causal_layers(3, 4, 48)
    html = write_html(folder / "page.html", attentions=layers, tokens=tokens)
    shot = folder / "page.png"
    r = drive(html, shot)
    print(f"screenshot: {shot}")
    assert r["errors"] == []
    first, layer, head, slider, click = (r[k] for k in ("initial", "layer", "head", "slider",
                                                           "click"))
    assert first["summary"]["drawn"] == 48 * 8 - (1 + 2 + 3 + 4 + 5 + 6 + 7)  # short rows
    assert first["current"].startswith("L0") and layer["current"].startswith("L2")
    assert layer["summary"]["signature"] != first["summary"]["signature"]
    assert head["summary"]["signature"] != layer["summary"]["signature"]
    assert "head 3" in head["stats"] and "head 3" not in layer["stats"]
    assert 0 < slider["summary"]["drawn"] < head["summary"]["drawn"]
    assert slider["summary"]["hidden"] > 0
    assert click["summary"]["pathEdges"] > 0 and slider["summary"]["pathEdges"] == 0
    assert "w47" in click["token"] and "position 47" in click["token"]
    assert shot.stat().st_size > 10_000
    # the page's path flow = rollout row of the last token through the stored top-k edges
    np.testing.assert_allclose(r["sources"], stored_rollout_row(layers, head=3), atol=1e-6)


def stored_rollout_row(layers: list[torch.Tensor], head: int, rho: float = 0.5) -> np.ndarray:
    """``e_last^T Ahat_{L-1} ... Ahat_0`` with each query's 8 strongest keys, as stored."""
    n = layers[0].shape[-1]
    row = np.eye(n)[-1]
    for layer in reversed(layers):
        block = encode_top_k(layer[head : head + 1], 8)
        sparse = np.zeros((n, n))
        np.put_along_axis(sparse, block.keys[0].astype(np.int64),
                          dequantize(torch.from_numpy(block.codes[0])).double().numpy(), -1)
        row = rho * row @ sparse + (1 - rho) * row
    return row
