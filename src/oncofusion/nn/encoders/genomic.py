"""Genomic encoder: graph convolution over the gene-interaction graph (MM-Care §3.2.3).

Each gene is a node; its features are its value and a learned gene embedding,
:math:`H^{(0)}_g = [x_g;\\ e_g]`. Two GCN layers (Kipf & Welling, ICLR 2017, MM-Care eq. 7)

.. math:: H^{(k+1)} = \\sigma\\big(\\tilde D^{-1/2} \\tilde A \\tilde D^{-1/2} H^{(k)} W^{(k)}\\big),
          \\qquad \\tilde A = A + I,\\ \\tilde D_{gg} = \\textstyle\\sum_h \\tilde A_{gh},

then global mean pooling over genes gives :math:`F_{gen}`. ``backend="pyg"`` uses
:class:`torch_geometric.nn.GCNConv` (imported lazily); ``backend="torch"`` a sparse-torch
layer with the same parameter names (``lin.weight``, ``bias``), so weights load in either.
The graph is undirected: edges are symmetrised, duplicates and self-loops dropped.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from oncofusion.nn.layers import make_act, run_on_present
from oncofusion.nn.registries import ENCODERS
from oncofusion.registry import look_up_option

__all__ = ["GCNEncoder", "SparseGCNConv", "normalized_adjacency"]


def _import_pyg() -> Any:
    """``torch_geometric.nn`` or None when it does not import (lazy, quiet)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import torch_geometric.nn as pyg_nn
    except (ImportError, OSError, RuntimeError):  # pragma: no cover - depends on the environment
        return None
    return pyg_nn


def _edge_index(edges: Any, n_genes: int, genes: Sequence[str] | None) -> Tensor:
    """Undirected, deduplicated (2, E) edge index without self-loops."""
    if torch.is_tensor(edges) and edges.dim() == 2 and edges.shape[0] == 2:
        pairs = edges.t().tolist()
    else:
        pairs = [tuple(e) for e in (edges or [])]
    lookup = {g: k for k, g in enumerate(genes)} if genes is not None else {}
    out = set()
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"a gene-graph edge must have two ends, got {pair!r}.")
        ends = []
        for node in pair:
            if isinstance(node, str):
                if node not in lookup:
                    raise ValueError(f"gene-graph edge {pair!r} names gene {node!r}, which is not "
                                     "in `genes`; pass the genomics column names as `genes`.")
                ends.append(lookup[node])
            else:
                k = int(node)
                if not 0 <= k < n_genes:
                    raise ValueError(f"gene-graph edge {pair!r} has node {k} outside [0, {n_genes}).")
                ends.append(k)
        a, b = ends
        if a != b:
            out.update({(a, b), (b, a)})
    if not out:
        return torch.zeros(2, 0, dtype=torch.long)
    return torch.tensor(sorted(out), dtype=torch.long).t().contiguous()


def normalized_adjacency(edge_index: Tensor, n_nodes: int) -> Tensor:
    """Sparse :math:`\\tilde D^{-1/2}(A + I)\\tilde D^{-1/2}` (COO, ``n_nodes`` square)."""
    loops = torch.arange(n_nodes, device=edge_index.device)
    idx = torch.cat([edge_index, torch.stack([loops, loops])], dim=1)
    val = torch.ones(idx.shape[1], device=edge_index.device)
    deg = torch.zeros(n_nodes, device=edge_index.device).index_add_(0, idx[1], val)
    inv = deg.pow(-0.5)
    return torch.sparse_coo_tensor(idx, inv[idx[0]] * val * inv[idx[1]], (n_nodes, n_nodes),
                                   check_invariants=False).coalesce()


