"""Building blocks shared by the deep comparators (DeepSurv, DeepHit, Dynamic-DeepHit).

* :class:`DeepComparatorConfig`: the pydantic config (input modalities, network sizes,
  time grid, optimiser, epochs, batch size, seed); each method adds its own fields.
* :class:`StaticInput`: the fixed-length input vector of an MLP built from a collated
  batch (docs/internals.md), reading only the modalities in ``use`` (the fair-comparison
  protocol of DMA-Net §2.6: a comparator sees only the information it can ingest).
* :func:`pmf_outputs`: DeepHit-style PMF logits to the discrete-time output contract.

Training, inference and the run directory are in :mod:`oncofusion.models._deep_fitted`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import Tensor, nn

from oncofusion.errors import ConfigError

__all__ = [
    "DeepComparatorConfig",
    "StaticInput",
    "log_survival_from_logits",
    "make_mlp",
    "marker_summary",
    "pmf_outputs",
    "survival_on_grid",
]

Modality = Literal["clinical", "biomarkers", "genomics"]
_ORDER = ("clinical", "biomarkers", "genomics")


def _default_use() -> list[Modality]:
    return ["clinical", "biomarkers"]


class DeepComparatorConfig(BaseModel):
    """Settings shared by the deep comparators.

    Attributes
    ----------
    use
        Input modalities (``clinical``, ``biomarkers``, ``genomics``): e.g. ``["clinical"]``,
        ``["biomarkers"]`` or both (DMA-Net §2.6). Modalities left out are never read.
    hidden, dropout
        Hidden widths of the MLP and the dropout after each hidden layer.
    n_intervals, cut_scheme, cuts
        The time grid: ``n_intervals`` equidistant (up to the largest training time) or
        quantile (of training event times) intervals, or explicit ``cuts`` (c_0 = 0).
    max_visit_time
        Biomarker visits after this time are ignored (static models; ``None`` = all).
    interpolation
        How :math:`S(t)` is read between grid points (``exponential``, ``linear``, ``step``).
    lr, weight_decay, max_epochs, batch_size, patience, monitor, gradient_clip_val
        Optimiser (AdamW) and early stopping (see :class:`oncofusion.train.TrainConfig`).
    seed
        The only source of randomness (weight initialisation, batches, dropout).
    accelerator
        Lightning accelerator (``auto``, ``cpu``, ``gpu``).
    """

    model_config = ConfigDict(extra="forbid")

    use: list[Modality] = Field(default_factory=_default_use)
    hidden: list[int] = Field(default_factory=lambda: [32, 32])
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    n_intervals: int = Field(20, ge=1)
    cut_scheme: Literal["equidistant", "quantile"] = "equidistant"
    cuts: list[float] | None = None
    max_visit_time: float | None = None
    interpolation: Literal["exponential", "linear", "step"] = "exponential"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    max_epochs: int = Field(100, ge=1)
    batch_size: int = Field(32, ge=2)
    patience: int = Field(10, ge=1)
    monitor: Literal["val_ibs", "val_loss"] = "val_ibs"
    gradient_clip_val: float | None = 1.0
    seed: int = 0
    accelerator: str = "auto"

    @field_validator("use")
    @classmethod
    def _check_use(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("'use' is empty: give at least one of clinical, biomarkers, genomics")
        if len(set(v)) != len(v):
            raise ValueError(f"'use' lists a modality twice: {v}")
        return [m for m in _ORDER if m in v]

    @field_validator("hidden")
    @classmethod
    def _check_hidden(cls, v: list[int]) -> list[int]:
        if any(int(h) < 1 for h in v):
            raise ValueError(f"hidden widths must be >= 1, got {v}")
        return v

    def train_config(self) -> Any:
        """The :class:`~oncofusion.train.config.TrainConfig` of these settings."""
        from oncofusion.train.config import TrainConfig

        return TrainConfig.model_validate(
            {
                "seed": self.seed,
                "max_epochs": self.max_epochs,
                "batch_size": self.batch_size,
                "lr": self.lr,
                "weight_decay": self.weight_decay,
                "patience": self.patience,
                "monitor": self.monitor,
                "gradient_clip_val": self.gradient_clip_val,
                "modality_dropout": 0.0,  # DMA-Net's regulariser, not part of the comparators
                "accelerator": self.accelerator,
                "progress": False,
                "deterministic": True,
            }
        )


def make_mlp(
    in_features: int, hidden: list[int], out_features: int, dropout: float
) -> nn.Sequential:
    """``Linear -> ReLU -> Dropout`` per hidden width, then a linear output layer."""
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = int(h)
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def marker_summary(
    values: Tensor,
    observed: Tensor,
    times: Tensor,
    valid: Tensor,
    present: Tensor,
    time_scale: float,
) -> Tensor:
    """Per marker: first and last observed value, whether observed, time of the last
    observation / ``time_scale``; shape (B, 4M). Unobserved entries never reach the output."""
    b, length, m = values.shape
    obs = observed.bool() & valid.bool()[..., None] & present.bool()[:, None, None]
    pos = torch.arange(length, device=values.device).view(1, length, 1).expand(b, length, m)
    last = torch.where(obs, pos, torch.full_like(pos, -1)).amax(dim=1)  # (B, M)
    first = torch.where(obs, pos, torch.full_like(pos, length)).amin(dim=1)
    has = last >= 0
    zero = torch.zeros((), dtype=values.dtype, device=values.device)
    last_val = torch.where(has, values.gather(1, last.clamp(min=0)[:, None, :])[:, 0], zero)
    first_val = torch.where(
        has, values.gather(1, first.clamp(max=length - 1)[:, None, :])[:, 0], zero
    )
    t = times[..., None].expand(b, length, m)
    last_t = torch.where(has, t.gather(1, last.clamp(min=0)[:, None, :])[:, 0] / time_scale, zero)
    return torch.cat([first_val, last_val, has.to(values.dtype), last_t], dim=1)


class StaticInput(nn.Module):
    """The fixed-length input of an MLP from a collated batch, for the modalities ``use``.

    Per modality, its features are zeroed where the modality is missing
    (``modality_mask`` False) and a presence bit is appended: ``clinical`` (F values),
    ``biomarkers`` (:func:`marker_summary`, 4M), ``genomics`` (G values).
    """

    def __init__(self, use: Sequence[str], dims: dict[str, Any], time_scale: float) -> None:
        super().__init__()
        self.use = [m for m in _ORDER if m in use]
        self.sizes = {
            "clinical": int(dims["clinical"]),
            "biomarkers": 4 * int(dims["biomarkers"]),
            "genomics": int(dims["genomics"]),
        }
        self.time_scale = float(time_scale)
        empty = [m for m in self.use if self.sizes[m] == 0]
        if empty:
            raise ConfigError(
                f"modalities {empty} are in 'use' but the cohort has no such columns. "
                "Fix: remove them from 'use'."
            )

    @property
    def out_features(self) -> int:
        return sum(self.sizes[m] + 1 for m in self.use)

    def forward(self, batch: dict[str, Any]) -> Tensor:
        mask = batch["modality_mask"]
        parts = []
        for m in self.use:
            present = mask[m].bool()
            if m == "biomarkers":
                x = marker_summary(
                    batch["biomarkers"],
                    batch["biomarker_observed"],
                    batch["biomarker_times"],
                    batch["biomarker_valid"],
                    present,
                    self.time_scale,
                )
            else:
                x = torch.where(
                    present[:, None], batch[m].float(), torch.zeros((), device=batch[m].device)
                )
            parts += [x, present[:, None].to(x.dtype)]
        return torch.cat(parts, dim=1)


def pmf_outputs(logits_pmf: Tensor) -> dict[str, Tensor]:
    """Discrete-time outputs of a PMF network (DeepHit's softmax with a zero tail logit).

    With :math:`f = \\operatorname{softmax}([\\phi_1, \\dots, \\phi_K, 0])` (the last entry
    is :math:`P(T > c_K)`), :math:`S(c_k) = \\sum_{l \\ge k} f_l` and the conditional hazard
    :math:`h_k = f_k / S(c_k)`, returned as
    :math:`\\operatorname{logit} h_k = \\log f_k - \\log S(c_{k+1})` (exact, stable):
    ``logits_pmf`` (B, K), ``logit_hazard`` (B, K), ``hazard`` (B, K) in (0, 1).
    """
    log_surv = log_survival_from_logits(logits_pmf)
    log_pmf = torch.log_softmax(nn.functional.pad(logits_pmf, (0, 1)), dim=1)
    logit_hazard = log_pmf[:, :-1] - log_surv[:, 1:]
    return {
        "logits_pmf": logits_pmf,
        "logit_hazard": logit_hazard,
        "hazard": torch.sigmoid(logit_hazard),
    }


def log_survival_from_logits(logits_pmf: Tensor) -> Tensor:
    """:math:`\\log S(c_k)`, k = 0..K (B, K + 1), from PMF logits with an implicit zero tail
    logit: a reverse ``logcumsumexp`` of the log-PMF (so :math:`\\log S(c_0) = 0`)."""
    log_pmf = torch.log_softmax(nn.functional.pad(logits_pmf, (0, 1)), dim=1)
    return torch.logcumsumexp(log_pmf.flip(-1), dim=-1).flip(-1)


def survival_on_grid(logits_pmf: np.ndarray) -> np.ndarray:
    """:math:`S(c_1), \\dots, S(c_K)` (n, K) in float64 from PMF logits."""
    log_surv = log_survival_from_logits(torch.as_tensor(np.asarray(logits_pmf, dtype=np.float64)))
    return np.clip(torch.exp(log_surv[:, 1:]).numpy(), 0.0, 1.0)
