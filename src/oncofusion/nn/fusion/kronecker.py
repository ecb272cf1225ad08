"""Tensor (Kronecker) fusion (Zadeh et al., "Tensor Fusion Network", EMNLP 2017).

.. math:: z = W \\,\\mathrm{vec}\\Big(\\bigotimes_{m=1}^{n} \\begin{bmatrix} 1 \\\\ h_m \\end{bmatrix}\\Big) + b,
          \\qquad h_m = P_m e_m \\in \\mathbb{R}^{f}

The appended 1 keeps every unimodal and lower-order interaction term in the product. The
low-rank variant (Liu et al., "Efficient Low-rank Multimodal Fusion", ACL 2018) factorises
:math:`W` into ``rank`` modality-specific factors:

.. math:: z = \\sum_{r=1}^{R} \\bigodot_{m=1}^{n} \\Big(W_m^{(r)} \\begin{bmatrix} 1 \\\\ h_m \\end{bmatrix}\\Big) + b.

A missing modality enters as the factor :math:`[1; 0]`: this removes exactly the
interaction terms that involve it and keeps all the others (the product restricted to the
present modalities); nothing is imputed for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from oncofusion.nn.fusion.base import FusionBase
from oncofusion.nn.layers import fill_masked
from oncofusion.nn.registries import FUSIONS

__all__ = ["KroneckerFusion"]


@FUSIONS.register("kronecker")
class KroneckerFusion(FusionBase):
    """Tensor fusion with 1-appended factors; optional low-rank factorisation.

    Parameters
    ----------
    dims
        ``{modality: embedding size}``.
    out_features
        Fused embedding size.
    factor_dim
        Size ``f`` of each modality's projection :math:`h_m` (the full tensor has
        :math:`(f+1)^n` entries).
    rank
        None for the full tensor, else the rank ``R`` of the low-rank factorisation.
    dropout
        Dropout on the (full) fused tensor.

    Notes
    -----
    ``forward(features, mask)`` -> ``{"embedding": (B, out_features), "attention": {}}``.
    """

    def __init__(self, dims: Mapping[str, int], out_features: int = 64, factor_dim: int = 8,
                 rank: int | None = None, dropout: float = 0.0) -> None:
        super().__init__(dims)
        if rank is not None and rank < 1:
            raise ValueError(f"rank must be >= 1 or None (full tensor), got {rank}.")
        self.out_features, self.factor_dim, self.rank = int(out_features), int(factor_dim), rank
        self.proj = nn.ModuleDict({m: nn.Linear(d, self.factor_dim) for m, d in self.dims.items()})
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        f1 = self.factor_dim + 1
        if rank is None:
            self.out = nn.Linear(f1 ** len(self.dims), self.out_features)
        else:
            self.factors = nn.ParameterDict({
                m: nn.Parameter(torch.randn(rank, f1, self.out_features) / f1 ** 0.5) for m in self.dims})
            self.bias = nn.Parameter(torch.zeros(self.out_features))

    def forward(self, features: Mapping[str, Any], mask: Mapping[str, Tensor]) -> dict[str, Any]:
        inp = self.prepare(features, mask)
        factors = []
        for m in self.modalities:
            h = fill_masked(self.proj[m](inp[m].embedding), inp[m].present)
            factors.append(torch.cat([torch.ones_like(h[:, :1]), h], dim=-1))
        if self.rank is None:
            z = factors[0]
            for h in factors[1:]:
                z = (z[:, :, None] * h[:, None, :]).flatten(1)
            return {"embedding": self.out(self.dropout(z)), "attention": {}}
        prod = None
        for m, h in zip(self.modalities, factors):
            term = torch.einsum("bf,rfo->bro", h, self.factors[m])
            prod = term if prod is None else prod * term
        assert prod is not None
        return {"embedding": prod.sum(1) + self.bias, "attention": {}}
