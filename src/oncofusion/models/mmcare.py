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
fitted on training patients). With ``ensemble.members`` > 1 several networks are trained
from different seeds and :class:`MMCareEnsemble` averages their predicted probabilities (a
deep ensemble; Lakshminarayanan et al. 2017). The fitted model is :class:`MMCarePredictor`
(registered as ``"mmcare"``); the recommendation comes from
:func:`oncofusion.decide.recommend`.

References
----------
Lakshminarayanan B, Pritzel A, Blundell C. Simple and scalable predictive uncertainty
estimation using deep ensembles. NeurIPS 2017.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from torch import nn

from oncofusion.errors import ConfigError
from oncofusion.models.mmcare_predictor import MMCarePredictor  # registers "mmcare" in MODELS
from oncofusion.models.network import ComponentConfig, MultimodalSurvivalNet, NetworkConfig

__all__ = ["RESERVED_KEYS", "MMCareEnsemble", "MMCareNet", "MMCarePredictor", "mixture_block"]

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


def _mixture_hazard(hazards: Sequence[torch.Tensor], eps: float = 1e-6) -> torch.Tensor:
    """Conditional hazards (B, K) of the equal mixture of discrete-time survival curves.

    :math:`\\bar S_k = \\frac1M \\sum_m \\prod_{j \\le k} (1 - h_{mj})` and
    :math:`\\bar h_k = 1 - \\bar S_k / \\bar S_{k-1}` (:math:`\\bar S_0 = 1`), so that
    :math:`\\prod_{j \\le k}(1 - \\bar h_j) = \\bar S_k`: the survival curve of the mixture is
    the average of the members' curves.
    """
    surv = torch.stack([torch.cumprod(1.0 - h.double(), dim=-1) for h in hazards]).mean(0)
    prev = torch.cat([torch.ones_like(surv[..., :1]), surv[..., :-1]], dim=-1)
    hazard = 1.0 - surv / prev.clamp(min=1e-300)
    return hazard.clamp(eps, 1.0 - eps).to(hazards[0].dtype)


def mixture_block(blocks: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One arm's outputs of several networks combined: OS (and discrete-time LC) survival
    curves averaged (:func:`_mixture_hazard`), binary LC risks averaged; logits follow."""
    if len(blocks) == 1:
        return dict(blocks[0])
    out: dict[str, torch.Tensor] = {}
    os_h = _mixture_hazard([b["hazard"] for b in blocks])
    out.update(hazard=os_h, logit_hazard=torch.logit(os_h), os_hazard=os_h,
               os_logit_hazard=torch.logit(os_h))  # fmt: skip
    first = blocks[0]
    if "lc_risk" in first:
        risk = torch.stack([b["lc_risk"] for b in blocks]).mean(0).clamp(1e-6, 1.0 - 1e-6)
        out.update(lc_risk=risk, lc_logit=torch.logit(risk))
    if "lc_hazard" in first:
        lc_h = _mixture_hazard([b["lc_hazard"] for b in blocks])
        out.update(lc_hazard=lc_h, lc_logit_hazard=torch.logit(lc_h))
    return out


class _MixtureBody(nn.Module):
    """The members' bodies read as one: ``forward(batch) -> {arm: mixed block, "attention"}``
    (the first member's attention). Built on demand, so it adds no parameters of its own.

    ``modalities`` (what occlusion and SHAP mask) are the members' own; ``encoders`` are the
    first member's, so a Grad-CAM of the ensemble's output (hooked on that member's imaging
    layer) is the first member's map: the mixture only scales its gradients by a positive
    factor, which the map's normalisation removes."""

    def __init__(self, bodies: Sequence[nn.Module], arms: Sequence[str]) -> None:
        super().__init__()
        self.bodies = nn.ModuleList(bodies)
        self.arms = tuple(arms)
        self.modalities = list(cast(Any, bodies[0]).modalities)

    @property
    def encoders(self) -> nn.ModuleDict:
        return cast(nn.ModuleDict, cast(Any, self.bodies[0]).encoders)

    @property
    def mixture_parts(self) -> list[nn.Module]:
        """The members' bodies (Kernel SHAP encodes the fixed modalities once per member)."""
        return list(self.bodies)

    def mix_outputs(self, outputs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The members' per-arm outputs combined as in :meth:`forward`."""
        return {a: mixture_block([o[a] for o in outputs]) for a in self.arms}

    def forward(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        outs = [body(batch) for body in self.bodies]
        out: dict[str, Any] = self.mix_outputs(outs)
        out["attention"] = outs[0].get("attention", {})
        return out


class MMCareEnsemble(nn.Module):
    """Several :class:`MMCareNet` trained from different seeds, read as one network.

    ``forward`` has :class:`MMCareNet`'s outputs; under every arm the OS curve is the average
    of the members' curves and the probability of local control the average of theirs, so
    the utility :math:`\\alpha P_{OS}(\\tau) + \\beta P_{LC}(\\tau)` is the members' average
    utility. Averaging cancels much of the seed-to-seed variance of networks trained on a
    cohort of this size, above all in the difference between the arms that drives the
    recommendation. MC-dropout draws
    (:func:`~oncofusion.models.mmcare_data.mc_dropout_mode`) sample dropout in every member.
    ``body`` (what explanations read) mixes the members' bodies the same way; attention maps
    and Grad-CAM maps are the first member's.
    """

    def __init__(self, members: Sequence[MMCareNet]) -> None:
        super().__init__()
        if not members:
            raise ConfigError("an MM-Care ensemble needs at least one member network.")
        first = members[0]
        if any(m.arms != first.arms for m in members):
            raise ConfigError("the members of an MM-Care ensemble must share their arms.")
        self.members = nn.ModuleList(members)
        self.arms, self.n_lc, self.lc = first.arms, first.n_lc, first.lc
        self.n_intervals = first.n_intervals

    @property
    def head(self) -> nn.Module:
        return cast(MMCareNet, self.members[0]).head

    @property
    def body(self) -> nn.Module:
        # the members keep their own modes (eval, or MC dropout): nothing is switched here
        return _MixtureBody([cast(MMCareNet, m).body for m in self.members], self.arms)

    def forward(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        out = self.body(batch)
        per_arm = {a: out[a] for a in self.arms}
        arm = torch.as_tensor(batch["arm"]).long().reshape(-1)
        received = cast(Any, self.head).select_arm(per_arm, arm.clamp(min=0))
        return {
            "arms": per_arm,
            "received": received,
            "hazard": received["hazard"],
            "logit_hazard": received["logit_hazard"],
            "attention": out["attention"],
        }
