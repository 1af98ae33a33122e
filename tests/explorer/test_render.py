"""The explorer page from random-init and embedded models, from arrays, and from ``tgnn view``."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tgnn.cli import app
from tgnn.errors import ShapeError
from tgnn.explorer import render_html, sample_page, write_html
from tgnn.models import load, random_config_model


def page_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="tgnn-data">(.*?)</script>', html, re.S)
    assert match is not None
    return json.loads(match.group(1))


def assert_offline(html: str) -> None:
    """No external asset: no script/link/img sources, CSS imports or URLs."""
    for pattern in (r"<script[^>]+src=", r"<link\b", r"<img\b", r"@import", r"url\(", r"https?://"):
        assert re.search(pattern, html) is None, pattern


def keys(data: dict, group: str) -> set[str]:
    return {q["key"] for q in data[group]}


def test_random_gpt2_page_has_every_quantity() -> None:
    model, tok = random_config_model("gpt2", seed=0, n_layer=2, n_head=2, hidden=16,
                                     attn_implementation="sdpa")
    html = render_html(model, tok, "abc def", sensitivity=True, top_k=4)
    assert model.config._attn_implementation == "sdpa"  # restored after capture and Jacobian
    assert_offline(html)
    data = page_data(html)
    assert (data["n"], data["layers"], data["heads"], data["top_k"]) == (8, 2, 2, 4)
    assert data["tokens"][1:] == list("abc\u2423def") and data["causal"]  # visible space
    assert data["source"] == "sparse"  # a model's page comes from the sparse capture
    assert keys(data, "rows") == {"sink_mass", "entropy", "drawn_mass", "first_token_mass"}
    assert keys(data, "profiles") == {"rollout_resistance", "sensitivity"}
    assert "sensitivity" not in data["unavailable"] and len(data["edges"]) == 2
    assert data["panel"]["values"]["total_resistance"][0] is not None


def test_automatic_jacobian_weighs_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the budget: the probe estimate with its error bar; both over: none, and why."""
    import tgnn.metrics.sensitivity_estimates as sensitivity

    model, tok = random_config_model("gpt2", seed=0, n_layer=2, n_head=2, hidden=16)
    seconds = {"exact": 100.0, "probe": 1.0}
    monkeypatch.setattr(sensitivity, "jacobian_seconds_estimate",
                        lambda model, n, num_layers=1, num_probes=None: seconds[
                            "exact" if num_probes is None else "probe"])
    data = page_data(render_html(model, tok, "abcd", jacobian_budget_s=10))
    found = next(q for q in data["profiles"] if q["key"] == "sensitivity")
    assert "random-probe estimate" in found["note"] and "about 100 s" in found["note"]
    stderr = np.frombuffer(base64.b64decode(found["stderr"]), dtype="<f4").reshape(2, 5)
    assert np.all(stderr[:, :-1] >= 0) and np.any(stderr > 0)
    seconds["probe"] = 50.0
    data = page_data(render_html(model, tok, "abcd", jacobian_budget_s=10))
    note = data["unavailable"]["sensitivity"]
    assert note.startswith("skipped: the exact Jacobian would take about 100 s (budget 10 s)")
    assert "sensitivity=True" in note and "--sensitivity" in note
    assert "sensitivity" not in keys(data, "profiles")
    # long inputs are timed at TIMING_TOKENS and scaled by (n / TIMING_TOKENS)^2
    import tgnn.explorer.jacobian as jacobian

    calls: list[int] = []
    monkeypatch.setattr(jacobian, "TIMING_TOKENS", 2)
    monkeypatch.setattr(sensitivity, "jacobian_seconds_estimate",
                        lambda model, n, num_layers=1, num_probes=None: calls.append(n) or (
                            4.0 if num_probes is None else 1.0))
    data = page_data(render_html(model, tok, "abcd", jacobian_budget_s=20))  # 5 tokens
    found = next(q for q in data["profiles"] if q["key"] == "sensitivity")
    assert calls == [2, 2] and "about 25 s (budget 20 s)" in found["note"]  # 4 * 2.5^2
    # too much memory even to time it: no estimate runs (jacobian_seconds_estimate would fail)
    monkeypatch.setattr(jacobian, "BACKWARD_MAX_BYTES", 100)  # 8 L H n^2 = 800
    monkeypatch.setattr(sensitivity, "jacobian_seconds_estimate", None)
    data = page_data(render_html(model, tok, "abcd"))
    assert data["unavailable"]["sensitivity"].startswith(
        "skipped: differentiating 5 tokens through eager attention keeps about")


def test_random_bert_page_is_bidirectional() -> None:
    model, tok = random_config_model("bert", seed=0, n_layer=2, n_head=2, hidden=16)
    data = page_data(render_html(model, tok, "hello", sensitivity=False))
    assert not data["causal"]
    assert data["unavailable"]["sensitivity"].startswith("turned off")


def test_sample_page_of_the_embedded_model_measures_sensitivity(tmp_path: Path) -> None:
    out = sample_page(tmp_path / "docs" / "sample.html", text="a sink")
    data = page_data(out.read_text(encoding="utf-8"))
    model, _ = load("tgnn-gpt2-tiny")
    assert data["tokens"][0] == "<bos>" and data["layers"] == model.config.n_layer
    assert "sensitivity" in keys(data, "profiles")
    assert data["title"] == "tgnn-gpt2-tiny: a sink"


def test_arrays_and_write(tmp_path: Path) -> None:
    u = torch.tril(torch.ones(3, 3)) / torch.arange(1, 4)[:, None]
    out = write_html(tmp_path / "sub" / "page.html", attentions=[u[None].numpy()],
                     tokens=["<a>", "</script>", "c"], title="a & <b>")
    html = out.read_text(encoding="utf-8")
    assert "<title>a &amp; &lt;b&gt;</title>" in html
    assert page_data(html)["tokens"] == ["<a>", "</script>", "c"]  # escaped inside the JSON
    with pytest.raises(ShapeError, match="tokens"):
        render_html(attentions=[u[None]])
    with pytest.raises(ShapeError, match="model, tokenizer, text"):
        render_html(text="abc")
    with pytest.raises(ShapeError, match="attentions, graphs: expected one"):
        render_html(attentions=[u[None]], graphs=[u], tokens=list("abc"))


def test_cli_view_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "view.html"
    result = CliRunner().invoke(app, ["view", "--text", "hi there", "--out", str(out),
                                      "--no-sensitivity", "--top-k", "3"])
    assert result.exit_code == 0, result.output
    data = page_data(out.read_text(encoding="utf-8"))
    assert data["top_k"] == 3 and "wrote" in result.output
    assert data["title"] == "tgnn-gpt2-tiny: hi there"
    drawn = next(q for q in data["rows"] if q["key"] == "drawn_mass")
    mass = np.frombuffer(base64.b64decode(drawn["data"]), dtype="<f4")
    assert np.all((mass > 0) & (mass <= 1 + 1e-6))
