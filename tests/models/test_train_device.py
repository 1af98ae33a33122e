"""train_tiny's device and dtype: mixed precision keeps float32 weights, refusals come first.

bfloat16 and float16 train under autocast with float32 master weights (float16 with loss
scaling): after two AdamW steps the weights differ from the float32 run's by at most twice
the two steps' learning rates, and the files hold float32 tensors whatever the dtype (read
back with safetensors' own reader).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from tgnn.errors import OptionError
from tgnn.models import train

RUN = {"steps": 20, "stop_after": 2, "batch": 2, "window": 16, "eval_windows": 1,
       "progress": False}


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(folder / "tgnn-gpt2-tiny.safetensors"), framework="pt") as handle:
        return {key: handle.get_tensor(key) for key in handle.keys()}


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict[str, torch.Tensor]]:
    out = tmp_path_factory.mktemp("float32")
    return train.train_tiny(out=out, **RUN), _weights(out)  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_mixed_precision_writes_float32_weights_close_to_the_float32_run(
    dtype: str, full: tuple[dict, dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    meta, reference = full
    mixed = train.train_tiny(out=tmp_path, dtype=dtype, device="cpu", **RUN)  # type: ignore[arg-type]
    assert (mixed["dtype"], mixed["device"], meta["dtype"]) == (dtype, "cpu", "float32")
    assert json.loads((tmp_path / "tgnn-gpt2-tiny.meta.json").read_text())["dtype"] == dtype
    weights = _weights(tmp_path)
    assert weights.keys() == reference.keys()
    assert {tensor.dtype for tensor in weights.values()} == {torch.float32}
    gaps = [float((weights[k] - reference[k]).abs().max()) for k in reference]
    # AdamW moves a weight by about lr per step (m / sqrt(v) is near +-1 on the first steps):
    # two warm-up steps at lr 2e-3 * (1/3, 2/3) bound the difference of two runs by 2 * 2e-3
    # Each AdamW step moves a weight by at most its learning rate (|m / sqrt(v)| <= 1 on the
    # first steps with betas (0.9, 0.95), by Cauchy-Schwarz), so two runs of two steps differ
    # by at most twice the sum of the two warm-up rates; above 0: autocast changed the passes.
    bound = 2 * sum(train._lr(step, RUN["steps"], 2e-3, warmup=3) for step in range(2))
    assert 0 < max(gaps) <= bound * (1 + 1e-3)
    assert mixed["held_out_loss"] == pytest.approx(meta["held_out_loss"], abs=1e-2)


@pytest.mark.parametrize(("options", "message"), [
    ({"device": "tpu"}, "device: expected cpu, cuda, cuda:N or mps, got 'tpu'"),
    pytest.param({"device": "cuda"}, "device: expected a device this torch can use, got 'cuda'",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="has CUDA")),
    ({"dtype": "float64"}, "dtype: expected one of float32, bfloat16, float16, got 'float64'"),
])
def test_a_bad_device_or_dtype_is_refused_before_training(
    options: dict[str, str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train, "corpus_text", lambda: pytest.fail("training started"))
    with pytest.raises(OptionError, match=message):
        train.train_tiny(steps=1, out=tmp_path, **options)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
