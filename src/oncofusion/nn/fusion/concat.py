"""Early (intermediate) fusion by concatenation (MM-Care §4.6, "ECF").

.. math:: z = \\mathrm{MLP}\\big([\\hat e_1; \\dots; \\hat e_n]\\big), \\qquad
          \\hat e_m = \\begin{cases} e_m & \\text{modality } m \\text{ present} \\\\
                                     u_m & \\text{missing} \\end{cases}

A missing modality is replaced by a *learned* "missing" embedding :math:`u_m` (one per
modality), never by zeros that would look like a real encoder output; the MLP learns what
"missing" means. This is DMA-Net's ablation (iv) and MM-Care's "w/o adaptive fusion".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from oncofusion.nn.fusion.base import FusionBase
from oncofusion.nn.layers import fill_masked, make_mlp
from oncofusion.nn.registries import FUSIONS

__all__ = ["ConcatFusion"]


@FUSIONS.register("concat")
class ConcatFusion(FusionBase):
    """Concatenate modality embeddings (learned embedding for missing ones), then an MLP.

    Parameters
    ----------
    dims
        ``{modality: embedding size}``.
    out_features
        Size of the fused embedding.
    hidden
        Hidden widths of the MLP (``()``: a single linear layer).
    act, norm, dropout
        Activation, normalisation and dropout of the hidden layers.

    Notes
    -----
    ``forward(features, mask)`` -> ``{"embedding": (B, out_features), "attention": {}}``.
    """

    def __init__(self, dims: Mapping[str, int], out_features: int = 64, hidden: Sequence[int] = (),
                 act: str = "relu", norm: str | None = None, dropout: float = 0.0) -> None:
        super().__init__(dims)
        self.out_features = int(out_features)
        self.missing = nn.ParameterDict({m: nn.Parameter(torch.randn(d) * 0.02) for m, d in self.dims.items()})
        self.mlp = make_mlp(sum(self.dims.values()), hidden, self.out_features, act=act, norm=norm,
                            dropout=dropout)

    def forward(self, features: Mapping[str, Any], mask: Mapping[str, Tensor]) -> dict[str, Any]:
        inp = self.prepare(features, mask)
        parts = [fill_masked(inp[m].embedding, inp[m].present, self.missing[m]) for m in self.modalities]
        return {"embedding": self.mlp(torch.cat(parts, dim=-1)), "attention": {}}
