"""MM-Care: per-treatment survival and local control from CT, clinical data and genomics.

MM-Care (Lou & Mo, seed paper 002) answers, for one patient, "under SBRT and under surgery,
what are the chances of survival and local control, and which should we choose?":

1. **segmentation -> ROI** (optional, :mod:`oncofusion.models.roi`): a 3D U-Net gives the
   tumour mask :math:`M`; the encoder sees :math:`I_{ROI} = I_{CT} \\odot M` (eq. 1-3);
2. **encoders**: ResNet-3D with spatial attention on the ROI (``resnet3d``,
   ``attention="spatial"``, ``use_segmentation=True``), an MLP with three hidden layers and
   batch norm on the clinical vector (``mlp``), a GCN over the gene-interaction graph
   (``gcn``; ``genomic_mlp`` when the cohort has no graph);
3. **fusion**: iterated bidirectional multi-head cross-attention (``bidirectional_cross_attention``,
   4 heads, 2 steps; a patient without genomics has it masked out of the keys);
4. **head** (``per_arm``): for every arm :math:`T`, a discrete-time OS hazard on the time
   grid, so that :math:`P_{OS,T}(t) = \\prod_{k: c_k \\le t}(1 - h_{T,k})` is a probability
   at 1, 3 and 5 years, and local control at 1 and 3 years (eq. 16-17).

Training (:mod:`.mmcare_objective`, :mod:`.mmcare_pipeline`) supervises only the arm each
patient received, weighted by the inverse probability of that arm (IPTW, propensity model
fitted on training patients). The fitted model is :class:`MMCarePredictor` (registered as
``"mmcare"``); the recommendation comes from :func:`oncofusion.decide.recommend`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from oncofusion.errors import ConfigError
from oncofusion.models.mmcare_predictor import MMCarePredictor  # registers "mmcare" in MODELS
from oncofusion.models.network import ComponentConfig, MultimodalSurvivalNet, NetworkConfig

__all__ = ["RESERVED_KEYS", "MMCareNet", "MMCarePredictor"]

#: output keys of :class:`MMCareNet` (an arm may not be named like one of them)
RESERVED_KEYS = ("arms", "hazard", "logit_hazard", "received", "attention", "alignment_cost")


class MMCareNet(nn.Module):
    """Encoders -> fusion -> per-arm dual-task head, with the received arm's block on top.

    Parameters
    ----------
    network
        The ``network:`` block (head ``per_arm``; its ``args`` give hidden widths/dropout).
    input_sizes
        Per modality the size its encoder needs (see
        :func:`oncofusion.models.pipeline.input_sizes`).
    n_intervals
        OS intervals :math:`K` (from the fitted discretizer).
    arms
        Treatment arms in the cohort's order (``batch["arm"]`` indexes them).
    n_lc
        LC outputs: horizons (``lc="binary"``) or intervals (``lc="discrete_time"``).
    lc
        ``"binary"`` or ``"discrete_time"``.
    extra_encoder_args
        Data-dependent encoder arguments (the gene graph of ``gcn``).

    Notes
    -----
    ``forward(batch)`` returns ``{"arms": {arm: block}, "received": block, "hazard": (B, K),
    "logit_hazard": (B, K), "attention": {...}}``. A block holds ``os_hazard``/``hazard``
    and ``os_logit_hazard``/``logit_hazard`` (B, K) and ``lc_logit``/``lc_risk`` (binary) or
    ``lc_logit_hazard``/``lc_hazard`` (discrete time), (B, J). ``received``/``hazard`` are
    each patient's block under the arm received (what the trainer's validation IBS reads);
    a patient without a received arm (``arm == -1``, a new patient) gets the first arm
    there, which nothing downstream reads as theirs.
    """

    def __init__(
        self,
        network: NetworkConfig,
        input_sizes: Mapping[str, int],
        n_intervals: int,
        arms: Sequence[str],
        *,
        n_lc: int,
        lc: str = "binary",
        extra_encoder_args: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        arms = [str(a) for a in arms]
        if len(arms) < 2:
            raise ConfigError(
                f"MM-Care compares treatment arms, but the cohort declares {arms or 'none'}. "
                "Fix: list at least two arms under 'arms:' in cohort.yaml and give each patient's arm."
            )
        clash = sorted(set(arms) & set(RESERVED_KEYS))
        if clash:
            raise ConfigError(
                f"arm name(s) {clash} are reserved output keys; rename the arm(s) in cohort.yaml."
            )
        head = ComponentConfig(
            name=network.head.name,
            args={**network.head.args, "arms": arms, "n_lc": int(n_lc), "lc": lc},
        )
        self.config = network
        self.arms = tuple(arms)
        self.n_lc, self.lc = int(n_lc), lc
        self.body = MultimodalSurvivalNet(
            network.model_copy(update={"head": head}), input_sizes, n_intervals, extra_encoder_args
        )
        self.n_intervals = int(n_intervals)

    @property
    def head(self) -> nn.Module:
        return self.body.head

    def forward(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        out = self.body(batch)
        per_arm = {a: out[a] for a in self.arms}
        arm = torch.as_tensor(batch["arm"]).long().reshape(-1)
        received = self.body.head.select_arm(per_arm, arm.clamp(min=0))
        result: dict[str, Any] = {
            "arms": per_arm,
            "received": received,
            "hazard": received["hazard"],
            "logit_hazard": received["logit_hazard"],
            "attention": out.get("attention", {}),
        }
        return result
