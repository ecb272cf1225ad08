"""DeepHit (single risk): an MLP that outputs the event-time PMF over a time grid.

An MLP maps the inputs (the modalities in ``config.use``) to K logits :math:`\\phi`; a
softmax over :math:`[\\phi_1, \\dots, \\phi_K, 0]` gives the probability mass
:math:`f(k) = P(T \\in (c_k, c_{k+1}])` and the tail :math:`P(T > c_K)` (pycox's
``DeepHitSingle`` parametrisation). The loss (:func:`oncofusion.survival.deephit_loss`) is

.. math::

    L = \\underbrace{-\\sum_i \\left[\\delta_i \\log f_i(\\kappa_i)
        + (1 - \\delta_i) \\log S_i(\\kappa_i)\\right]}_{L_1}
      + \\alpha \\underbrace{\\sum_{i,j} A_{ij}
        \\exp\\left(-\\frac{F_i(\\kappa_i) - F_j(\\kappa_i)}{\\sigma}\\right)}_{L_2},

with :math:`\\kappa_i` the interval of :math:`T_i`, :math:`S_i(k) = \\sum_{l \\ge k} f_i(l)`
(tail included), :math:`F_i(k) = \\sum_{l \\le k} f_i(l)` and :math:`A_{ij}` the
comparable pairs (:math:`\\delta_i = 1`, :math:`\\kappa_i < \\kappa_j`). Survival at the
cuts is :math:`S(c_k) = 1 - \\sum_{l < k} f(l)`; between cuts it is interpolated
(``config.interpolation``, exponential by default).

The network also returns the conditional hazard :math:`h_k = f_k / S(c_k)` (``hazard``,
``logit_hazard``) so the trainer's validation IBS and every discrete-time consumer can
read it (docs/internals.md).

References
----------
Lee C, Zame WR, Yoon J, van der Schaar M. DeepHit: a deep learning approach to survival
analysis with competing risks. AAAI 2018.
Kvamme H, Borgan Ø, Scheel I. Time-to-event prediction with neural networks and Cox
regression. JMLR 2019;20(129) (pycox).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from torch import Tensor, nn

from oncofusion.models._deep_common import (
    DeepComparatorConfig,
    StaticInput,
    make_mlp,
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

__all__ = ["DeepHitConfig", "DeepHitNet", "DeepHitObjective", "FittedDeepHit", "fit_deephit"]


class DeepHitConfig(DeepComparatorConfig):
    """DeepHit settings: those of :class:`DeepComparatorConfig` plus the loss weights.

    Attributes
    ----------
    alpha
        Weight :math:`\\alpha \\ge 0` of the ranking term (:math:`L_1 + \\alpha L_2`;
        pycox's ``alpha=a`` is :math:`\\alpha = (1 - a)/a`).
    sigma
        Scale :math:`\\sigma > 0` of the ranking term.
    """

    alpha: float = Field(1.0, ge=0)
    sigma: float = Field(0.1, gt=0)


class DeepHitNet(nn.Module):
    """MLP :math:`x \\mapsto \\phi \\in \\mathbb{R}^K` (PMF logits, implicit zero tail logit).

    ``forward(batch)`` returns ``logits_pmf``, ``logit_hazard`` and ``hazard`` (B, K).
    """

    def __init__(
        self,
        use: Sequence[str],
        dims: dict[str, Any],
        cuts: np.ndarray,
        hidden: list[int],
        dropout: float,
    ) -> None:
        super().__init__()
        cuts = np.asarray(cuts, dtype=np.float64)
        self.inputs = StaticInput(use, dims, time_scale=float(cuts[-1]))
        self.mlp = make_mlp(self.inputs.out_features, hidden, len(cuts) - 1, dropout)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        return pmf_outputs(self.mlp(self.inputs(batch)))


class DeepHitObjective:
    """``(outputs, batch) -> {"loss"}``: DeepHit's :math:`L_1 + \\alpha L_2`
    on ``outputs["logits_pmf"]``, the outcomes discretised on ``cuts``."""

    def __init__(self, cuts: np.ndarray, alpha: float, sigma: float) -> None:
        from oncofusion.survival.discretize import Discretizer

        self.discretizer = Discretizer.from_cuts(cuts)
        self.alpha, self.sigma = float(alpha), float(sigma)

    def __call__(self, outputs: dict[str, Any], batch: dict[str, Any]) -> dict[str, Tensor]:
        from oncofusion.survival.losses import DegenerateBatchWarning, deephit_loss

        labels = self.discretizer.transform(
            batch["time"].detach().cpu().numpy().astype(np.float64),
            batch["event"].detach().cpu().numpy().astype(bool),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateBatchWarning)
            loss = deephit_loss(
                labels.interval_index,
                labels.event,
                outputs["logits_pmf"].float(),
                alpha=self.alpha,
                sigma=self.sigma,
            )
        return {"loss": loss}


class FittedDeepHit(FittedDeepComparator):
    """A trained DeepHit: survival from the predicted event-time PMF."""

    name = "deephit"
    config_class: ClassVar[type[DeepComparatorConfig]] = DeepHitConfig

    @staticmethod
    def build_net(config: Any, dims: dict[str, Any], cuts: np.ndarray) -> DeepHitNet:
        return DeepHitNet(config.use, dims, cuts, config.hidden, config.dropout)

    @staticmethod
    def build_objective(config: Any, cuts: np.ndarray) -> DeepHitObjective:
        return DeepHitObjective(cuts, config.alpha, config.sigma)

    def predict_surv_grid(self, cohort: Any) -> np.ndarray:
        """:math:`S(c_1), \\dots, S(c_K)` per patient, shape (n, K)."""
        ds = self._dataset(cohort, self.config.max_visit_time)
        return survival_on_grid(run_network(self.net, ds, ("logits_pmf",))["logits_pmf"])

    def predict_survival(self, cohort: Any, times: np.ndarray | list[float]) -> np.ndarray:
        """:math:`S(t)` at ``times`` (n, len(times)), interpolated between the cuts; held at
        :math:`S(c_K)` after the last cut (with a warning)."""
        from oncofusion.survival.transforms import interpolate_survival

        t = self._times(times)
        hold_after_grid(t, float(self.cuts[-1]), self.name)
        surv = self.predict_surv_grid(cohort)
        out = interpolate_survival(
            surv, self.cuts, t, method=self.config.interpolation, beyond="hold"
        )
        return np.clip(np.minimum.accumulate(out, axis=1), 0.0, 1.0)


def fit_deephit(
    cohort_train: Any,
    cohort_val: Any,
    config: DeepHitConfig | None = None,
    *,
    work_dir: str | Path | None = None,
) -> FittedDeepHit:
    """Train DeepHit on ``cohort_train``, early-stopping on ``cohort_val``.

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
    FittedDeepHit
        The model with the best validation weights (``config.monitor``).
    """
    return fit_comparator(FittedDeepHit, cohort_train, cohort_val, config, work_dir)


MODELS.register(FittedDeepHit.name)(FittedDeepHit)
