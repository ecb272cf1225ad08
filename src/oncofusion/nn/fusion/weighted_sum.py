"""Static weighted-sum fusion (MM-Care §4.6, "WFSF").

.. math:: z = \\sum_{m \\in P} a_m W_m e_m, \\qquad
          a_m = \\frac{\\exp(w_m)}{\\sum_{l \\in P} \\exp(w_l)}

The logits :math:`w_m` are learned but the same for every patient (static, in contrast
to attention); they are renormalised over the present modalities :math:`P`, so a missing
modality's weight goes to the others. :math:`W_m` projects every modality to a common size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from oncofusion.nn.fusion.base import FusionBase
from oncofusion.nn.layers import fill_masked, masked_softmax
from oncofusion.nn.registries import FUSIONS

__all__ = ["WeightedSumFusion"]


@FUSIONS.register("weighted_sum")
class WeightedSumFusion(FusionBase):
    """Learned static softmax weights over modalities, renormalised over present ones.

    Parameters
    ----------
    dims
        ``{modality: embedding size}``.
    out_features
        Common projection size (the fused embedding size).

    Notes
    -----
    ``forward(features, mask)`` -> ``{"embedding": (B, D), "attention":
    {"modality_weights": (B, n)}}`` (0 for missing modalities; rows sum to 1 when any
    modality is present).
    """

    def __init__(self, dims: Mapping[str, int], out_features: int = 64) -> None:
        super().__init__(dims)
        self.out_features = int(out_features)
        self.proj = nn.ModuleDict({m: nn.Linear(d, self.out_features) for m, d in self.dims.items()})
        self.logits = nn.Parameter(torch.zeros(len(self.dims)))

    def forward(self, features: Mapping[str, Any], mask: Mapping[str, Tensor]) -> dict[str, Any]:
        inp = self.prepare(features, mask)
        present = self.stack_present(inp, self.modalities)
        proj = fill_masked(torch.stack([self.proj[m](inp[m].embedding) for m in self.modalities], 1), present)
        weights = masked_softmax(self.logits.expand(present.shape[0], -1), present)
        return {"embedding": (weights[..., None] * proj).sum(1), "attention": {"modality_weights": weights}}
