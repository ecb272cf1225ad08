"""The MM-Care training objective: dual-task loss on the received arm, weighted by IPTW.

MM-Care's eq. 18 sums, over arms :math:`T`, an OS loss and an LC loss. A patient's outcome is
observed only under the arm :math:`A_i` received, so only that arm's branch is supervised,
and each patient is weighted by the (stabilised, clipped) inverse probability of the arm
received, :math:`w_i = \\hat P(A = A_i) / \\tilde e_{A_i}(x_i)` (Austin & Stuart 2015), so that
each arm's branch learns from a sample that resembles the whole cohort:

.. math::

    L = \\lambda_{OS} \\frac{\\sum_i w_i \\ell^{OS}_i}{\\sum_i w_i}
      + \\lambda_{LC} L^{LC}
      + \\lambda_{smooth} \\overline{\\sum_k (\\operatorname{logit} h_{T,k} - \\operatorname{logit} h_{T,k-1})^2}

with :math:`\\ell^{OS}_i` the discrete-time negative log-likelihood of patient i's OS under
:math:`A_i` (so :math:`P_{OS}(t)` is a probability; Tutz & Schmid 2016) and, for LC,

* ``lc_mode="binary"``: :math:`L^{LC} = \\sum_{ih} m_{ih} w_i v_{ih} \\mathrm{BCE}_{ih} /
  \\sum_{ih} m_{ih} w_i v_{ih}` over the LC horizons h, where :math:`m_{ih}` marks a known
  status at h (local failure by h, or LC follow-up reaching h) and :math:`v_{ih}` is the
  IPCW weight :math:`1/\\hat G(T_i-)` (case) or :math:`1/\\hat G(h-)` (control), :math:`\\hat G`
  the Kaplan-Meier estimate of LC censoring (death included) among training patients
  (Vock et al. 2016);
* ``lc_mode="discrete_time"``: the IPTW-weighted discrete-time NLL of local failure on the
  grid :math:`[0, h_1, \\dots, h_J]`.

References
----------
Austin PC, Stuart EA. Stat Med 2015;34:3661-3679. Vock DM et al. J Biomed Inform
2016;61:119-131. Tutz G, Schmid M. Modeling Discrete Time-to-Event Data. Springer 2016.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from oncofusion.errors import CohortError
from oncofusion.models.mmcare_config import MMCareLossConfig

__all__ = ["LCTargets", "MMCareObjective", "lc_horizon_labels"]


def lc_horizon_labels(
    time: np.ndarray,
    event: np.ndarray,
    horizons: Sequence[float],
    *,
    train_time: np.ndarray,
    train_event: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local failure by each horizon, whether it is known, and its IPCW weight.

    A case is a failure at :math:`T_i \\le h` (weight :math:`1/\\hat G(T_i-)`); a control has
    follow-up :math:`T_i > h`, or :math:`T_i = h` without failure (LC followed exactly to the
    horizon, e.g. to 36 months; weight :math:`1/\\hat G(h-)`); anything else is unknown
    (weight 0). :math:`\\hat G` is the censoring Kaplan-Meier of ``train_time``/``train_event``
    (the convention of :func:`oncofusion.metrics.outcome_at_horizon`).

    Returns
    -------
    target, observed, weight
        Each of shape (n, len(horizons)); ``target`` 1 = local failure by h (higher is worse).
    """
    from oncofusion.survival.nonparametric import censoring_kaplan_meier

    t = np.asarray(time, float)[:, None]
    e = np.asarray(event, bool)[:, None]
    h = np.asarray(horizons, float)[None, :]
    g = censoring_kaplan_meier(np.asarray(train_time, float), np.asarray(train_event, bool))
    case = e & (t <= h)
    control = ~case & (t >= h)
    g_case = np.asarray(g.left_limit(t[:, 0]))[:, None]
    g_ctrl = np.asarray(g.left_limit(h[0]))[None, :]
    with np.errstate(divide="ignore"):
        w = np.where(case & (g_case > 0), 1.0 / np.where(g_case > 0, g_case, 1.0), 0.0)
        w = w + np.where(control & (g_ctrl > 0), 1.0 / np.where(g_ctrl > 0, g_ctrl, 1.0), 0.0)
    observed = (case | control) & (w > 0)
    return case.astype(np.float64), observed, w


