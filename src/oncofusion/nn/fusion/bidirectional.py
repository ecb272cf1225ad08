"""MM-Care adaptive fusion: iterated bidirectional multi-head cross-attention.

MM-Care §3.3 (eq. 9-15): every modality queries the others and is updated with a
residual connection and layer normalisation,

.. math::
    F_m \\leftarrow \\mathrm{LN}\\big(F_m + \\mathrm{MHCA}(F_m, [\\,n; F_{o \\ne m}\\,])\\big),
    \\qquad F_m \\leftarrow \\mathrm{LN}\\big(F_m + \\mathrm{FFN}(F_m)\\big),

for ``steps`` rounds (MM-Care: 4 heads, 2 steps; all modalities update synchronously),
then an aggregation layer gives :math:`R = \\mathrm{AdaptiveFusion}(F_{img}, F_{clin},
F_{gen})`. :math:`n` is a learned always-valid "null" key; missing modalities are removed
from the keys by the key-padding mask and from the aggregation (a learned "missing"
embedding in ``"concat"``, left out of the mean in ``"mean"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import torch
from torch import Tensor, nn

from oncofusion.nn.fusion.base import FusionBase
from oncofusion.nn.layers import MultiHeadAttention, fill_masked, masked_mean
from oncofusion.nn.registries import FUSIONS
from oncofusion.registry import look_up_option

__all__ = ["BidirectionalCrossAttentionFusion", "CrossAttentionBlock"]


class CrossAttentionBlock(nn.Module):
    """Transformer cross-attention block: attention + residual + LN, FFN + residual + LN."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, ffn_mult: int = 2) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(dim, heads, dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_mult * dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(ffn_mult * dim, dim))
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: Tensor, keys: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` (B, D) attends to ``keys`` (B, n, D) where ``valid`` (B, n)."""
        att, w = self.attn(x[:, None], keys, valid)
        h = self.norm1(x + att[:, 0])
        return self.norm2(h + self.ffn(h)), w.mean(1)[:, 0]


@FUSIONS.register("bidirectional_cross_attention")
class BidirectionalCrossAttentionFusion(FusionBase):
    """Iterated bidirectional cross-attention between modality tokens (MM-Care).

    Parameters
    ----------
    dims
        ``{modality: embedding size}``.
    d_model
        Token width.
    heads
        Attention heads (MM-Care: 4).
    steps
        Rounds of cross-attention (MM-Care: 2).
    dropout
        Dropout in attention and FFN.
    ffn_mult
        FFN hidden width as a multiple of ``d_model``.
    aggregation
        ``"concat"`` (concatenate the fused tokens, learned embedding for missing ones,
        then a linear layer) or ``"mean"`` (mean over present modalities, then linear).
    out_features
        Size of :math:`R` (default ``d_model``).

    Notes
    -----
    ``forward(features, mask)`` -> ``{"embedding": (B, out_features), "tokens": (B, n,
    d_model)`` (fused modality tokens), ``"token_mask": (B, n)``, ``"attention":
    {"<m>_step<s>": (B, n)}}`` (weights of modality ``m``'s query over
    ``["null", *other modalities]`` at step ``s``).
    """

    def __init__(self, dims: Mapping[str, int], d_model: int = 64, heads: int = 4, steps: int = 2,
                 dropout: float = 0.0, ffn_mult: int = 2, aggregation: str = "concat",
                 out_features: int | None = None) -> None:
        super().__init__(dims)
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}.")
        self.aggregation = look_up_option(aggregation, ["concat", "mean"], what="aggregation")
        self.d_model, self.steps = int(d_model), int(steps)
        self.out_features = int(out_features) if out_features is not None else self.d_model
        self.proj = nn.ModuleDict({m: nn.Sequential(nn.Linear(d, self.d_model), nn.LayerNorm(self.d_model))
                                   for m, d in self.dims.items()})
        self.null = nn.Parameter(torch.randn(self.d_model) * 0.02)
        self.blocks = nn.ModuleList(
            nn.ModuleDict({m: CrossAttentionBlock(self.d_model, heads, dropout, ffn_mult) for m in self.dims})
            for _ in range(self.steps))
        n = len(self.dims)
        if self.aggregation == "concat":
            self.missing = nn.ParameterDict({m: nn.Parameter(torch.randn(self.d_model) * 0.02) for m in self.dims})
            self.out = nn.Linear(n * self.d_model, self.out_features)
        else:
            self.out = nn.Linear(self.d_model, self.out_features)

    def forward(self, features: Mapping[str, Any], mask: Mapping[str, Tensor]) -> dict[str, Any]:
        inp = self.prepare(features, mask)
        present = self.stack_present(inp, self.modalities)
        tokens = {m: fill_masked(self.proj[m](inp[m].embedding), inp[m].present) for m in self.modalities}
        b = present.shape[0]
        attention: dict[str, Tensor] = {}
        for s, step in enumerate(self.blocks):
            blocks = cast(nn.ModuleDict, step)
            new = {}
            for i, m in enumerate(self.modalities):
                others = [o for o in self.modalities if o != m]
                keys = torch.stack([self.null.to(tokens[m].dtype).expand(b, -1)] + [tokens[o] for o in others], 1)
                valid = torch.cat([torch.ones_like(present[:, :1]),
                                   present[:, [j for j in range(len(self.modalities)) if j != i]]], dim=1)
                h, w = blocks[m](tokens[m], keys, valid)
                new[m] = fill_masked(h, inp[m].present)
                attention[f"{m}_step{s}"] = w
            tokens = new
        stacked = torch.stack([tokens[m] for m in self.modalities], 1)
        if self.aggregation == "concat":
            parts = [fill_masked(tokens[m], inp[m].present, self.missing[m]) for m in self.modalities]
            emb = self.out(torch.cat(parts, dim=-1))
        else:
            emb = self.out(masked_mean(stacked, present, dim=1))
        return {"embedding": emb, "tokens": stacked, "token_mask": present, "attention": attention}
