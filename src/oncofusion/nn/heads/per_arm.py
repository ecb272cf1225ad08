"""Per-arm dual-task head (MM-Care §3.4, eq. 16-17).

From one shared representation :math:`R`, for every treatment arm :math:`T` an overall
survival (OS) branch and a local control (LC) branch:

.. math:: h_{OS,T}(k) = \\sigma(\\mathrm{MLP}_{OS,T}(R))_k, \\qquad
          P_{LC,T} = \\sigma(\\mathrm{MLP}_{LC,T}(R)) \\in [0, 1]^J .

OS is a discrete-time hazard over ``n_intervals`` intervals (the block follows the model
output contract: ``logit_hazard``/``hazard``). LC is either ``J`` binary logits of local
*failure* by each LC horizon (``lc="binary"``, MM-Care; higher is worse, local control
probability is ``1 - lc_risk``) or a discrete-time hazard of local failure
(``lc="discrete_time"``). An optional ``trunk`` MLP is shared by all arms and tasks.

With ``wide_features`` (wide & deep, :class:`~oncofusion.models.network.MultimodalSurvivalNet`
``linear``), every arm adds a linear term of the wide input :math:`w` to its logits:
:math:`\\beta_{OS,T}^\\top w` to every OS interval (a proportional-odds shift of the
discrete hazards) and :math:`B_{LC,T} w` to the LC logits; with ``wide="shared"`` all arms
share one :math:`\\beta_{OS}` and :math:`B_{LC}` (linear prognostic effects; on the logit scale the difference
between the arms then comes from the deep part only). These weights start at zero, so an
untrained wide part leaves the deep part's output unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn

from oncofusion.nn.heads._input import check_features, head_input
from oncofusion.nn.layers import make_mlp
from oncofusion.nn.registries import HEADS
from oncofusion.registry import look_up_option

__all__ = ["PerArmHead"]


@HEADS.register("per_arm")
class PerArmHead(nn.Module):
    """OS (discrete-time) and LC outputs for every arm from one representation.

    Parameters
    ----------
    in_features
        Size ``D`` of the shared representation.
    arms
        Arm names, in the order of ``schema.arms`` (``arm`` indices in a batch refer to it).
    n_intervals
        OS intervals ``K``.
    n_lc
        LC horizons (``"binary"``) or intervals (``"discrete_time"``); 0: no LC branch.
    lc
        ``"binary"`` or ``"discrete_time"``.
    hidden
        Hidden widths of every per-arm, per-task MLP.
    trunk
        Hidden widths of an MLP shared by all branches (``()``: none).
    act, dropout
        Activation and dropout of the MLPs.
    wide_features
        Size ``W`` of the wide input ``z["wide"]`` (0: none).
    wide
        ``"per_arm"`` (a linear term per arm) or ``"shared"`` (one for all arms).

    Notes
    -----
    ``forward(z)`` (``z`` (B, D) or a fusion output dict) -> ``{arm: block}`` with
    ``logit_hazard``/``hazard`` (B, K) (OS; also as ``os_logit_hazard``/``os_hazard``) and
    either ``lc_logit``/``lc_risk`` (B, J) or ``lc_logit_hazard``/``lc_hazard`` (B, J).
    :meth:`select_arm` picks each patient's received arm.
    """

    def __init__(self, in_features: int, arms: Sequence[str], n_intervals: int, n_lc: int = 2,
                 lc: str = "binary", hidden: Sequence[int] = (), trunk: Sequence[int] = (),
                 act: str = "relu", dropout: float = 0.0, wide_features: int = 0,
                 wide: str = "per_arm") -> None:
        super().__init__()
        arms = [str(a) for a in arms]
        if not arms or len(set(arms)) != len(arms) or any("." in a or not a for a in arms):
            raise ValueError(f"arms must be distinct non-empty names without '.', got {arms}.")
        if n_intervals < 1 or n_lc < 0:
            raise ValueError(f"need n_intervals >= 1 and n_lc >= 0, got {n_intervals} and {n_lc}.")
        self.lc = look_up_option(lc, ["binary", "discrete_time"], what="LC output")
        self.arms, self.in_features = tuple(arms), int(in_features)
        self.n_intervals, self.n_lc = int(n_intervals), int(n_lc)
        self.trunk = make_mlp(self.in_features, trunk, None, act=act, dropout=dropout) if trunk else nn.Identity()
        width = int(trunk[-1]) if trunk else self.in_features
        self.wide = look_up_option(wide, ["per_arm", "shared"], what="wide part")
        self.heads = nn.ModuleDict()
        self.shared_wide = nn.ModuleDict()
        if wide_features > 0 and self.wide == "shared":
            self.shared_wide["os_wide"] = _zero_linear(int(wide_features), 1)
            if self.n_lc > 0:
                self.shared_wide["lc_wide"] = _zero_linear(int(wide_features), self.n_lc)
        for arm in self.arms:
            branch = nn.ModuleDict({"os": make_mlp(width, hidden, self.n_intervals, act=act, dropout=dropout)})
            if self.n_lc > 0:
                branch["lc"] = make_mlp(width, hidden, self.n_lc, act=act, dropout=dropout)
            if wide_features > 0 and self.wide == "per_arm":
                branch["os_wide"] = _zero_linear(int(wide_features), 1)
                if self.n_lc > 0:
                    branch["lc_wide"] = _zero_linear(int(wide_features), self.n_lc)
            self.heads[arm] = branch
        self.wide_features = int(wide_features)

    def forward(self, z: Tensor | Mapping[str, Any]) -> dict[str, dict[str, Tensor]]:
        x = head_input(z)
        check_features(x, self.in_features, 2, "per_arm head")
        wide = None
        if self.wide_features:
            wide = head_input(z, "wide")
            check_features(wide, self.wide_features, 2, "per_arm head (wide input)")
        r = self.trunk(x)
        out: dict[str, dict[str, Tensor]] = {}
        for arm in self.arms:
            branch = cast(nn.ModuleDict, self.heads[arm])
            linear = self.shared_wide if self.wide == "shared" else branch
            os_logit = branch["os"](r)
            if wide is not None:
                os_logit = os_logit + linear["os_wide"](wide)
            block = {"logit_hazard": os_logit, "hazard": torch.sigmoid(os_logit),
                     "os_logit_hazard": os_logit, "os_hazard": torch.sigmoid(os_logit)}
            if self.n_lc > 0:
                lc_logit = branch["lc"](r)
                if wide is not None:
                    lc_logit = lc_logit + linear["lc_wide"](wide)
                if self.lc == "binary":
                    block.update(lc_logit=lc_logit, lc_risk=torch.sigmoid(lc_logit))
                else:
                    block.update(lc_logit_hazard=lc_logit, lc_hazard=torch.sigmoid(lc_logit))
            out[arm] = block
        return out

    def select_arm(self, out: Mapping[str, Mapping[str, Tensor]], arm: Tensor) -> dict[str, Tensor]:
        """Each row's block for its received arm (``arm``: (B,) indices into ``arms``)."""
        arm = torch.as_tensor(arm).long().reshape(-1)
        if bool(((arm < 0) | (arm >= len(self.arms))).any()):
            raise ValueError(f"arm indices must be in [0, {len(self.arms)}) for arms {list(self.arms)}, "
                             f"got {sorted(set(arm.tolist()))}; -1 means the cohort has no arms.")
        first = out[self.arms[0]]
        picked = {}
        for key in first:
            stacked = torch.stack([out[a][key] for a in self.arms], dim=1)  # (B, A, ...)
            index = arm.to(stacked.device).view(-1, 1, *([1] * (stacked.dim() - 2)))
            picked[key] = stacked.gather(1, index.expand(-1, 1, *stacked.shape[2:])).squeeze(1)
        return picked


def _zero_linear(n_in: int, n_out: int) -> nn.Linear:
    """A linear layer with zero weights and bias (starts as "no effect")."""
    layer = nn.Linear(n_in, n_out)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer
