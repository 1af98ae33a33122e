"""Back to the model: a rewired causal attention graph as a mask the GPT-2 runs with.

Run as a script for the figures of the issue note (trained ``tgnn-gpt2-tiny`` when shipped):
``python tests/transforms/test_model_masks.py``. The tests use a random-init GPT-2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch_geometric.data import Data

from tgnn.convert import capture_graphs, graph_to_attention_mask
from tgnn.transforms import GTR, SDRF, FoSR

Rewire = Callable[[Data], Data]


def sequence_graph(model: Any, ids: torch.Tensor, top_k: int, layer: int = 0) -> Data:
    """Layer ``layer``'s head-mean attention of one sequence, top-k sparsified, causal."""
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    graph = capture_graphs(model, inputs, layers=[layer], top_k=top_k)[0]
    return Data(
        edge_index=graph.edge_index,
        edge_weight=graph.edge_weight.double(),
        num_nodes=graph.num_nodes,
        pos=torch.arange(graph.num_nodes),
        is_causal=True,
    )


def masked_loss_and_sensitivity(
    model: Any, ids: torch.Tensor, mask: torch.Tensor | None, sources: int
) -> tuple[float, float]:
    """Next-token loss, and ``sum_{s < sources} ||d h_last / d x_s||_F`` of the last layer."""
    embeds = model.get_input_embeddings()(ids[0]).detach()
    kwargs: dict[str, Any] = {} if mask is None else {"attention_mask": mask}

    def last_hidden(x: torch.Tensor) -> torch.Tensor:
        out = model(inputs_embeds=x[None], output_hidden_states=True, **kwargs)
        return out.hidden_states[-1][0, -1]

    with torch.no_grad():
        logits = model(inputs_embeds=embeds[None], **kwargs).logits[0, :-1]
        loss = float(torch.nn.functional.cross_entropy(logits, ids[0, 1:]))
    x = embeds.clone().requires_grad_(True)
    h = last_hidden(x)
    rows = [torch.autograd.grad(h[k], x, retain_graph=True)[0][:sources] for k in range(h.numel())]
    sens = float(torch.stack(rows).pow(2).sum(dim=(0, 2)).sqrt().sum())
    return loss, sens


def compare(
    model: Any, sequences: list[torch.Tensor], rewires: dict[str, Rewire], top_k: int, sources: int
) -> dict[str, dict[str, float]]:
    """Mean loss / sensitivity over sequences: full causal, top-k mask, rewired top-k masks."""
    totals: dict[str, list[float]] = {}
    for ids in sequences:
        graph = sequence_graph(model, ids, top_k)
        masks: dict[str, torch.Tensor | None] = {
            "full causal": None,
            f"top-{top_k} graph": graph_to_attention_mask(graph),
        }
        for name, rewire in rewires.items():
            masks[name] = graph_to_attention_mask(rewire(graph))
        for name, mask in masks.items():
            loss, sens = masked_loss_and_sensitivity(model, ids, mask, sources)
            acc = totals.setdefault(name, [0.0, 0.0])
            acc[0] += loss / len(sequences)
            acc[1] += sens / len(sequences)
    return {name: {"loss": v[0], "sensitivity": v[1]} for name, v in totals.items()}


def _random_gpt2() -> tuple[Any, list[torch.Tensor]]:
    from tgnn.models import random_config_model

    model, tok = random_config_model("gpt2", seed=0, n_layer=2, hidden=16, n_head=2)
    ids = tok("def f(x): return x + 1")["input_ids"]
    return model.eval(), [ids]


@pytest.mark.slow
def test_rewired_mask_keeps_causality_and_adds_long_range_sensitivity():
    model, sequences = _random_gpt2()
    ids = sequences[0]
    graph = sequence_graph(model, ids, top_k=2)
    rewired = FoSR(num_edges=6)(graph)
    src, dst = rewired.edge_index
    assert bool((src <= dst).all()) and int(rewired.edge_added.sum()) == 6
    mask = graph_to_attention_mask(rewired)
    upper = torch.triu_indices(ids.size(1), ids.size(1), offset=1)
    assert bool((mask[0, 0][upper[0], upper[1]] < -1e30).all())  # still causal
    loss, sens = masked_loss_and_sensitivity(model, ids, mask, sources=4)
    base_loss, base_sens = masked_loss_and_sensitivity(
        model, ids, graph_to_attention_mask(graph), sources=4
    )
    assert torch.isfinite(torch.tensor([loss, sens, base_loss, base_sens])).all()
    # more edges into later tokens: the last token depends more on the first ones
    assert sens >= base_sens


def main() -> None:
    from tgnn.models import load
    from tgnn.models.tiny import corpus_text, split_text

    torch.manual_seed(0)
    model, tok = load("tgnn-gpt2-tiny")
    model.eval()
    held_out = split_text(corpus_text())[1]
    n, count, top_k = 64, 8, 4
    starts = torch.linspace(0, len(held_out) - n, count).long().tolist()
    sequences = [tok(held_out[s : s + n - 1])["input_ids"] for s in starts]
    rewires: dict[str, Rewire] = {
        "SDRF (20 it.)": SDRF(num_iterations=20, removal_bound=float("inf")),
        "FoSR (16 edges)": FoSR(num_edges=16),
        "GTR (16 edges)": GTR(num_edges=16),
    }
    figures = compare(model, sequences, rewires, top_k=top_k, sources=8)
    print(f"tgnn-gpt2-tiny, {count} held-out windows of {n} tokens, mask on every layer")
    for name, row in figures.items():
        print(
            f"{name:<18} loss {row['loss']:.4f}  sensitivity(last <- first 8) "
            f"{row['sensitivity']:.4f}"
        )


if __name__ == "__main__":
    main()