@dataclass
class LCTargets:
    """Per-patient LC training targets, looked up by patient id.

    ``target``/``observed``/``weight`` (n, J) for ``mode="binary"``; ``interval_index``,
    ``event`` (n,) for ``mode="discrete_time"`` (grid ``[0, *horizons]``); ``has_lc`` (n,).
    """

    mode: str
    horizons: np.ndarray
    index: dict[str, int]
    has_lc: np.ndarray
    target: np.ndarray
    observed: np.ndarray
    weight: np.ndarray
    interval_index: np.ndarray
    event: np.ndarray

    @classmethod
    def build(
        cls, patients: pd.DataFrame, train_ids: Sequence[str], horizons: Sequence[float], mode: str
    ) -> LCTargets:
        """Targets for every row of ``patients``; the censoring reference is ``train_ids``."""
        from oncofusion.survival.discretize import Discretizer

        ids = patients["patient_id"].astype(str).to_numpy()
        n, j = len(ids), len(horizons)
        has = np.zeros(n, bool)
        lt = np.zeros(n)
        le = np.zeros(n, int)
        if "lc_time" in patients and "lc_event" in patients:
            lt_raw = pd.to_numeric(patients["lc_time"], errors="coerce").to_numpy(float)
            le_raw = pd.to_numeric(patients["lc_event"], errors="coerce").to_numpy(float)
            has = np.isfinite(lt_raw) & np.isfinite(le_raw)
            lt = np.where(has, lt_raw, 0.0)
            le = np.where(has, le_raw, 0).astype(int)
        target = np.zeros((n, j))
        observed = np.zeros((n, j), bool)
        weight = np.zeros((n, j))
        interval = np.zeros(n, int)
        train = np.isin(ids, np.asarray(list(train_ids), dtype=str)) & has
        if has.any() and train.any():
            tg, ob, w = lc_horizon_labels(
                lt[has], le[has], horizons, train_time=lt[train], train_event=le[train]
            )
            target[has], observed[has], weight[has] = tg, ob, w
            labels = Discretizer.from_cuts([0.0, *map(float, horizons)]).transform(lt[has], le[has])
            interval[has] = np.asarray(labels.interval_index)
            le = le.copy()
            le[has] = np.asarray(labels.event)
        return cls(
            mode,
            np.asarray(horizons, float),
            {p: i for i, p in enumerate(ids)},
            has,
            target,
            observed,
            weight,
            interval,
            le,
        )

    def rows(self, patient_ids: Sequence[str]) -> np.ndarray:
        try:
            return np.array([self.index[str(p)] for p in patient_ids], dtype=int)
        except KeyError as e:
            raise CohortError(
                f"patient {e.args[0]} has no LC targets (not in the training/validation cohort)."
            ) from e


class MMCareObjective:
    """Callable ``(outputs, batch) -> {"loss", "os", "lc", "smooth"}`` (see the module doc).

    Parameters
    ----------
    discretizer
        The fitted OS time grid.
    config
        Loss weights and the LC form.
    lc_targets
        Precomputed LC targets of the training and validation patients (None: no LC term).
    iptw
        ``{patient_id: weight}``; patients not in it weigh 1.
    """

    def __init__(
        self,
        discretizer: Any,
        config: MMCareLossConfig,
        *,
        lc_targets: LCTargets | None,
        iptw: Mapping[str, float] | None = None,
    ) -> None:
        self.discretizer = discretizer
        self.config = config
        self.lc_targets = lc_targets
        self.iptw = dict(iptw or {})

    def weights(self, patient_ids: Sequence[str], device: torch.device) -> torch.Tensor:
        return torch.tensor(
            [self.iptw.get(str(p), 1.0) for p in patient_ids], dtype=torch.float32, device=device
        )

    def __call__(self, outputs: dict[str, Any], batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        from oncofusion.survival.losses import (
            DegenerateBatchWarning,
            discrete_nll,
            hazard_smoothness,
        )

        arm = torch.as_tensor(batch["arm"])
        if bool((arm < 0).any()):
            bad = [p for p, a in zip(batch["patient_id"], arm.tolist()) if a < 0][:10]
            raise CohortError(
                "MM-Care is trained on the arm each patient received, but these patients have none.",
                file="patients.csv",
                column="arm",
                rows=bad,
                fix="give every training patient an arm.",
            )
        sel = outputs["received"]
        logit = sel["logit_hazard"].float()
        w = self.weights(batch["patient_id"], logit.device)
        time = batch["time"].detach().cpu().numpy().astype(np.float64)
        event = batch["event"].detach().cpu().numpy().astype(bool)
        labels = self.discretizer.transform(time, event)
        cfg = self.config
        terms: dict[str, torch.Tensor] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateBatchWarning)
            nll = discrete_nll(labels.interval_index, labels.event, logit, reduction="none")
            terms["os"] = (w * nll).sum() / w.sum()
            total = cfg.os * terms["os"]
            if self.lc_targets is not None and cfg.lc > 0:
                terms["lc"] = self._lc(sel, batch["patient_id"], w)
                total = total + cfg.lc * terms["lc"]
            if cfg.smooth > 0 and logit.shape[1] > 1:
                arms = outputs["arms"]
                terms["smooth"] = torch.stack(
                    [hazard_smoothness(arms[a]["logit_hazard"].float()) for a in arms]
                ).mean()
                total = total + cfg.smooth * terms["smooth"]
        terms["loss"] = total
        return terms

    def _lc(
        self, sel: Mapping[str, torch.Tensor], patient_ids: Sequence[str], w: torch.Tensor
    ) -> torch.Tensor:
        from oncofusion.survival.losses import binary_outcome_loss, discrete_nll

        lc = self.lc_targets
        assert lc is not None
        rows = lc.rows(patient_ids)
        has = torch.as_tensor(lc.has_lc[rows], device=w.device)
        if lc.mode == "binary":
            z = sel["lc_logit"].float()
            weight = torch.as_tensor(lc.weight[rows], dtype=z.dtype, device=z.device) * w[:, None]
            return binary_outcome_loss(
                lc.target[rows], z, observed_mask=lc.observed[rows], weight=weight
            )
        z = sel["lc_logit_hazard"].float()
        if not bool(has.any()):
            return z.sum() * 0.0
        keep = np.flatnonzero(lc.has_lc[rows])
        idx = torch.as_tensor(keep, device=z.device)
        per = discrete_nll(
            lc.interval_index[rows][keep], lc.event[rows][keep], z[idx], reduction="none"
        )
        return (w[idx] * per).sum() / w[idx].sum()