class SparseGCNConv(nn.Module):
    """GCN layer in sparse torch: :math:`\\hat A (X W) + b` for ``X`` (B, G, F).

    Parameter names and initialisation (Glorot weight, zero bias) match
    :class:`torch_geometric.nn.GCNConv`.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.xavier_uniform_(self.lin.weight)

    def forward(self, x: Tensor, adj: Tensor) -> Tensor:
        h = self.lin(x)
        b, g, f = h.shape
        flat = h.permute(1, 0, 2).reshape(g, b * f)
        # sparse products have no half-precision CUDA kernel: float32 also under autocast
        with torch.autocast(flat.device.type, enabled=False):
            out = torch.sparse.mm(adj.float(), flat.float())
        return out.reshape(g, b, f).permute(1, 0, 2) + self.bias


@ENCODERS.register("gcn")
class GCNEncoder(nn.Module):
    """GCN over the gene graph, mean-pooled over genes (MM-Care genomic branch).

    Parameters
    ----------
    n_genes
        Number of gene features ``G`` (columns of ``genomics``).
    edges
        Edges of the interaction graph: (2, E) index tensor, or pairs of indices, or pairs
        of gene names (then ``genes`` is needed). Empty: genes only see themselves.
    genes
        Gene names in column order (to resolve named edges).
    hidden
        Width of the first GCN layer.
    out_features
        Width of the last GCN layer (the embedding).
    num_layers
        GCN layers (MM-Care: 2).
    gene_embedding_dim
        Size of the learned per-gene embedding appended to the value (0: value only).
    act, dropout
        Activation between layers and dropout on node features.
    backend
        ``"auto"`` (torch_geometric if it imports, else torch), ``"pyg"`` or ``"torch"``.
    modality
        Batch key read by :meth:`forward_batch`.

    Notes
    -----
    ``forward(x, mask=None)`` with ``x`` (B, G) -> ``{"embedding": (B, D), "nodes":
    (B, G, D), "present": (B,)}``.
    """

    edge_index: Tensor

    def __init__(self, n_genes: int, edges: Any = (), genes: Sequence[str] | None = None,
                 hidden: int = 32, out_features: int = 32, num_layers: int = 2,
                 gene_embedding_dim: int = 4, act: str = "relu", dropout: float = 0.0,
                 backend: str = "auto", modality: str = "genomics") -> None:
        super().__init__()
        if n_genes < 1 or num_layers < 1:
            raise ValueError(f"n_genes and num_layers must be >= 1, got {n_genes} and {num_layers}.")
        if genes is not None and len(genes) != n_genes:
            raise ValueError(f"`genes` has {len(genes)} names but n_genes={n_genes}.")
        self.in_features, self.out_features, self.modality = int(n_genes), int(out_features), modality
        backend = look_up_option(backend, ["auto", "pyg", "torch"], what="GCN backend")
        if backend == "auto":
            backend = "pyg" if _import_pyg() is not None else "torch"
        self.backend = backend
        self.register_buffer("edge_index", _edge_index(edges, self.in_features, genes))
        self.gene_embedding = nn.Parameter(torch.randn(self.in_features, gene_embedding_dim) * 0.1) \
            if gene_embedding_dim > 0 else None
        widths = [1 + gene_embedding_dim] + [int(hidden)] * (num_layers - 1) + [self.out_features]
        self.convs = nn.ModuleList(self._conv(a, b) for a, b in itertools.pairwise(widths))
        self.act = make_act(act)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def _conv(self, a: int, b: int) -> nn.Module:
        if self.backend == "pyg":
            pyg = _import_pyg()
            if pyg is None:
                raise ImportError("backend='pyg' needs torch-geometric: pip install 'oncofusion[graph]', "
                                  "or use backend='torch'.")
            return pyg.GCNConv(a, b, add_self_loops=True, normalize=True)
        return SparseGCNConv(a, b)

    def _encode(self, x: Tensor) -> dict[str, Tensor]:
        h = x[..., None]
        if self.gene_embedding is not None:
            h = torch.cat([h, self.gene_embedding.to(x.dtype).expand(x.shape[0], -1, -1)], dim=-1)
        graph = self.edge_index if self.backend == "pyg" else normalized_adjacency(self.edge_index, x.shape[1])
        for k, conv in enumerate(self.convs):
            h = conv(self.dropout(h), graph)
            if k < len(self.convs) - 1:
                h = self.act(h)
        return {"embedding": h.mean(1), "nodes": h}

    def forward(self, x: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        """Encode gene vectors ``x`` (B, G); rows with ``mask`` False are skipped (zeros)."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"genomics input must be (B, {self.in_features}), got {tuple(x.shape)}.")
        out = run_on_present(self._encode, mask, x, placeholder=lambda b: {
            "embedding": x.new_zeros(b, self.out_features),
            "nodes": x.new_zeros(b, self.in_features, self.out_features)})
        out["present"] = torch.ones(x.shape[0], dtype=torch.bool, device=x.device) if mask is None else mask.bool()
        return out

    def forward_batch(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        """Encode the ``genomics`` entry of a collated batch (docs/internals.md)."""
        return self(batch[self.modality], batch["modality_mask"][self.modality])
