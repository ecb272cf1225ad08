"""Late fusion: average of unimodal predictions over the present modalities (MM-Care "LPF").

.. math:: z = \\frac{1}{|P|} \\sum_{m \\in P} g_m(e_m), \\qquad P = \\{m : \\text{present}\\}

Each :math:`g_m` is a per-modality network into the head's input space. With an affine
head :math:`f(z) = Wz + b` (``discrete_time``, ``cox``, ``per_arm`` without hidden layers)
:math:`f(z) = \\frac{1}{|P|}\\sum_{m \\in P} f(g_m(e_m))`: exactly the average of the
unimodal predictions (on the logit / log-hazard scale), each made from one modality only.
``per_modality`` holds every :math:`g_m(e_m)` so a model can also average probabilities.
A row without any present modality gets :math:`z = 0` (the head's bias: the prior).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from oncofusion.nn.fusion.base import FusionBase
from oncofusion.nn.layers import fill_masked, make_mlp, masked_mean
from oncofusion.nn.registries import FUSIONS

__all__ = ["LateFusion"]


@FUSIONS.register("late")
class LateFusion(FusionBase):
    """Average of per-modality outputs over present modalities.

    Parameters
    ----------
    dims
        ``{modality: embedding size}``.
    out_features
        Size of each unimodal output and of the fused one.
    hidden
        Hidden widths of each per-modality network (``()``: linear).
    act, dropout
        Activation and dropout of the hidden layers.

    Notes
    -----
    ``forward(features, mask)`` -> ``{"embedding": (B, D), "per_modality": (B, n, D)``
    (0 for missing), ``"attention": {"modality_weights": (B, n)}}`` (``1/|P|`` or 0).
    """

    def __init__(self, dims: Mapping[str, int], out_features: int = 64, hidden: Sequence[int] = (),
                 act: str = "relu", dropout: float = 0.0) -> None:
        super().__init__(dims)
        self.out_features = int(out_features)
        self.nets = nn.ModuleDict({m: make_mlp(d, hidden, self.out_features, act=act, dropout=dropout)
                                   for m, d in self.dims.items()})

    def forward(self, features: Mapping[str, Any], mask: Mapping[str, Tensor]) -> dict[str, Any]:
        inp = self.prepare(features, mask)
        present = self.stack_present(inp, self.modalities)
        preds = torch.stack([self.nets[m](inp[m].embedding) for m in self.modalities], dim=1)
        preds = fill_masked(preds, present)
        weights = present.to(preds.dtype) / present.sum(1, keepdim=True).clamp_min(1).to(preds.dtype)
        return {"embedding": masked_mean(preds, present, dim=1), "per_modality": preds,
                "attention": {"modality_weights": weights}}
