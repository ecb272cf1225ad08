"""Cox head: a log hazard ratio per patient (Cox 1972; DeepSurv, Katzman et al. 2018).

.. math:: \\lambda(t \\mid z) = \\lambda_0(t) \\exp(\\eta(z)), \\qquad \\eta(z) = w^\\top z

``log_hazard`` :math:`\\eta` is a risk score: higher is worse. Without a bias by default,
since the partial likelihood does not identify one (it is absorbed by :math:`\\lambda_0`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from oncofusion.nn.heads._input import check_features, head_input
from oncofusion.nn.layers import make_mlp
from oncofusion.nn.registries import HEADS

__all__ = ["CoxHead"]


@HEADS.register("cox")
class CoxHead(nn.Module):
    """Linear (or MLP) map to the log hazard ratio.

    Parameters
    ----------
    in_features
        Size ``D`` of the representation.
    hidden, act, dropout
        Optional MLP before the output layer (DeepSurv).
    bias
        Add a bias to the output (not identifiable under the partial likelihood).

    Notes
    -----
    ``forward(z)`` with ``z`` (B, D) or a fusion output dict ->
    ``{"log_hazard": (B,), "risk": (B,)}`` (the same tensor; higher is worse).
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (), act: str = "relu",
                 dropout: float = 0.0, bias: bool = False) -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), 1
        self.net = make_mlp(self.in_features, hidden, None, act=act, dropout=dropout) if hidden else nn.Identity()
        self.out = nn.Linear(int(hidden[-1]) if hidden else self.in_features, 1, bias=bias)

    def forward(self, z: Tensor | Mapping[str, Any]) -> dict[str, Tensor]:
        x = head_input(z)
        check_features(x, self.in_features, 2, "cox head")
        eta = self.out(self.net(x)).squeeze(-1)
        return {"log_hazard": eta, "risk": eta}
