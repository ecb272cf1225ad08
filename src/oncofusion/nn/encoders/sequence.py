"""Longitudinal biomarker encoder: BiLSTM with temporal attention (DMA-Net §2.3).

Per visit :math:`t` the input is
:math:`u_t = [\\tilde x_t;\\ o_t;\\ \\Delta x_t;\\ \\tau_t;\\ \\Delta\\tau_t]`: the marker
values with missing entries set to 0 (:math:`\\tilde x_t`), the observed mask
:math:`o_t`, the change since the marker's last observation
:math:`\\Delta x_t = x_t - x_{t'}` (0 where not observed now or never before), the visit
time :math:`\\tau_t` and the gap to the previous visit :math:`\\Delta\\tau_t`. A
bidirectional LSTM gives :math:`h_t = [\\overrightarrow{h}_t; \\overleftarrow{h}_t]`
(packed over the valid visits) and temporal attention pools them:

.. math::
    \\alpha_t = \\frac{m_t \\exp(q^\\top \\tanh(W_h h_t + b_h))}
                     {\\sum_s m_s \\exp(q^\\top \\tanh(W_h h_s + b_h))},
    \\qquad z_{mol} = \\sum_t \\alpha_t h_t,

with :math:`m_t` the visit validity. Peaks of :math:`\\alpha_t` mark "critical windows".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from oncofusion.nn.layers import masked_softmax, run_on_present
from oncofusion.nn.registries import ENCODERS

__all__ = ["BiLSTMAttentionEncoder", "visit_features"]


def visit_features(values: Tensor, observed: Tensor, times: Tensor, valid: Tensor,
                   time_scale: float = 1.0) -> Tensor:
    """Per-visit input features (B, L, 3M + 2): values, observed mask, delta, time, gap.

    Values at unobserved or invalid positions never reach the output (``torch.where``).
    """
    obs = observed.bool() & valid.bool()[..., None]
    x = torch.where(obs, values, torch.zeros_like(values))
    b, length, m = values.shape
    pos = torch.arange(length, device=values.device).view(1, length, 1).expand(b, length, m)
    last = torch.where(obs, pos, torch.full_like(pos, -1)).cummax(dim=1).values
    prev = torch.cat([torch.full_like(last[:, :1], -1), last[:, :-1]], dim=1)
    prev_val = x.gather(1, prev.clamp(min=0))
    delta = torch.where(obs & (prev >= 0), x - prev_val, torch.zeros_like(x))
    v = valid.bool()
    t = torch.where(v, times, torch.zeros_like(times)) / time_scale
    gap = torch.cat([torch.zeros_like(t[:, :1]), t[:, 1:] - t[:, :-1]], dim=1)
    gap = torch.where(v & (torch.arange(length, device=t.device) > 0), gap, torch.zeros_like(gap))
    return torch.cat([x, obs.to(x.dtype), delta, t[..., None], gap[..., None]], dim=-1)


@ENCODERS.register("bilstm_attention")
class BiLSTMAttentionEncoder(nn.Module):
    """BiLSTM + temporal attention over irregular, partially observed visits.

    Parameters
    ----------
    n_markers
        Number of biomarkers ``M``.
    hidden
        LSTM hidden size per direction (``h_t`` has ``2 * hidden`` features).
    out_features
        Embedding size; a linear projection of ``h_t`` is added when it differs from
        ``2 * hidden`` (applied per visit, so ``embedding`` is still the
        attention-weighted mean of ``tokens``).
    num_layers, dropout
        LSTM depth and dropout between LSTM layers / on the outputs.
    attention_dim
        Width of :math:`W_h` (default ``2 * hidden``).
    time_scale
        Times are divided by it (e.g. 12 for months to years).
    modality
        Batch key prefix read by :meth:`forward_batch` (``biomarkers`` ...).

    Notes
    -----
    ``forward(values, observed, times, valid, mask=None)`` with values/observed
    (B, L, M), times/valid (B, L) returns ``embedding`` (B, D), ``tokens`` (B, L, D)
    (per-visit states, 0 at invalid visits), ``token_mask`` (B, L), ``token_times``
    (B, L), ``attention`` (B, L) (the :math:`\\alpha_t`, 0 at invalid visits) and
    ``present`` (B,). A row without valid visits (or with ``mask`` False) is not
    computed and gives zeros and ``present`` False, never NaN. ``valid`` must be a prefix
    (right padding, as produced by ``collate_patients``).
    """

    def __init__(self, n_markers: int, hidden: int = 32, out_features: int | None = None,
                 num_layers: int = 1, dropout: float = 0.0, attention_dim: int | None = None,
                 time_scale: float = 1.0, modality: str = "biomarkers") -> None:
        super().__init__()
        if n_markers < 1 or hidden < 1:
            raise ValueError(f"n_markers and hidden must be >= 1, got {n_markers} and {hidden}.")
        self.n_markers, self.hidden = int(n_markers), int(hidden)
        self.time_scale, self.modality = float(time_scale), modality
        self.lstm = nn.LSTM(3 * self.n_markers + 2, self.hidden, num_layers=num_layers,
                            batch_first=True, bidirectional=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        width = 2 * self.hidden
        self.attn_proj = nn.Linear(width, attention_dim or width)
        self.attn_query = nn.Linear(attention_dim or width, 1, bias=False)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.out_features = int(out_features) if out_features is not None else width
        self.proj: nn.Module = nn.Linear(width, self.out_features) if self.out_features != width else nn.Identity()

    def _encode(self, values: Tensor, observed: Tensor, times: Tensor, valid: Tensor) -> dict[str, Tensor]:
        feats = visit_features(values, observed, times, valid, self.time_scale)
        lengths = valid.sum(1)
        packed = pack_padded_sequence(feats, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=feats.shape[1])
        h = self.dropout(h)
        scores = self.attn_query(torch.tanh(self.attn_proj(h))).squeeze(-1)
        alpha = masked_softmax(scores, valid)
        tokens = torch.where(valid[..., None], self.proj(h), torch.zeros((), dtype=h.dtype, device=h.device))
        emb = (alpha[..., None] * tokens).sum(1)
        return {"embedding": emb, "tokens": tokens, "attention": alpha}

    def forward(self, values: Tensor, observed: Tensor, times: Tensor, valid: Tensor,
                mask: Tensor | None = None) -> dict[str, Tensor]:
        """Encode a padded batch of visit sequences (see the class notes)."""
        if values.dim() != 3 or values.shape[-1] != self.n_markers:
            raise ValueError(f"biomarker values must be (B, L, {self.n_markers}), got {tuple(values.shape)}.")
        b, length, _ = values.shape
        valid = valid.bool()
        lengths = valid.sum(1)
        prefix = torch.arange(length, device=valid.device)[None] < lengths[:, None]
        if not bool((prefix == valid).all()):
            raise ValueError("biomarker_valid must mark a prefix of each row (right padding); "
                             "sort visits by time and pad at the end.")
        present = lengths > 0
        if mask is not None:
            present = present & mask.bool().to(present.device)

        def placeholder(n: int) -> dict[str, Tensor]:
            return {"embedding": values.new_zeros(n, self.out_features),
                    "tokens": values.new_zeros(n, length, self.out_features),
                    "attention": values.new_zeros(n, length)}

        if length == 0:
            out = placeholder(b)
        else:
            out = run_on_present(self._encode, present, values, observed.bool(), times, valid,
                                 placeholder=placeholder)
        out["token_mask"] = valid & present[:, None]
        out["token_times"] = torch.where(out["token_mask"], times, torch.zeros_like(times))
        out["present"] = present
        return out

    def forward_batch(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        """Encode the biomarker entries of a collated batch (docs/internals.md)."""
        m = self.modality
        stem = m.removesuffix("s")
        return self(batch[m], batch[f"{stem}_observed"], batch[f"{stem}_times"],
                    batch[f"{stem}_valid"], batch["modality_mask"][m])
