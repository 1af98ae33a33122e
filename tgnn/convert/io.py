"""Save and load lists of graphs without pickle: safetensors plus a JSON header.

The tensors of every graph go into one safetensors file; the structure (which graph is a
``Data`` and which a ``Batch`` of which members) and the scalar attributes (``layer``,
``head``, ``is_causal``, ``head_reduction``, ``window``, ``rho``, ``num_nodes``, ...) go into
its string-to-string ``metadata`` as JSON. Loading reads tensors and JSON only, so a file from
an untrusted source cannot run code (unlike ``torch.load(..., weights_only=False)``), and any
safetensors reader (``safetensors.torch.load_file``) opens it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch_geometric.data import Batch, Data

from tgnn._output import atomic_output
from tgnn.errors import SerializationError

__all__ = ["save_graphs", "load_graphs", "GRAPHS_FORMAT"]

GRAPHS_FORMAT = "tgnn.graphs/1"
"""The ``format`` entry of the JSON header (metadata key ``"tgnn.graphs"``) that
:func:`save_graphs` writes and :func:`load_graphs` expects."""

_KEY = "tgnn.graphs"
_SCALARS = (bool, int, float, str, type(None))


def _plain(value: Any, where: str) -> Any:
    """``value`` as JSON (scalars, and lists / tuples of them, nested); refuse anything else."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item, where) for item in value]
    raise SerializationError(
        f"{where}: expected a tensor, int, float, bool, str, None or a list/tuple of those, "
        f"got {type(value).__name__} (not stored: it would need pickle; convert it or delete "
        "the attribute first)")


def _encode_data(data: Data, name: str, tensors: dict[str, torch.Tensor],
                 storages: set[tuple[str, int]]) -> dict[str, Any]:
    if type(data) is not Data:
        raise SerializationError(f"{name}: expected a torch_geometric Data or Batch, got "
                                 f"{type(data).__name__}")
    attrs: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{name}.{key}"
        if isinstance(value, torch.Tensor):
            if value.layout != torch.strided or value.is_nested or value.is_quantized:
                raise SerializationError(f"{where}: expected a dense tensor, got layout "
                                         f"{value.layout} (convert it with .to_dense())")
            tensor = value.detach().cpu().contiguous()
            storage = (str(tensor.device), tensor.untyped_storage().data_ptr())
            if tensor.numel() and storage in storages:  # safetensors refuses shared memory
                tensor = tensor.clone()
            storages.add((str(tensor.device), tensor.untyped_storage().data_ptr()))
            tensors[where] = tensor
            attrs[key] = {"tensor": where}
        else:
            kind = "tuple" if isinstance(value, tuple) else "value"
            attrs[key] = {kind: _plain(value, where)}
    return attrs


def _decode_data(attrs: dict[str, Any], tensors: dict[str, torch.Tensor], where: str) -> Data:
    data = Data()
    for key, entry in attrs.items():
        if "tensor" in entry:
            if entry["tensor"] not in tensors:
                raise SerializationError(f"{where}: the header names tensor "
                                         f"{entry['tensor']!r}, which the file does not hold")
            setattr(data, key, tensors[entry["tensor"]])
        elif "tuple" in entry:
            setattr(data, key, tuple(entry["tuple"]))
        else:
            setattr(data, key, entry["value"])
    return data


