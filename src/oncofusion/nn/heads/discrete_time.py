"""Discrete-time hazard head (DMA-Net §2.3; Gensheimer & Narasimhan 2019; pycox).

The follow-up is cut into :math:`K` intervals (``n_intervals``, set by the time
discretisation). For patient :math:`i` and interval :math:`k` the head gives the
conditional hazard

.. math:: h_i(k) = \\sigma\\big(w^\\top z_i(k) + b_k\\big), \\qquad
          S_i(k) = \\prod_{l \\le k} (1 - h_i(l)),

from a per-slice representation :math:`z_i(k)` (``input="per_slice"``: the fusion's
``tokens``, one per interval, as in DMA-Net), from the pooled embedding plus a learned
interval embedding :math:`z_i(k) = z_i + e_k` (``time_embedding=True``), or, by default, as
``K`` outputs of one layer on the pooled embedding (pycox's ``LogisticHazard`` net).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from oncofusion.nn.heads._input import check_features, head_input
from oncofusion.nn.layers import make_mlp
from oncofusion.nn.registries import HEADS
from oncofusion.registry import look_up_option

__all__ = ["DiscreteTimeHead"]


@HEADS.register("discrete_time")
class DiscreteTimeHead(nn.Module):
    """Logit hazards for ``n_intervals`` intervals.

    Parameters
    ----------
    in_features
        Size ``D`` of the representation.
    n_intervals
        Number of intervals ``K`` (the output size).
    input
        ``"pooled"`` (input (B, D)) or ``"per_slice"`` (input (B, K, D)).
    time_embedding
        Add a learned per-interval embedding :math:`e_k` to the representation.
    hidden, act, dropout
        Optional MLP before the output layer.

    Notes
    -----
    ``forward(z)`` (a tensor, or a fusion output dict: ``embedding`` or ``tokens`` is
    taken) -> ``{"logit_hazard": (B, K), "hazard": (B, K)}`` with hazard in (0, 1).
    """

    def __init__(self, in_features: int, n_intervals: int, input: str = "pooled",
                 time_embedding: bool = False, hidden: Sequence[int] = (), act: str = "relu",
                 dropout: float = 0.0) -> None:
        super().__init__()
        if n_intervals < 1:
            raise ValueError(f"n_intervals must be >= 1, got {n_intervals}.")
        self.input = look_up_option(input, ["pooled", "per_slice"], what="head input")
        self.in_features, self.n_intervals = int(in_features), int(n_intervals)
        self.out_features = self.n_intervals
        self.shared = self.input == "per_slice" or time_embedding
        out = 1 if self.shared else self.n_intervals
        self.net = make_mlp(self.in_features, hidden, out, act=act, dropout=dropout)
        if self.shared:
            self.interval_bias = nn.Parameter(torch.zeros(self.n_intervals))
        self.time_embedding = (nn.Parameter(torch.randn(self.n_intervals, self.in_features) * 0.02)
                               if time_embedding else None)

    def forward(self, z: Tensor | Mapping[str, Any]) -> dict[str, Tensor]:
        x = head_input(z, "tokens" if self.input == "per_slice" else "embedding")
        if self.input == "per_slice":
            check_features(x, self.in_features, 3, "discrete_time head (per_slice)")
            if x.shape[1] != self.n_intervals:
                raise ValueError(f"per-slice input has {x.shape[1]} slices but n_intervals="
                                 f"{self.n_intervals}; make the fusion's n_slices equal to it.")
        else:
            check_features(x, self.in_features, 2, "discrete_time head")
            if self.shared:
                x = x[:, None].expand(-1, self.n_intervals, -1)
        if self.time_embedding is not None:
            x = x + self.time_embedding.to(x.dtype)
        logit = self.net(x).squeeze(-1) + self.interval_bias if self.shared else self.net(x)
        return {"logit_hazard": logit, "hazard": torch.sigmoid(logit)}
