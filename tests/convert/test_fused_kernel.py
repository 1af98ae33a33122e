"""The fused CPU kernel of the sparse capture against float64 attention and the eager path."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tgnn.convert
from tgnn.convert import fused_kernel
from tgnn.convert.capture import capture_attention
from tgnn.convert.from_model import capture_graphs
from tgnn.convert.sparse_capture import capture_sparse_graphs, sparse_attention_forward
from tgnn.convert.sparsify import top_k_entries
from tgnn.errors import OptionError, ShapeError
from tgnn.models import random_config_model

pytestmark = pytest.mark.skipif(
    fused_kernel.kernel_library() is None, reason=fused_kernel.fused_kernel_status()
)


def reference(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
              bias: torch.Tensor | None, scale: float) -> tuple[torch.Tensor, ...]:
    """Softmax attention in float64 (a row with no readable key is uniform, as eager's)."""
    scores = query.double() @ key.double().T * scale
    if bias is not None:
        rows = bias.double().repeat(query.shape[0] // bias.shape[0], 1)
        blocked = torch.isinf(rows)
        scores = scores.masked_fill(blocked, -math.inf)
        scores[blocked.all(-1)] = 0.0  # no readable key: uniform
    weights = torch.softmax(scores, -1)
    return weights, weights @ value.double(), torch.special.entr(weights).sum(-1)


@pytest.mark.parametrize("keys", [1, 5, 31, 32, 33, 100])
@pytest.mark.parametrize("dim", [16, 48, 64])
@pytest.mark.parametrize("sharpness", [0.1, 3.0])
def test_kernel_equals_float64_attention(keys: int, dim: int, sharpness: float) -> None:
    """Weights to 1e-6: float32 scores of size ~10 carry errors ~1e-6 (as eager's do)."""
    generator = torch.Generator().manual_seed(keys * dim)
    groups, rows = 3, 11  # 33 query rows: four tiles of 8 and one single row
    query = torch.randn(groups * rows, dim, generator=generator) * sharpness
    key = torch.randn(keys, dim, generator=generator)
    value = torch.randn(keys, dim, generator=generator)
    allowed = torch.rand(rows, keys, generator=generator) > 0.3
    allowed[0] = False  # a row that may read nothing
    allowed[1] = True
    bias = torch.zeros(rows, keys).masked_fill_(~allowed, -math.inf)
    key_t = torch.zeros(dim, fused_kernel.padded(keys) + 7)  # a row stride past the padding
    key_t[:, :keys] = key.T
    band = bias.clone()  # masked keys only in columns [keys // 3, keys // 2): a partial bias
    band[:, : keys // 3] = 0.0
    band[:, keys // 2 :] = 0.0
    for mask, passed, start in ((None, None, 0), (bias, bias, 0),
                               (band, band[:, keys // 3 : keys // 2].contiguous(), keys // 3)):
        weights = torch.full((groups * rows, fused_kernel.padded(keys)), math.nan)
        output, entropy = torch.empty(groups * rows, dim), torch.empty(groups * rows)
        fused_kernel.fused_attention_rows(query, key_t, value, passed, dim**-0.5, weights, output,
                                          entropy, bias_start=start)
        expected = reference(query, key, value, mask, dim**-0.5)
        torch.testing.assert_close(weights[:, :keys].double(), expected[0], rtol=0, atol=1e-6)
        assert bool((weights[:, keys:] == 0).all())  # the padding carries no weight
        torch.testing.assert_close(output.double(), expected[1], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(entropy.double(), expected[2], rtol=1e-5, atol=1e-5)
        if mask is not None:
            blocked = torch.isinf(mask).repeat(groups, 1)
            assert bool((weights[:, :keys][blocked & ~blocked.all(-1, keepdim=True)] == 0).all())


@pytest.mark.parametrize("scale", [1e-30, 1e4])
def test_kernel_at_extreme_scales(scale: float) -> None:
    """Scores ~1e5 (one-hot rows) and ~1e-29 (uniform rows): finite, stochastic, same argmax."""
    generator = torch.Generator().manual_seed(1)
    query, key = torch.randn(16, 32, generator=generator), torch.randn(50, 32, generator=generator)
    value = torch.randn(50, 32, generator=generator)
    key_t = torch.zeros(32, fused_kernel.padded(50))
    key_t[:, :50] = key.T
    weights, output, entropy = torch.empty(16, 64), torch.empty(16, 32), torch.empty(16)
    fused_kernel.fused_attention_rows(query, key_t, value, None, scale, weights, output, entropy)
    assert bool(torch.isfinite(weights).all() and torch.isfinite(entropy).all())
    torch.testing.assert_close(weights.sum(-1), torch.ones(16), rtol=0, atol=1e-6)
    expected = torch.softmax(query @ key.T * scale, -1)
    assert torch.equal(weights[:, :50].argmax(-1), expected.argmax(-1))
    if scale < 1:
        torch.testing.assert_close(entropy, torch.full((16,), math.log(50)), rtol=0, atol=1e-6)
    else:
        assert bool((entropy.abs() <= 1e-6).all())


def wide_model(kind: str) -> Any:
    """A random model with heads of width 16, so the fused kernel applies."""
    model, _ = random_config_model(kind, n_layer=2, n_head=4, hidden=64, seed=3)
    return model


def dense_matrix(graph: Any, shape: tuple[int, int]) -> torch.Tensor:
    """``A[i, j]`` of a head-reduced graph (edge ``j -> i``), zero where there is no edge."""
    target, source = graph.edge_index[1], graph.edge_index[0]
    return torch.zeros(shape).index_put_((target, source), graph.edge_weight)


def tie_margins(rows: torch.Tensor, k: int) -> torch.Tensor:
    return (rows - rows.topk(k, dim=-1).values[..., -1:]).abs()


@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
@pytest.mark.parametrize("options", [
    {"top_k": 4}, {"top_k": 3, "head_reduction": "max", "self_loops": False},
])
@pytest.mark.parametrize("padded", [True, False])
def test_fused_capture_equals_dense_capture_up_to_float_ties(
    kind: str, options: dict[str, Any], padded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With padding the kernel computes the rows and the builder selects per block; without,
    the kernel selects in the same pass (attention_select)."""
    calls = []
    name = "attention_heads" if padded else "attention_select"
    kernel = getattr(fused_kernel, name)
    monkeypatch.setattr(fused_kernel, name,
                        lambda *args, **keywords: calls.append(1) or kernel(*args, **keywords))
    model = wide_model(kind)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 50, (2, 70), generator=generator)
    mask = torch.ones_like(ids)
    if padded:
        mask[1, -9:] = 0  # padding (right, which every model here accepts)
    inputs = {"input_ids": ids, "attention_mask": mask}
    dense = capture_graphs(model, inputs, **options)
    sparse, output = sparse_attention_forward(model, inputs, memory_budget=40_000, **options)
    assert calls, "the fused kernel was not used"
    eager = capture_sparse_graphs(model, inputs, kernel="eager", **options)
    reduce = torch.amax if options.get("head_reduction") == "max" else torch.mean
    for item, d_layer, s_layer, e_layer in zip(capture_attention(model, inputs), dense, sparse,
                                               eager, strict=True):
        for b, (d, s, e) in enumerate(zip(d_layer.to_data_list(), s_layer.to_data_list(),
                                          e_layer.to_data_list(), strict=True)):
            assert torch.equal(e.edge_index, d.edge_index)  # "eager" is bit for bit
            shape = (int(d.num_nodes),) * 2
            dense_w, fused_w = dense_matrix(d, shape), dense_matrix(s, shape)
            both = (dense_w > 0) & (fused_w > 0)
            assert float((dense_w - fused_w).abs()[both].max()) <= 1e-6
            differ = (dense_w > 0) != (fused_w > 0)
            if bool(differ.any()):  # only at keys that tie the k-th weight within 1e-6
                real = mask[b].bool()
                rows = reduce(item.weights[b][:, real][:, :, real], 0)
                assert float(tie_margins(rows, options["top_k"])[differ].max()) <= 1e-6
            for name in ("row_entropy", "first_token_mass", "column_sum", "kept_mass"):
                torch.testing.assert_close(s[name], e[name], rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        plain = model(**inputs)[0]
    real = mask.bool()
    torch.testing.assert_close(output[0][real], plain[real], rtol=1e-5, atol=1e-5)


def test_kernel_option_is_checked_before_the_model_runs() -> None:
    with pytest.raises(OptionError, match="kernel"):
        capture_sparse_graphs(object(), {}, kernel="fast")  # type: ignore[arg-type]


def test_build_goes_to_the_cache_and_its_absence_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = Path(tgnn.convert.__file__).parent
    before = sorted(p.name for p in package.iterdir())
    monkeypatch.setenv("TGNN_CACHE_DIR", str(tmp_path / "cache"))
    fused_kernel.kernel_library.cache_clear()
    try:
        assert fused_kernel.kernel_library() is not None
        assert [p.suffix for p in (tmp_path / "cache").iterdir()] == [".so"]
        monkeypatch.setenv("TGNN_FUSED_KERNEL", "0")
        fused_kernel.kernel_library.cache_clear()
        assert fused_kernel.fused_kernel_status().startswith("not in use: switched off")
        model = wide_model("gpt2")
        inputs = {"input_ids": torch.arange(1, 20)[None]}
        graphs = capture_sparse_graphs(model, inputs, top_k=3)  # library calls instead
        dense = capture_graphs(model, inputs, top_k=3)
        assert torch.equal(graphs[0].edge_index, dense[0].edge_index)
    finally:
        fused_kernel.kernel_library.cache_clear()
    assert sorted(p.name for p in package.iterdir()) == before  # nothing written there


@st.composite
def head_blocks(draw: st.DrawFn) -> tuple[torch.Tensor, int, str]:
    """Weights in quarter steps (exact means over 1, 2 or 4 heads: ties are real ties)."""
    heads, rows, keys = draw(st.sampled_from([1, 2, 4])), draw(st.integers(1, 5)), draw(
        st.integers(1, 40))
    steps = draw(st.lists(st.integers(0, 4), min_size=heads * rows * keys,
                          max_size=heads * rows * keys))
    weights = torch.tensor(steps, dtype=torch.float32).view(heads, rows, keys) / 4
    return weights, draw(st.integers(1, 12)), draw(st.sampled_from(["mean", "sum", "max"]))


@settings(max_examples=300, deadline=None)
@given(head_blocks())
def test_select_rows_equals_reduce_then_top_k(case: tuple[torch.Tensor, int, str]) -> None:
    weights, k, reduction = case
    reduced = {"mean": weights.mean(0), "sum": weights.sum(0), "max": weights.amax(0)}[reduction]
    rows, cols = top_k_entries(reduced, k)
    wide = torch.zeros(*weights.shape[:2], weights.shape[2] + 5)  # a row stride past the keys
    wide[..., : weights.shape[2]] = weights
    columns = torch.ones(weights.shape[0], weights.shape[2] + 3, dtype=torch.float64)
    got_rows, got_cols, values = fused_kernel.select_rows(
        wide[..., : weights.shape[2]], reduction, k, columns[:, 3:])
    assert torch.equal(got_rows, rows) and torch.equal(got_cols, cols)
    assert torch.equal(values, reduced[rows, cols])
    assert torch.equal(columns[:, 3:], 1 + weights.double().sum(1))  # added to what was there
    assert bool((columns[:, :3] == 1).all())


@pytest.mark.parametrize("threads", [1, 2])
def test_kernel_on_threads_equals_one_thread(threads: int) -> None:
    """The OpenMP pieces (heads x 32 rows, rows of the selection) give the same numbers."""
    generator = torch.Generator().manual_seed(2)
    weights = torch.softmax(torch.randn(4, 50, 70, generator=generator), -1)
    query = torch.randn(2, 70, 16, generator=generator)
    key, value = torch.randn(2, 2, 40, 16, generator=generator)
    key_t = torch.zeros(2, 16, 64)
    key_t[..., :40] = key.transpose(1, 2)
    before = torch.get_num_threads()
    results = []
    try:
        for count in (1, threads):
            torch.set_num_threads(count)
            columns = torch.zeros(4, 70, dtype=torch.float64)
            selected = fused_kernel.select_rows(weights, "mean", 5, columns)
            rows = torch.empty(2, 70, 64), torch.empty(2, 70, 16), torch.empty(2, 70)
            fused_kernel.attention_heads(query, key_t, value, None, 0.25, *rows)
            results.append((*selected, columns, *rows))
    finally:
        torch.set_num_threads(before)
    for one, many in zip(*results, strict=True):
        torch.testing.assert_close(many, one, rtol=1e-12, atol=1e-12)
    # column sums: float over 8 rows, then double (relative error below 8 float ulps)
    torch.testing.assert_close(results[0][3], weights.double().sum(1), rtol=1e-6, atol=0)


def test_bad_layouts_are_named_not_passed_to_the_kernel() -> None:
    query, value = torch.randn(1, 8, 16), torch.randn(1, 20, 16)
    key_t, weights = torch.zeros(1, 16, 32), torch.empty(1, 8, 32)
    output, entropy = torch.empty(1, 8, 16), torch.empty(1, 8)
    cases = {
        "value": (query, key_t, value.transpose(1, 2).contiguous().transpose(1, 2)),
        "query": (query.double(), key_t, value),
        "key_t": (query, key_t[..., :20], value),  # narrower than the padded width
    }
    for name, (q, k, v) in cases.items():
        with pytest.raises(ShapeError, match=name):
            fused_kernel.attention_heads(q, k, v, None, 1.0, weights, output, entropy)
    with pytest.raises(ShapeError, match="bias_start"):
        fused_kernel.attention_heads(query, key_t, value, torch.zeros(8, 5), 1.0, weights,
                                     output, entropy, bias_start=18)