def save_graphs(path: str | Path, graphs: Sequence[Data], *, overwrite: bool = False) -> Path:
    """Write a list of PyG graphs (``Data`` or ``Batch``) to ``path`` without pickle.

    Every tensor attribute (``edge_index``, ``edge_weight``, per-head ``edge_attr``, node
    attributes such as ``pos``, ``token``, ``x``, ``kept_mass``, ``row_entropy``, ...) is kept
    with its dtype and shape (moved to the CPU); scalar attributes (``int``, ``float``,
    ``bool``, ``str``, ``None``, and lists or tuples of them) are kept in the JSON header. A
    ``Batch`` is stored as its list of members and rebuilt with ``Batch.from_data_list``.
    The file is written to a temporary file first, so a failed call leaves ``path`` as it was.

    Parameters
    ----------
    path
        Output file; its name must end in ``.safetensors``.
    graphs
        The graphs, e.g. the result of :func:`tgnn.capture_graphs`.
    overwrite
        Replace ``path`` if it exists (default: refuse).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    SerializationError
        An attribute that cannot be stored without pickle (e.g. a dict, a numpy array, a sparse
        tensor), a graph that is not a ``Data`` or ``Batch``, or a wrong suffix.
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    ProtectedPathError
        ``path`` is inside the installed tgnn package.

    Examples
    --------
    >>> import tempfile, torch
    >>> from torch_geometric.data import Data
    >>> g = Data(edge_index=torch.tensor([[0], [1]]), edge_weight=torch.tensor([0.5]),
    ...          num_nodes=2, layer=0, is_causal=True)
    >>> path = save_graphs(tempfile.mkdtemp() + "/graphs.safetensors", [g])
    >>> (back,) = load_graphs(path)
    >>> back.layer, back.is_causal, back.edge_weight.dtype, back.num_nodes
    (0, True, torch.float32, 2)
    """
    out = Path(path)
    if out.suffix != ".safetensors":
        raise SerializationError(f"path: expected a file name ending in .safetensors, got "
                                 f"{str(out)!r}")
    if isinstance(graphs, Data):
        raise SerializationError("graphs: expected a list of Data or Batch, got one "
                                 f"{type(graphs).__name__} (pass [graph])")
    tensors: dict[str, torch.Tensor] = {}
    storages: set[tuple[str, int]] = set()
    entries: list[dict[str, Any]] = []
    for i, graph in enumerate(graphs):
        if isinstance(graph, Batch):
            try:
                members = graph.to_data_list()
            except RuntimeError as error:
                raise SerializationError(f"graphs[{i}]: a Batch that cannot be split into its "
                                         f"graphs ({error})") from None
            entries.append({"batch": [_encode_data(member, f"graphs[{i}][{j}]", tensors,
                                                   storages)
                                      for j, member in enumerate(members)]})
        else:
            entries.append({"data": _encode_data(graph, f"graphs[{i}]", tensors, storages)})
    header = json.dumps({"format": GRAPHS_FORMAT, "graphs": entries}, separators=(",", ":"))
    with atomic_output(out, overwrite=overwrite) as temporary:
        save_file(tensors, str(temporary), metadata={_KEY: header})
    return out


def _entries(path: Path, header: str | None) -> list[dict[str, Any]]:
    expected = f"path: expected a file written by tgnn.save_graphs ({GRAPHS_FORMAT})"
    if header is None:
        raise SerializationError(f"{expected}, got a safetensors file without the "
                                 f"{_KEY!r} metadata: {str(path)!r}")
    try:
        content = json.loads(header)
    except ValueError as error:
        raise SerializationError(f"{expected}, got a damaged header ({error})") from None
    if not isinstance(content, dict) or content.get("format") != GRAPHS_FORMAT:
        found = content.get("format") if isinstance(content, dict) else type(content).__name__
        raise SerializationError(f"{expected}, got format {found!r}")
    if not isinstance(content.get("graphs"), list):
        raise SerializationError(f"{expected}, got a header without its list of graphs")
    return list(content["graphs"])


def load_graphs(path: str | Path, *, device: str | torch.device = "cpu") -> list[Data]:
    """Read the graphs that :func:`save_graphs` wrote (no pickle: tensors and JSON only).

    Returns a list of ``Data`` and ``Batch`` in the saved order, with the saved attributes,
    dtypes and shapes; tensors on ``device``.

    Raises
    ------
    SerializationError
        ``path`` is not a safetensors file written by :func:`save_graphs` (for example a
        ``graphs.pt`` from ``torch.save``: load that only if you trust it, with
        ``torch.load(path, weights_only=False)``).
    FileNotFoundError
        ``path`` does not exist.

    Examples
    --------
    >>> import tempfile, torch
    >>> from torch_geometric.data import Batch, Data
    >>> a = Data(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=1, head_reduction="none")
    >>> b = Data(edge_index=torch.tensor([[0], [1]]), num_nodes=2, head_reduction="none")
    >>> path = save_graphs(tempfile.mkdtemp() + "/g.safetensors", [Batch.from_data_list([a, b])])
    >>> (batch,) = load_graphs(path)
    >>> batch.num_graphs, batch.head_reduction, batch.to_data_list()[0].edge_index.shape
    (2, ['none', 'none'], torch.Size([2, 0]))
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"path: expected a graphs file, got {str(source)!r} (no such file)")
    try:
        with safe_open(str(source), framework="pt", device=str(device)) as handle:
            header = (handle.metadata() or {}).get(_KEY)
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except SafetensorError as error:
        raise SerializationError(
            f"path: expected a safetensors file written by tgnn.save_graphs, got {str(source)!r} "
            f"({error}); a file from torch.save loads only with torch.load(path, "
            "weights_only=False), and only if you trust it") from None
    graphs: list[Data] = []
    for i, entry in enumerate(_entries(source, header)):
        try:
            if "batch" in entry:
                members = [_decode_data(m, tensors, f"graphs[{i}][{j}]")
                           for j, m in enumerate(entry["batch"])]
                graphs.append(Batch.from_data_list(members))
            else:
                graphs.append(_decode_data(entry["data"], tensors, f"graphs[{i}]"))
        except (KeyError, TypeError, AttributeError) as error:
            raise SerializationError(f"path: graphs[{i}] of {str(source)!r} has a damaged "
                                     f"header entry ({error!r})") from None
    return graphs
