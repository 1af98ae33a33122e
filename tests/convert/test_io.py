"""save_graphs / load_graphs: a pickle-free round trip of Data and Batch with every attribute."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch_geometric.data import Batch, Data

import tgnn
from tgnn.convert import attention_to_data, load_graphs, save_graphs
from tgnn.errors import OutputExistsError, ProtectedPathError, SerializationError


def assert_same(a: Data, b: Data) -> None:
    assert type(a) is type(b) or (isinstance(a, Batch) and isinstance(b, Batch))
    assert list(a.keys()) == list(b.keys())
    for key in a.keys():
        x, y = a[key], b[key]
        if isinstance(x, torch.Tensor):
            assert isinstance(y, torch.Tensor) and x.dtype == y.dtype, key
            assert x.shape == y.shape and torch.equal(x, y), key
        else:
            assert type(x) is type(y) and x == y, key


def rich_graph() -> Data:
    attention = torch.softmax(torch.randn(3, 5, 5, generator=torch.Generator().manual_seed(0)),
                              -1).tril()
    attention = attention / attention.sum(-1, keepdim=True)
    graph = attention_to_data(attention, head_reduction=None)  # per-head edge_attr [E, 3]
    graph.pos = torch.arange(5)
    graph.token = torch.tensor([1, 7, 8, 9, 4])
    graph.x = torch.randn(5, 4, dtype=torch.float64)
    graph.kept_mass = torch.ones(5, dtype=torch.bfloat16)
    graph.row_entropy = torch.rand(5, 3)
    graph.is_learned_sink = torch.zeros(5, dtype=torch.bool)
    graph.layer, graph.window, graph.rho = 2, 0, 0.5
    graph.label, graph.shape_hint = "layer 2", (5, 5)
    return graph


def test_data_round_trip_keeps_every_attribute(tmp_path: Path) -> None:
    graph = rich_graph()
    assert graph.edge_attr.shape[1] == 3 and graph.head_reduction == "none"
    path = save_graphs(tmp_path / "g.safetensors", [graph, graph])  # shared tensors are fine
    back = load_graphs(path)
    assert len(back) == 2
    for saved in back:
        assert_same(graph, saved)
    assert back[0].num_nodes == 5 and back[0].is_causal is True


def test_batch_empty_edges_and_dtypes(tmp_path: Path) -> None:
    empty = Data(edge_index=torch.zeros(2, 0, dtype=torch.long),
                 edge_weight=torch.zeros(0, dtype=torch.float64), num_nodes=3, layer=0)
    one = Data(edge_index=torch.tensor([[0], [1]]),
               edge_weight=torch.tensor([1.0], dtype=torch.float64), num_nodes=2, layer=0)
    batch = Batch.from_data_list([empty, one])
    path = save_graphs(tmp_path / "b.safetensors", [batch, empty])
    loaded_batch, loaded_empty = load_graphs(path)
    assert isinstance(loaded_batch, Batch) and loaded_batch.num_graphs == 2
    assert_same(batch, loaded_batch)
    assert torch.equal(loaded_batch.ptr, batch.ptr) and torch.equal(loaded_batch.batch, batch.batch)
    assert_same(empty, loaded_empty)
    assert loaded_empty.edge_index.shape == (2, 0) and loaded_empty.num_nodes == 3


def test_file_is_plain_safetensors_with_a_json_header(tmp_path: Path) -> None:
    path = save_graphs(tmp_path / "g.safetensors", [rich_graph()])
    tensors = load_file(path)  # any safetensors reader; no pickle anywhere
    assert tensors["graphs[0].edge_attr"].shape[1] == 3
    assert tensors["graphs[0].kept_mass"].dtype == torch.bfloat16
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        header = json.loads(handle.metadata()["tgnn.graphs"])
    assert header["format"] == "tgnn.graphs/1"
    assert header["graphs"][0]["data"]["layer"] == {"value": 2}
    assert path.read_bytes()[8:9] == b"{"  # 8-byte header size, then the JSON header


@pytest.mark.parametrize("value", [{"a": 1}, np.zeros(3), object(), [1, {"b": 2}]])
def test_unsafe_attributes_are_refused_and_nothing_is_written(tmp_path: Path, value) -> None:
    graph = Data(num_nodes=1)
    graph.extra = value
    out = tmp_path / "g.safetensors"
    with pytest.raises(SerializationError, match=r"graphs\[0\]\.extra: expected a tensor"):
        save_graphs(out, [graph])
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_refusals(tmp_path: Path) -> None:
    graph = Data(num_nodes=1)
    out = tmp_path / "g.safetensors"
    save_graphs(out, [graph])
    before = out.read_bytes()
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        save_graphs(out, [Data(num_nodes=2)])
    with pytest.raises(FileExistsError):  # OutputExistsError is a FileExistsError too
        save_graphs(out, [Data(num_nodes=2)])
    with pytest.raises(SerializationError, match="sparse|dense"):  # fails after the checks
        save_graphs(out, [Data(num_nodes=2, adj=torch.eye(2).to_sparse())], overwrite=True)
    assert out.read_bytes() == before  # a failed call leaves the file as it was
    save_graphs(out, [Data(num_nodes=2)], overwrite=True)
    assert load_graphs(out)[0].num_nodes == 2
    with pytest.raises(SerializationError, match=".safetensors"):
        save_graphs(tmp_path / "g.pt", [graph])
    with pytest.raises(SerializationError, match=r"pass \[graph\]"):
        save_graphs(tmp_path / "h.safetensors", graph)  # type: ignore[arg-type]
    with pytest.raises(ProtectedPathError, match="inside the installed tgnn package"):
        save_graphs(Path(tgnn.__file__).parent / "g.safetensors", [graph])


def test_load_refuses_other_files(tmp_path: Path) -> None:
    pickled = tmp_path / "graphs.pt"
    torch.save([Data(num_nodes=1)], pickled)
    with pytest.raises(SerializationError, match="weights_only=False"):
        load_graphs(pickled)
    plain = tmp_path / "w.safetensors"
    save_file({"w": torch.ones(1)}, str(plain))
    with pytest.raises(SerializationError, match="without the 'tgnn.graphs' metadata"):
        load_graphs(plain)
    save_file({}, str(plain), metadata={"tgnn.graphs": '{"format": "other"}'})
    with pytest.raises(SerializationError, match="got format 'other'"):
        load_graphs(plain)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_graphs(tmp_path / "missing.safetensors")


def test_empty_list_and_package_exports(tmp_path: Path) -> None:
    assert load_graphs(save_graphs(tmp_path / "e.safetensors", [])) == []
    assert tgnn.save_graphs is save_graphs and tgnn.load_graphs is load_graphs
