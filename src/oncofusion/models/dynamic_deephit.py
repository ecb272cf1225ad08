"""Dynamic-DeepHit (single risk): an RNN over the marker history with temporal attention.

For patient :math:`i` with visits :math:`j = 1..J` the RNN (LSTM or GRU, causal) reads
:math:`u_j = [\\tilde x_j;\\ m_j;\\ t_j / \\tau;\\ \\Delta t_j / \\tau;\\ z]`: the marker values
(0 where unobserved), the observed mask, the visit time and the gap to the previous visit
(scaled by the grid's last cut :math:`\\tau`) and the static features :math:`z` (clinical /
genomics when in ``config.use``). Temporal attention pools the hidden states with the last
one as query,

.. math::

    a_j = \\frac{\\exp(v^\\top \\tanh(W h_j + U h_J))}{\\sum_{l \\le J} \\exp(v^\\top
          \\tanh(W h_l + U h_J))}, \\qquad c = \\sum_{j \\le J} a_j h_j,

and an MLP on :math:`[c;\\ \\text{last observed value and time of each marker};\\ z]` gives
the event-time PMF :math:`f(k)` (softmax with a zero tail logit, as in DeepHit). With
:math:`t_J` the last measurement time and :math:`\\kappa_J` its interval, the loss is

.. math::

    L = L_1 + \\alpha L_2 + \\beta L_3, \\qquad
    L_1 = -\\sum_i \\left[\\delta_i \\log \\frac{f_i(\\kappa_i)}{S_i(\\kappa_{J,i})}
          + (1-\\delta_i) \\log \\frac{S_i(\\kappa_i)}{S_i(\\kappa_{J,i})}\\right],

the likelihood of the event time *conditional on survival to the last measurement*
(:math:`S_i(k) = \\sum_{l \\ge k} f_i(l)`); :math:`L_2` is DeepHit's ranking loss on the
conditional cumulative risk :math:`F_i(k \\mid t_J) = 1 - S_i(k + 1)/S_i(\\kappa_{J,i})`;
:math:`L_3 = \\sum_{j < J} \\lVert m_{j+1} \\odot (y_j - x_{j+1}) \\rVert^2 / \\sum m`
is the auxiliary prediction of the next measurement, :math:`y_j = W_y [h_j; \\Delta t_{j+1}/\\tau]`
(the gap to the next visit is given, as visits are irregular).

**Prediction at a landmark** :math:`s` uses only the visits at or before :math:`s`
(``PatientDataset(max_visit_time=s)``) and returns

.. math:: S(s + \\Delta \\mid T > s) = S(s + \\Delta) / S(s),

with :math:`S` interpolated between the cuts (``config.interpolation``).
``predict_survival(cohort, times, landmark=s)`` takes ``times`` as horizons :math:`\\Delta`
after :math:`s` (as the landmarking baselines); without ``landmark``, :math:`s = 0`.

References
----------
Lee C, Yoon J, van der Schaar M. Dynamic-DeepHit: a deep learning approach for dynamic
survival analysis with competing risks based on longitudinal data. IEEE Transactions on
Biomedical Engineering 2020;67(1):122-133 (online 2019).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from oncofusion.errors import ConfigError, SurvivalInputError
from oncofusion.models._deep_common import (
    DeepComparatorConfig,
    StaticInput,
    log_survival_from_logits,
    make_mlp,
    marker_summary,
    pmf_outputs,
    survival_on_grid,
)
from oncofusion.models._deep_fitted import (
    FittedDeepComparator,
    fit_comparator,
    hold_after_grid,
    run_network,
)
from oncofusion.models.registry import MODELS

__all__ = [
    "DynamicDeepHitConfig",
    "DynamicDeepHitNet",
    "DynamicDeepHitObjective",
    "FittedDynamicDeepHit",
    "fit_dynamic_deephit",
]


class DynamicDeepHitConfig(DeepComparatorConfig):
    """Dynamic-DeepHit settings: those of :class:`DeepComparatorConfig` plus

    Attributes
    ----------
    rnn, rnn_hidden, rnn_layers, attention_dim
        Recurrent cell (``lstm`` or ``gru``), its width and depth, and the attention width.
    alpha, beta, sigma
        Weights of the ranking (:math:`\\alpha`) and next-measurement (:math:`\\beta`)
        terms, and the ranking scale :math:`\\sigma`.
    max_visit_time
        Training and validation use the visits up to this time (``None``: full histories).

    Early stopping monitors the validation loss by default: the validation IBS of the
    trainer reads the unconditional survival given the full history, which is not what
    this model predicts.
    """

    rnn: Literal["lstm", "gru"] = "lstm"
    rnn_hidden: int = Field(32, ge=1)
    rnn_layers: int = Field(1, ge=1)
    attention_dim: int = Field(16, ge=1)
    alpha: float = Field(1.0, ge=0)
    beta: float = Field(1.0, ge=0)
    sigma: float = Field(0.1, gt=0)
    monitor: Literal["val_ibs", "val_loss"] = "val_loss"


class DynamicDeepHitNet(nn.Module):
    """The Dynamic-DeepHit network (see the module notes).

    ``forward(batch)`` returns ``logits_pmf``, ``logit_hazard``, ``hazard`` (B, K) of the
    unconditional event time given the history, ``last_time`` (B,) (the last visit time,
    0 without visits), and with biomarkers ``next_pred`` (B, L, M) (:math:`y_j`) and
    ``attention`` (B, L).
    """

    def __init__(
        self, config: DynamicDeepHitConfig, dims: dict[str, Any], cuts: np.ndarray
    ) -> None:
        super().__init__()
        cuts = np.asarray(cuts, dtype=np.float64)
        self.time_scale = float(cuts[-1])
        static_use: list[str] = [m for m in config.use if m != "biomarkers"]
        self.static = StaticInput(static_use, dims, self.time_scale) if static_use else None
        n_static = self.static.out_features if self.static is not None else 0
        self.sequence = "biomarkers" in config.use
        self.n_markers = int(dims["biomarkers"])
        width = n_static
        if self.sequence:
            if self.n_markers < 1:
                raise ConfigError(
                    "'biomarkers' is in 'use' but the cohort has no biomarkers. Fix: remove it."
                )
            m, h = self.n_markers, config.rnn_hidden
            cell = nn.LSTM if config.rnn == "lstm" else nn.GRU
            self.rnn = cell(
                2 * m + 2 + n_static,
                h,
                num_layers=config.rnn_layers,
                batch_first=True,
                dropout=config.dropout if config.rnn_layers > 1 else 0.0,
            )
            self.attn_key = nn.Linear(h, config.attention_dim)
            self.attn_query = nn.Linear(h, config.attention_dim, bias=False)
            self.attn_v = nn.Linear(config.attention_dim, 1, bias=False)
            self.next_head = nn.Linear(h + 1, m)
            width += h + 4 * m + 1
        self.head = make_mlp(width, config.hidden, len(cuts) - 1, config.dropout)

    def _history(self, batch: dict[str, Any], static: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        values, observed = batch["biomarkers"].float(), batch["biomarker_observed"].bool()
        times, valid = batch["biomarker_times"].float(), batch["biomarker_valid"].bool()
        b, length, _ = values.shape
        valid = valid & batch["modality_mask"]["biomarkers"].bool()[:, None]
        present = valid.any(dim=1)
        obs = observed & valid[..., None]
        zero = torch.zeros((), dtype=values.dtype, device=values.device)
        x = torch.where(obs, values, zero)
        t = torch.where(valid, times, zero) / self.time_scale
        gap = torch.cat([torch.zeros_like(t[:, :1]), t[:, 1:] - t[:, :-1]], dim=1)
        gap = torch.where(valid, gap, zero)
        u = torch.cat(
            [
                x,
                obs.to(x.dtype),
                t[..., None],
                gap[..., None],
                static[:, None, :].expand(b, length, static.shape[1]),
            ],
            dim=-1,
        )
        lengths = valid.sum(dim=1)
        packed = pack_padded_sequence(
            u, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
        )
        h, _ = self.rnn(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=length)
        rows = torch.arange(b, device=values.device)
        last = (lengths - 1).clamp(min=0)
        h_last = h[rows, last]
        scores = self.attn_v(
            torch.tanh(self.attn_key(h) + self.attn_query(h_last)[:, None])
        ).squeeze(-1)
        scores = scores.masked_fill(~valid, float("-inf"))
        attn = torch.where(
            valid, torch.softmax(scores.masked_fill(~present[:, None], 0.0), dim=1), zero
        )
        context = torch.where(present[:, None], (attn[..., None] * h).sum(dim=1), zero)
        summary = marker_summary(values, observed, times, valid, present, self.time_scale)
        gap_next = torch.cat([gap[:, 1:], torch.zeros_like(gap[:, :1])], dim=1)
        next_pred = self.next_head(torch.cat([h, gap_next[..., None]], dim=-1))
        feats = torch.cat([context, summary, present[:, None].to(x.dtype)], dim=1)
        last_time = torch.where(present, times[rows, last], zero)
        return feats, {"next_pred": next_pred, "attention": attn, "last_time": last_time}

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        b = int(batch["time"].shape[0])
        device = batch["time"].device
        static = self.static(batch) if self.static is not None else torch.zeros(b, 0, device=device)
        extra: dict[str, Tensor] = {"last_time": torch.zeros(b, device=device)}
        feats = static
        if self.sequence:
            hist, extra = self._history(batch, static)
            feats = torch.cat([hist, static], dim=1)
        out = pmf_outputs(self.head(feats))
        out.update(extra)
        return out


class DynamicDeepHitObjective:
    """``(outputs, batch) -> {"loss", "nll", "rank", "next"}``: :math:`L_1 + \\alpha L_2 +
    \\beta L_3` of the module notes, outcomes discretised on ``cuts``."""

    def __init__(self, cuts: np.ndarray, alpha: float, beta: float, sigma: float) -> None:
        from oncofusion.survival.discretize import Discretizer

        self.cuts = np.asarray(cuts, dtype=np.float64)
        self.discretizer = Discretizer.from_cuts(self.cuts)
        self.alpha, self.beta, self.sigma = float(alpha), float(beta), float(sigma)

    def __call__(self, outputs: dict[str, Any], batch: dict[str, Any]) -> dict[str, Tensor]:
        from oncofusion.survival.losses import DegenerateBatchWarning, ranking_loss

        logits = outputs["logits_pmf"].float()
        n, k = logits.shape
        labels = self.discretizer.transform(
            batch["time"].detach().cpu().numpy().astype(np.float64),
            batch["event"].detach().cpu().numpy().astype(bool),
        )
        last = outputs["last_time"].detach().cpu().numpy().astype(np.float64)
        cond_np = np.clip(np.searchsorted(self.cuts, last, side="right") - 1, 0, k)
        cond_np = np.minimum(
            cond_np, labels.interval_index
        )  # a visit at/after T_i conditions on nothing later
        idx = torch.as_tensor(labels.interval_index, device=logits.device)
        cond = torch.as_tensor(cond_np, device=logits.device)
        is_event = torch.as_tensor(labels.event, device=logits.device)
        rows = torch.arange(n, device=logits.device)
        log_pmf = torch.log_softmax(nn.functional.pad(logits, (0, 1)), dim=1)
        log_surv = log_survival_from_logits(logits)  # (B, K + 1): log S(c_0..c_K)
        log_at_cond = log_surv[rows, cond]
        ll = (
            torch.where(is_event, log_pmf[rows, idx.clamp(max=k - 1)], log_surv[rows, idx])
            - log_at_cond
        )
        nll = -ll.mean()
        terms = {"nll": nll}
        total = nll
        if self.alpha > 0:
            log_cond_surv = (log_surv[:, 1:] - log_at_cond[:, None]).clamp(max=0.0)
            after = torch.arange(k, device=logits.device)[None, :] >= cond[:, None]
            cum_risk = torch.where(
                after, -torch.expm1(log_cond_surv), torch.zeros_like(log_cond_surv)
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DegenerateBatchWarning)
                terms["rank"] = ranking_loss(
                    labels.interval_index, labels.event, cum_risk, sigma=self.sigma
                )
            total = total + self.alpha * terms["rank"]
        if self.beta > 0 and "next_pred" in outputs:
            pred = outputs["next_pred"][:, :-1].float()
            target = batch["biomarkers"][:, 1:].float()
            valid = (
                batch["biomarker_valid"].bool()
                & batch["modality_mask"]["biomarkers"].bool()[:, None]
            )
            m = (batch["biomarker_observed"][:, 1:].bool() & valid[:, 1:, None]).to(pred.dtype)
            sq = torch.where(m > 0, (pred - target) ** 2, torch.zeros_like(pred))
            terms["next"] = sq.sum() / m.sum().clamp(min=1.0)
            total = total + self.beta * terms["next"]
        terms["loss"] = total
        return terms


class FittedDynamicDeepHit(FittedDeepComparator):
    """A trained Dynamic-DeepHit: landmark predictions :math:`S(s + \\Delta \\mid T > s)`."""

    name = "dynamic_deephit"
    config_class: ClassVar[type[DeepComparatorConfig]] = DynamicDeepHitConfig

    @staticmethod
    def build_net(config: Any, dims: dict[str, Any], cuts: np.ndarray) -> DynamicDeepHitNet:
        return DynamicDeepHitNet(config, dims, cuts)

    @staticmethod
    def build_objective(config: Any, cuts: np.ndarray) -> DynamicDeepHitObjective:
        return DynamicDeepHitObjective(cuts, config.alpha, config.beta, config.sigma)

    def predict_surv_grid(self, cohort: Any, landmark: float = 0.0) -> np.ndarray:
        """Unconditional :math:`S(c_1..c_K)` given the visits at or before ``landmark``, (n, K)."""
        ds = self._dataset(cohort, float(landmark))
        return survival_on_grid(run_network(self.net, ds, ("logits_pmf",))["logits_pmf"])

    def predict_survival(
        self, cohort: Any, times: np.ndarray | list[float], landmark: float | None = None
    ) -> np.ndarray:
        """:math:`S(s + \\Delta \\mid T > s)` for the horizons :math:`\\Delta` = ``times``
        after the landmark :math:`s` (default 0), from the visits at or before :math:`s`;
        shape (n, len(times))."""
        from oncofusion.survival.transforms import interpolate_survival

        t = self._times(times)
        s = 0.0 if landmark is None else float(landmark)
        if not np.isfinite(s) or s < 0:
            raise SurvivalInputError(f"'landmark' must be a finite time >= 0, got {landmark!r}.")
        at = np.concatenate([[s], s + t])
        hold_after_grid(at, float(self.cuts[-1]), self.name)
        surv = self.predict_surv_grid(cohort, s)
        full = interpolate_survival(
            surv, self.cuts, at, method=self.config.interpolation, beyond="hold"
        )
        at_s = full[:, :1]
        cond = np.divide(full[:, 1:], at_s, out=np.zeros_like(full[:, 1:]), where=at_s > 0)
        return np.clip(np.minimum.accumulate(cond, axis=1), 0.0, 1.0)


def fit_dynamic_deephit(
    cohort_train: Any,
    cohort_val: Any,
    config: DynamicDeepHitConfig | None = None,
    *,
    work_dir: str | Path | None = None,
) -> FittedDynamicDeepHit:
    """Train Dynamic-DeepHit on the (full or ``max_visit_time``-truncated) histories of
    ``cohort_train``, early-stopping on ``cohort_val``.

    Parameters
    ----------
    cohort_train, cohort_val
        Training and validation patients (e.g. ``cohort.subset(splits["train"])``); the
        preprocessing and the time grid are fitted on ``cohort_train`` only.
    config
        Settings (defaults when ``None``); ``config.seed`` fixes every random draw.
    work_dir
        Folder for checkpoints (a run there resumes); a temporary one when ``None``.

    Returns
    -------
    FittedDynamicDeepHit
        The model with the best validation weights (``config.monitor``).
    """
    return fit_comparator(FittedDynamicDeepHit, cohort_train, cohort_val, config, work_dir)


MODELS.register(FittedDynamicDeepHit.name)(FittedDynamicDeepHit)
