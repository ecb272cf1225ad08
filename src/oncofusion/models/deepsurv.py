"""DeepSurv: a Cox proportional-hazards model with a neural log relative hazard.

An MLP maps the inputs (the modalities in ``config.use``) to :math:`\\eta(x)` (``log_hz``,
higher = worse), trained by minimising the negative Cox partial log-likelihood with Efron
ties (:func:`oncofusion.survival.cox_partial_likelihood`):

.. math::

    -\\log PL = -\\sum_g \\left[ \\sum_{i \\in H_g} \\eta_i - \\sum_{r=0}^{m_g - 1}
      \\log\\left(\\sum_{j \\in R_g} e^{\\eta_j} - \\tfrac{r}{m_g} \\sum_{j \\in H_g} e^{\\eta_j}
      \\right) \\right].

After training, the Breslow estimate of the baseline cumulative hazard on the training
patients gives survival at any time,

.. math::

    \\hat H_0(t) = \\sum_{t_j \\le t} \\frac{d_j}{\\sum_{i: T_i \\ge t_j} e^{\\eta(x_i)}},
    \\qquad S(t \\mid x) = \\exp\\{-\\hat H_0(t)\\, e^{\\eta(x)}\\}.

**Discrete hazard for validation.** :func:`oncofusion.train.fit` early-stops on the
validation IBS computed from ``outputs["hazard"]`` on the grid :math:`c_1..c_K`. In eval
mode :class:`DeepSurvNet` therefore also returns

.. math::

    h_k(x) = 1 - \\exp\\{-[\\hat H_0(c_{k+1}) - \\hat H_0(c_k)]\\, e^{\\eta(x)}\\},

so that :math:`\\prod_{l \\le k}(1 - h_l) = S(c_{k+1} \\mid x)` exactly. During training,
:math:`\\hat H_0` comes from the *current* network: the training patients' input features
are kept in the network as a non-persistent buffer (:meth:`DeepSurvNet.set_reference`, never
saved) and the Breslow estimate is recomputed whenever the weights have changed (the
parameters' version counters are the cache key), i.e. once per validation epoch. After
training, the final Breslow estimate is stored in the persistent buffer ``base_cumhaz``
(and in ``model.json`` at every event time, which is what :meth:`predict_survival` uses).

References
----------
Katzman JL, Shaham U, Cloninger A, Bates J, Jiang T, Kluger Y. DeepSurv: personalized
treatment recommender system using a Cox proportional hazards deep neural network. BMC
Medical Research Methodology 2018;18:24.
Breslow NE. Discussion of "Regression models and life-tables" by D.R. Cox. JRSS-B 1972.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from oncofusion.baselines._common import breslow_cumulative_hazard, step_matrix
from oncofusion.models._deep_common import (
    DeepComparatorConfig,
    StaticInput,
    make_mlp,
)
from oncofusion.models._deep_fitted import (
    FittedDeepComparator,
    PreparedData,
    fit_comparator,
    outcomes,
    run_network,
)
from oncofusion.models.registry import MODELS

__all__ = ["CoxObjective", "DeepSurvConfig", "DeepSurvNet", "FittedDeepSurv", "fit_deepsurv"]


class DeepSurvConfig(DeepComparatorConfig):
    """DeepSurv settings: those of :class:`DeepComparatorConfig` plus the ties method.

    ``n_intervals``/``cut_scheme``/``cuts`` only define the grid of the validation IBS;
    predictions use the Breslow step function at every training event time.
    """

    ties: Literal["efron", "breslow"] = "efron"


def breslow_on_grid(
    time: np.ndarray, event: np.ndarray, eta: np.ndarray, grid: np.ndarray
) -> np.ndarray:
    """:math:`\\hat H_0` (Breslow) at the points ``grid``, shape (len(grid),)."""
    knots, cumhaz = breslow_cumulative_hazard(time, event, eta)
    return step_matrix(knots, cumhaz[None, :], grid, before=0.0)[0]


class DeepSurvNet(nn.Module):
    """MLP :math:`x \\mapsto \\eta(x)`; in eval mode also the discrete hazard on the grid.

    Parameters
    ----------
    use, dims
        Input modalities and their sizes (``PatientDataset.dims``).
    cuts
        The grid :math:`c_0 < \\dots < c_K` of the discrete ``hazard`` output.
    hidden, dropout
        MLP widths and dropout.

    Notes
    -----
    ``forward(batch)`` returns ``log_hz`` (B,); in eval mode, when a baseline is known
    (a reference set or ``base_cumhaz``), also ``hazard`` and ``logit_hazard`` (B, K).
    """

    base_cumhaz: Tensor
    ref_x: Tensor

    def __init__(
        self,
        use: Sequence[str],
        dims: dict[str, Any],
        cuts: np.ndarray,
        hidden: list[int],
        dropout: float,
    ) -> None:
        super().__init__()
        self.cuts = np.asarray(cuts, dtype=np.float64)
        self.inputs = StaticInput(use, dims, time_scale=float(self.cuts[-1]))
        self.mlp = make_mlp(self.inputs.out_features, hidden, 1, dropout)
        k = len(self.cuts) - 1
        self.register_buffer("base_cumhaz", torch.full((k,), float("nan"), dtype=torch.float64))
        self.register_buffer("ref_x", torch.zeros(0), persistent=False)
        self._ref: tuple[np.ndarray, np.ndarray] | None = None
        self._cache_key: tuple[int, ...] | None = None
        self._cache: np.ndarray | None = None

    # -- the baseline hazard ---------------------------------------------------------------
    def set_reference(self, x: Tensor, time: np.ndarray, event: np.ndarray) -> None:
        """Keep the training inputs ``x`` (n, D) and outcomes for the live Breslow baseline."""
        self.ref_x = x.detach().to(self.base_cumhaz.device, torch.float32)
        self._ref = (np.asarray(time, dtype=np.float64), np.asarray(event, dtype=bool))
        self._cache_key = None

    def clear_reference(self) -> None:
        self.ref_x = torch.zeros(0, device=self.base_cumhaz.device)
        self._ref, self._cache_key, self._cache = None, None, None

    def set_baseline(self, cumhaz_on_grid: np.ndarray) -> None:
        """Fix :math:`\\hat H_0(c_1..c_K)` (after training)."""
        self.base_cumhaz.copy_(torch.as_tensor(np.asarray(cumhaz_on_grid, dtype=np.float64)))

    def _grid_cumhaz(self) -> np.ndarray | None:
        if self._ref is not None:
            key = tuple(int(p._version) for p in self.parameters())
            if key != self._cache_key:
                eta = self.mlp(self.ref_x).squeeze(-1).detach().double().cpu().numpy()
                self._cache = breslow_on_grid(*self._ref, eta, self.cuts[1:])
                self._cache_key = key
            return self._cache
        if bool(torch.isfinite(self.base_cumhaz).all()):
            return self.base_cumhaz.detach().cpu().numpy()
        return None

    @staticmethod
    def discrete_hazard(log_hz: Tensor, cumhaz: np.ndarray) -> dict[str, Tensor]:
        """:math:`h_k = 1 - \\exp(-\\Delta H_k e^{\\eta})` and its logit
        :math:`\\log(e^{x} - 1)`, :math:`x = \\Delta H_k e^{\\eta}` (clamped to keep h in (0, 1))."""
        dh = np.diff(np.concatenate([[0.0], cumhaz]))
        dh_t = torch.as_tensor(np.maximum(dh, 1e-300), dtype=torch.float64, device=log_hz.device)
        x = torch.exp(log_hz.double()[:, None] + torch.log(dh_t)[None, :]).clamp(1e-12, 40.0)
        big = x > 15.0
        logit = torch.where(
            big, x + torch.log1p(-torch.exp(-x)), torch.log(torch.expm1(torch.where(big, 1.0, x)))
        )
        logit = logit.to(log_hz.dtype)
        return {"logit_hazard": logit, "hazard": torch.sigmoid(logit)}

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        log_hz = self.mlp(self.inputs(batch)).squeeze(-1)
        out = {"log_hz": log_hz}
        if not self.training:
            cumhaz = self._grid_cumhaz()
            if cumhaz is not None:
                out.update(self.discrete_hazard(log_hz, cumhaz))
        return out


class CoxObjective:
    """``(outputs, batch) -> {"loss"}``: the negative Cox partial log-likelihood of
    ``outputs["log_hz"]`` (mean over the batch's events; a batch without events gives a
    graph-connected zero)."""

    def __init__(self, ties: str = "efron") -> None:
        self.ties = ties

    def __call__(self, outputs: dict[str, Any], batch: dict[str, Any]) -> dict[str, Tensor]:
        from oncofusion.survival.losses import DegenerateBatchWarning, cox_partial_likelihood

        time = batch["time"].detach().cpu().numpy().astype(np.float64)
        event = batch["event"].detach().cpu().numpy().astype(bool)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateBatchWarning)
            loss = cox_partial_likelihood(time, event, outputs["log_hz"].float(), ties=self.ties)
        return {"loss": loss}


class FittedDeepSurv(FittedDeepComparator):
    """A trained DeepSurv: :math:`\\eta(x)` plus the Breslow baseline of its training set."""

    name = "deepsurv"
    config_class: ClassVar[type[DeepComparatorConfig]] = DeepSurvConfig
    net: DeepSurvNet
    base_times: np.ndarray
    base_cumhaz: np.ndarray

    @staticmethod
    def build_net(config: Any, dims: dict[str, Any], cuts: np.ndarray) -> DeepSurvNet:
        return DeepSurvNet(config.use, dims, cuts, config.hidden, config.dropout)

    @staticmethod
    def build_objective(config: Any, cuts: np.ndarray) -> CoxObjective:
        return CoxObjective(config.ties)

    @staticmethod
    def _before_training(net: nn.Module, data: PreparedData, cohort_train: Any) -> None:
        """The training patients become the reference of the live Breslow baseline."""
        from oncofusion.data.collate import collate_patients

        assert isinstance(net, DeepSurvNet)
        time, event = outcomes(cohort_train)
        with torch.no_grad():
            ref = collate_patients([data.train_set[i] for i in range(len(data.train_set))])
            net.set_reference(net.inputs(ref), time, event)

    def _after_training(self, data: PreparedData, cohort_train: Any) -> None:
        """Fix the Breslow baseline of the trained network on the training patients."""
        time, event = outcomes(cohort_train)
        self.net.clear_reference()
        eta = run_network(self.net, data.train_set, ("log_hz",))["log_hz"]
        self.base_times, self.base_cumhaz = breslow_cumulative_hazard(time, event, eta)
        self.net.set_baseline(breslow_on_grid(time, event, eta, data.cuts[1:]))

    def _extra_state(self) -> dict[str, Any]:
        return {"base_times": self.base_times.tolist(), "base_cumhaz": self.base_cumhaz.tolist()}

    def _set_extra_state(self, state: dict[str, Any]) -> None:
        self.base_times = np.asarray(state["base_times"], dtype=np.float64)
        self.base_cumhaz = np.asarray(state["base_cumhaz"], dtype=np.float64)

    def predict_log_hazard(self, cohort: Any) -> np.ndarray:
        """:math:`\\eta(x_i)` (log relative hazard, higher = worse), shape (n,)."""
        ds = self._dataset(cohort, self.config.max_visit_time)
        return run_network(self.net, ds, ("log_hz",))["log_hz"]

    def predict_survival(self, cohort: Any, times: np.ndarray | list[float]) -> np.ndarray:
        """:math:`S(t \\mid x) = \\exp\\{-\\hat H_0(t) e^{\\eta(x)}\\}`, shape (n, len(times)).

        :math:`\\hat H_0` is a right-continuous step function, constant after the last
        training event time.
        """
        t = self._times(times)
        eta = self.predict_log_hazard(cohort)
        h0 = step_matrix(self.base_times, self.base_cumhaz[None, :], t, before=0.0)[0]
        return np.exp(-np.exp(eta)[:, None] * h0[None, :])


def fit_deepsurv(
    cohort_train: Any,
    cohort_val: Any,
    config: DeepSurvConfig | None = None,
    *,
    work_dir: str | Path | None = None,
) -> FittedDeepSurv:
    """Train DeepSurv on ``cohort_train``, early-stopping on ``cohort_val``.

    Preprocessing and the Breslow baseline use the training patients only.

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
    FittedDeepSurv
        The model with the best validation weights (``config.monitor``).
    """
    return fit_comparator(FittedDeepSurv, cohort_train, cohort_val, config, work_dir)


MODELS.register(FittedDeepSurv.name)(FittedDeepSurv)
