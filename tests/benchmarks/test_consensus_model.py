"""Repeated passes through the embedded causal model (section 5's trained-model part)."""

from __future__ import annotations

import torch
from tgnn.benchmarks.common import load_model, sample_ids
from tgnn.benchmarks.consensus_model import causal_mask, repeated_passes

from tgnn.metrics import mu as relative_distance


def test_first_pass_equals_the_models_hidden_states_and_is_causal() -> None:
    model, tokenizer = load_model("tgnn-gpt2-tiny")
    ids = torch.cat([sample_ids(tokenizer, 12, seed=s) for s in range(2)])
    with torch.no_grad():
        reference = model(input_ids=ids, output_hidden_states=True).hidden_states
    mu = repeated_passes(model, ids, passes=1)["mu"]

    layers = len(model.transformer.h)
    for layer in range(layers):  # the last hidden state has the final LayerNorm applied
        torch.testing.assert_close(torch.from_numpy(mu[:, layer]),
                                   relative_distance(reference[layer]).double())
    changed = ids.clone()
    changed[:, -1] = (changed[:, -1] + 1) % model.config.vocab_size
    # a change of the last token leaves every earlier token's trajectory unchanged
    out = repeated_passes(model, changed, passes=2)
    assert (out["first_drift"] == repeated_passes(model, ids, passes=2)["first_drift"]).all()
    assert causal_mask(3)[0, 0].tolist() == [[0.0, -torch.inf, -torch.inf],
                                             [0.0, 0.0, -torch.inf], [0.0, 0.0, 0.0]]


def test_without_mlp_the_update_is_attention_only() -> None:
    model, tokenizer = load_model("tgnn-gpt2-tiny")
    ids = sample_ids(tokenizer, 8, seed=0)
    with_mlp = repeated_passes(model, ids, passes=1, mlp=True)
    without = repeated_passes(model, ids, passes=1, mlp=False)
    assert with_mlp["mu"][0, 0] == without["mu"][0, 0]  # the same embeddings
    assert with_mlp["first_drift"][0, 1] != without["first_drift"][0, 1]
