"""DMA-Net cross-modal attention fusion with soft-DTW alignment and temporal gating.

DMA-Net §2.3 ("Dynamic modality alignment and cross-modal fusion"). For every time slice
:math:`k = 1..K` the imaging slice is the query and the modalities are keys/values,

.. math::
    Q_k = W_Q f_{I,k}, \\quad
    K_k = [\\,n;\\ W_K f_{I,k};\\ W_K f_{M,k};\\ W_K f_C\\,], \\quad
    V_k = [\\,n;\\ W_V f_{I,k};\\ W_V f_{M,k};\\ W_V f_C\\,],

.. math:: z_k = \\mathrm{LN}\\big(f_{I,k} + \\mathrm{Attn}(Q_k, K_k, V_k)\\big),

where :math:`f_{M,k}` is the molecular (visit) sequence aligned on the imaging slices by
soft-DTW, :math:`\\tilde f_{M,k} = \\sum_t \\bar e_{k,t} f_{M,t}` with the row-normalised
expected alignment :math:`\\bar E` (:mod:`oncofusion.nn.align.softdtw`), a static modality
(clinical) is one token shared by all slices, and :math:`n` is a learned always-valid
"null" token. A missing modality is removed from the keys with the key-padding mask
(weight exactly 0), never zero-filled. When imaging is missing, learned slice queries
:math:`q_k` replace :math:`f_{I,k}`.

Temporal gating then weights the modalities per slice,

.. math:: g_k = \\sigma(W_g z_k + b_g) \\in (0,1)^{n_{mod}}, \\qquad
          \\tilde z_k = \\mathrm{LN}\\Big(z_k + \\sum_{m \\text{ present}} g_{k,m} W_V f_{m,k}\\Big),

and the patient embedding is :math:`\\bar z = \\frac1K \\sum_k \\tilde z_k`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from oncofusion.nn.fusion.base import FusionBase
from oncofusion.nn.layers import MultiHeadAttention, fill_masked
from oncofusion.nn.registries import ALIGNERS, FUSIONS

__all__ = ["CrossModalAttentionFusion"]


@FUSIONS.register("cross_attention")
class CrossModalAttentionFusion(FusionBase):
    """Per-slice cross-modal attention (query: imaging) + temporal gating (DMA-Net).

    Parameters
    ----------
    dims
        ``{modality: embedding size}``, e.g. ``{"imaging": 64, "biomarkers": 64, "clinical": 32}``.
    n_slices
        Number of time slices ``K`` (the imaging encoder's ``temporal_tokens``; an
        imaging input without tokens is repeated over the K slices).
    query
        The query modality (``"imaging"``); None or absent from ``dims``: learned queries.
    d_model
        Shared width of queries, keys and values (the output size).
    heads
        Attention heads.
    dropout
        Dropout on attention weights.
    align
        ``"softdtw"`` to align token sequences (biomarker visits) on the slices; None to
        use their pooled embedding for every slice (ablation).
    align_kwargs
        Arguments of the aligner (``gamma``, ``bandwidth``, ``normalize``).
    include_query_in_keys
        Include the imaging slice in keys/values (DMA-Net's
        :math:`K = [W_K f_I; W_K f_M; W_K f_C]`).
    gating
        Apply temporal gating.

    Notes
    -----
    ``forward(features, mask)`` returns ``embedding`` (B, d_model), ``tokens`` (B, K,
    d_model) (per-slice :math:`\\tilde z_k`, for a per-slice discrete-time head),
    ``token_mask`` (B, K), ``alignment_cost`` (B,) (sum of soft-DTW values of the present
    aligned pairs: an optional auxiliary loss) and ``attention``: ``cross`` (B, K, 1+n)
    (head-averaged weights over ``["null", *key_modalities]``), ``gate`` (B, K, n) (0 for
    missing modalities) and ``alignment_<m>`` (B, K, L) per aligned modality.
    """

    def __init__(self, dims: Mapping[str, int], n_slices: int, query: str | None = "imaging",
                 d_model: int = 64, heads: int = 4, dropout: float = 0.0, align: str | None = "softdtw",
                 align_kwargs: Mapping[str, Any] | None = None, include_query_in_keys: bool = True,
                 gating: bool = True) -> None:
        super().__init__(dims)
        if n_slices < 1:
            raise ValueError(f"n_slices must be >= 1, got {n_slices}.")
        self.n_slices, self.d_model, self.out_features = int(n_slices), int(d_model), int(d_model)
        self.query = query if query in self.dims else None
        others = tuple(m for m in self.modalities if m != self.query)
        self.key_modalities = ((self.query,) if self.query and include_query_in_keys else ()) + others
        if not self.key_modalities:
            raise ValueError("cross_attention needs at least one key modality besides the query.")
        self.proj = nn.ModuleDict({m: nn.Sequential(nn.Linear(d, self.d_model), nn.LayerNorm(self.d_model))
                                   for m, d in self.dims.items()})
        self.learned_query = nn.Parameter(torch.randn(self.n_slices, self.d_model) * 0.02)
        self.null = nn.Parameter(torch.randn(self.d_model) * 0.02)
        self.attn = MultiHeadAttention(self.d_model, heads, dropout)
        self.norm = nn.LayerNorm(self.d_model)
        self.gating = bool(gating)
        if self.gating:
            self.gate = nn.Linear(self.d_model, len(self.key_modalities))
            self.gate_norm = nn.LayerNorm(self.d_model)
        self.aligner = ALIGNERS.build(align, **dict(align_kwargs or {})) if align is not None else None

    def _queries(self, inp: Mapping[str, Any], batch: int, like: Tensor) -> tuple[Tensor, Tensor | None, Tensor]:
        lq = self.learned_query.to(like.dtype).expand(batch, -1, -1)
        if self.query is None:
            return lq, None, torch.zeros(batch, dtype=torch.bool, device=like.device)
        q = inp[self.query]
        if q.tokens is not None:
            if q.tokens.shape[1] != self.n_slices:
                raise ValueError(f"'{self.query}' has {q.tokens.shape[1]} tokens but the fusion was built "
                                 f"with n_slices={self.n_slices}; set the encoder's temporal_tokens to it.")
            own = self.proj[self.query](q.tokens)
        else:
            own = self.proj[self.query](q.embedding)[:, None].expand(-1, self.n_slices, -1)
        present = q.present
        own = fill_masked(own, present)
        return torch.where(present[:, None, None], own, lq), own, present

    def forward(self, features: Mapping[str, Any], mask: Mapping[str, Tensor]) -> dict[str, Any]:
        inp = self.prepare(features, mask)
        first = inp[self.modalities[0]].embedding
        b, k, d = first.shape[0], self.n_slices, self.d_model
        queries, own, q_present = self._queries(inp, b, first)
        attention: dict[str, Tensor] = {}
        cost = first.new_zeros(b)
        values, valid = [], []
        for m in self.key_modalities:
            item = inp[m]
            if m == self.query:
                assert own is not None
                values.append(own)
                valid.append(q_present)
                continue
            present = item.present
            if item.tokens is not None and item.token_mask is not None and self.aligner is not None:
                present = present & item.token_mask.any(1)
                tok = fill_masked(self.proj[m](item.tokens), item.token_mask)
                lengths = item.token_mask.sum(1).clamp(min=1)
                scale = math.sqrt(d)
                out = self.aligner(queries / scale, tok / scale, None, lengths)
                v = out["aligned"] * scale
                both = present & q_present
                cost = cost + torch.where(both, out["cost"], torch.zeros_like(out["cost"]))
                attention[f"alignment_{m}"] = fill_masked(out["alignment"], present)
            else:
                v = self.proj[m](item.embedding)[:, None].expand(-1, k, -1)
            values.append(fill_masked(v, present))
            valid.append(present)
        vals = torch.stack(values, dim=2)  # (B, K, n, D)
        ok = torch.stack(valid, dim=1)  # (B, n)
        keys = torch.cat([self.null.to(vals.dtype).expand(b, k, 1, d), vals], dim=2)
        key_ok = torch.cat([torch.ones_like(ok[:, :1]), ok], dim=1)
        n_keys = keys.shape[2]
        att, w = self.attn(queries.reshape(b * k, 1, d), keys.reshape(b * k, n_keys, d),
                           key_ok[:, None].expand(b, k, n_keys).reshape(b * k, n_keys))
        z = self.norm(queries + att.view(b, k, d))
        attention["cross"] = w.mean(1).view(b, k, n_keys)
        if self.gating:
            g = fill_masked(torch.sigmoid(self.gate(z)), ok[:, None, :].expand(b, k, -1))
            z = self.gate_norm(z + (g[..., None] * vals).sum(2))
            attention["gate"] = g
        return {"embedding": z.mean(1), "tokens": z,
                "token_mask": torch.ones(b, k, dtype=torch.bool, device=z.device),
                "alignment_cost": cost, "attention": attention}
