"""Serial serum EZH2/CD10 of the simulated CRLM cohort: visits, values and their likelihood.

Visits (seed paper 000, section 2.1): preoperative (time 0), postoperative day 5
(0.164 months), then monthly to 12 months with +-5 days of jitter; about 10% of follow-up
visits are missed (3% of preoperative samples), a single marker is missing at 2% of visits,
and no visit happens after the event or the end of follow-up.

Marker model, on the log scale, for marker :math:`k` of patient :math:`i` at visit time :math:`t`:

.. math::

    \\log y_{ik}(t) = \\mu_k + s_k(t) + a_k D_i + b_{ik} + \\rho_k\\, r_i(t) + \\varepsilon_{ik}(t),
    \\qquad r_i(t) = \\max\\{0, (t - o_i)/\\delta\\}, \\quad o_i = \\max(T_i - \\delta, 0)

with :math:`D_i` the latent tumour aggressiveness (see :mod:`.crlm`), :math:`s_k` the known
response to surgery (EZH2 falls after resection, CD10 peaks at day 5), a patient-specific
offset :math:`b_{ik} \\sim N(0, \\sigma_{b,k}^2)` that carries no risk information,
measurement noise :math:`\\varepsilon \\sim N(0, \\sigma_{\\varepsilon,k}^2)`, and a linear rise
that starts :math:`\\delta` months before the metastasis is found at :math:`T_i` (at
surgery if that is later) and reaches :math:`\\rho_k` at :math:`T_i` (less when the onset is
cut at surgery). The preoperative sample is therefore free of the rise; later visits are
informative about an event in the coming months.

Given :math:`(D, T)` the observed log values are Gaussian with compound-symmetric covariance,
so the marker likelihood integrates :math:`b` out in closed form (:func:`marker_loglik_terms`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["MarkerParams", "VisitData", "marker_loglik_terms", "simulate_visits"]

_DAYS_PER_MONTH = 365.25 / 12.0


@dataclass(frozen=True)
class MarkerParams:
    """Parameters of the EZH2/CD10 model (log scale; times in months)."""

    names: tuple[str, ...] = ("ezh2", "cd10")
    log_median: tuple[float, ...] = (float(np.log(4.0)), float(np.log(18.0)))
    loading: tuple[float, ...] = (0.48, 0.38)  # a_k, per unit of D
    sd_patient: tuple[float, ...] = (0.25, 0.25)  # sigma_b
    sd_noise: tuple[float, ...] = (0.25, 0.25)  # sigma_epsilon
    rise: tuple[float, ...] = (1.0, 0.8)  # rho_k, reached at the event
    lead_time: float = 3.0  # delta, months
    p_missed_preop: float = 0.03
    p_missed_visit: float = 0.10
    p_missing_value: float = 0.02
    jitter_days: float = 5.0

    def ramp(self, t: np.ndarray, event_time: np.ndarray) -> np.ndarray:
        """:math:`r(t) = \\max\\{0, (t - o)/\\delta\\}` with onset :math:`o = \\max(T - \\delta, 0)`."""
        onset = np.maximum(np.asarray(event_time, dtype=np.float64) - self.lead_time, 0.0)
        with np.errstate(invalid="ignore"):
            r = (np.asarray(t, dtype=np.float64) - onset) / self.lead_time
        return np.clip(np.nan_to_num(r, nan=0.0, neginf=0.0), 0.0, None)

    def surgery_response(self, k: int, t: np.ndarray) -> np.ndarray:
        """:math:`s_k(t)`: EZH2 falls by 0.5 (log) after resection; CD10 peaks on day 5."""
        t = np.asarray(t, dtype=np.float64)
        if self.names[k] == "ezh2":
            return -0.5 * (1.0 - np.exp(-t / 0.25))
        pod5 = 5.0 / _DAYS_PER_MONTH
        return 0.35 * (t / pod5) * np.exp(1.0 - t / pod5) - 0.2 * (1.0 - np.exp(-t / 0.5))


@dataclass(frozen=True)
class VisitData:
    """Visits padded to a rectangle: one row per patient, one column per possible visit.

    ``time`` (n, L) in months (NaN where there is no visit); ``log_value`` (n, L, K) the
    log marker values (NaN where not measured).
    """

    time: np.ndarray
    log_value: np.ndarray

    def to_frame(self, patient_ids: list[str], names: tuple[str, ...]) -> pd.DataFrame:
        """The long ``biomarkers.csv`` table (values back on their natural scale)."""
        i, l_idx = np.nonzero(np.isfinite(self.time))
        frame = pd.DataFrame(
            {"patient_id": np.asarray(patient_ids, dtype=object)[i], "time": self.time[i, l_idx]}
        )
        for k, name in enumerate(names):
            frame[name] = np.exp(self.log_value[i, l_idx, k])
        return frame


def _floor3(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x) * 1000.0 + 1e-9) / 1000.0


def simulate_visits(
    params: MarkerParams,
    d: np.ndarray,
    event_time: np.ndarray,
    follow_up: np.ndarray,
    rng: np.random.Generator,
) -> VisitData:
    """Draw the visit schedule and the marker values.

    Parameters
    ----------
    params
        The marker model.
    d
        Latent aggressiveness :math:`D_i`, shape (n,).
    event_time
        True (uncensored) metastasis time :math:`T_i` in months, shape (n,).
    follow_up
        Observed follow-up time (event or censoring, floored to 0.001 month), shape (n,).
    rng
        The random generator (consumed).

    Returns
    -------
    VisitData
        Visits at or before ``follow_up`` and strictly before ``event_time``; values rounded
        to 3 decimals on the natural scale (the log values are those of the rounded numbers).
    """
    n = d.shape[0]
    k_markers = len(params.names)
    months = np.arange(1, 13, dtype=np.float64)
    jitter = rng.uniform(-1.0, 1.0, (n, 12)) * params.jitter_days / _DAYS_PER_MONTH
    t = np.concatenate(
        [
            np.zeros((n, 1)),
            np.full((n, 1), 5.0 / _DAYS_PER_MONTH),
            np.minimum(months + jitter, 12.0),
        ],
        axis=1,
    )
    t = _floor3(t)
    missed = np.concatenate(
        [rng.random((n, 1)) < params.p_missed_preop, rng.random((n, 13)) < params.p_missed_visit],
        axis=1,
    )
    seen = ~missed & (t <= follow_up[:, None]) & (t < event_time[:, None])
    offsets = rng.standard_normal((n, k_markers)) * np.asarray(params.sd_patient)
    noise = rng.standard_normal((n, t.shape[1], k_markers)) * np.asarray(params.sd_noise)
    value_missing: np.ndarray = rng.random((n, t.shape[1], k_markers)) < params.p_missing_value
    ramp = params.ramp(t, event_time[:, None])
    log_v = np.empty((n, t.shape[1], k_markers))
    for k in range(k_markers):
        log_v[:, :, k] = (
            params.log_median[k]
            + params.surgery_response(k, t)
            + params.loading[k] * d[:, None]
            + offsets[:, k, None]
            + params.rise[k] * ramp
            + noise[:, :, k]
        )
    value = np.maximum(np.round(np.exp(log_v), 3), 0.001)
    log_v = np.log(value)
    all_missing = np.asarray(value_missing.all(axis=2))
    value_missing &= ~all_missing[:, :, None]  # a visit keeps at least one marker
    log_v[value_missing] = np.nan
    log_v[~seen] = np.nan
    time = np.where(seen, t, np.nan)
    return VisitData(time=time, log_value=log_v)


def marker_loglik_terms(
    params: MarkerParams,
    visits: VisitData,
    landmark: float,
    t_mid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Terms of the marker log-likelihood :math:`\\ell(D, T)` from the visits at or before ``landmark``.

    With the offsets :math:`b_{ik}` integrated out, for each marker the residuals
    :math:`e_l = c_l - a D - \\rho r_l(T)` (where :math:`c_l = \\log y_l - \\mu - s(t_l)`) of the
    :math:`n` visits have covariance :math:`\\sigma_\\varepsilon^2 I + \\sigma_b^2 11^\\top`, so

    .. math::

        \\ell(D, T) = -\\frac{1}{2\\sigma_\\varepsilon^2}\\Big[\\sum_l e_l^2
            - \\kappa \\big(\\sum_l e_l\\big)^2\\Big] + \\text{const},
        \\qquad \\kappa = \\frac{\\sigma_b^2}{\\sigma_\\varepsilon^2 + n\\sigma_b^2},

    which expands to :math:`\\ell = F_1 D + F_2 D^2 + G(T) + D\\,H(T)` (summed over markers).

    Parameters
    ----------
    params
        The marker model.
    visits
        The observed visits.
    landmark
        Use visits with time ``<= landmark``.
    t_mid
        Representative event times of the time bins, shape (J,) (``inf`` allowed).

    Returns
    -------
    f1, f2 : ndarray, shape (n,)
    g, h : ndarray, shape (n, J)
    """
    t = visits.time
    n = t.shape[0]
    use_t = np.isfinite(t) & (np.nan_to_num(t, nan=np.inf) <= landmark)
    tt = np.where(use_t, t, 0.0)
    ramp = params.ramp(tt[:, :, None], t_mid[None, None, :])
    f1 = np.zeros(n)
    f2 = np.zeros(n)
    g = np.zeros((n, t_mid.shape[0]))
    h = np.zeros((n, t_mid.shape[0]))
    for k in range(len(params.names)):
        lv = visits.log_value[:, :, k]
        use = use_t & np.isfinite(lv)
        c = np.where(use, lv - params.log_median[k] - params.surgery_response(k, tt), 0.0)
        r = np.where(use[:, :, None], ramp, 0.0)
        nv = use.sum(axis=1).astype(np.float64)
        c1 = c.sum(axis=1)
        sr = r.sum(axis=1)
        scr = np.einsum("nl,nlj->nj", c, r)
        srr = np.einsum("nlj,nlj->nj", r, r)
        s2, b2 = params.sd_noise[k] ** 2, params.sd_patient[k] ** 2
        a, rho = params.loading[k], params.rise[k]
        kappa = b2 / (s2 + nv * b2)
        shrink = 1.0 - kappa * nv
        f1 += a * c1 * shrink / s2
        f2 += -nv * a * a * shrink / (2.0 * s2)
        g += -(
            -2.0 * rho * scr
            + rho * rho * srr
            - kappa[:, None] * rho * rho * sr * sr
            + 2.0 * kappa[:, None] * rho * c1[:, None] * sr
        ) / (2.0 * s2)
        h += -(2.0 * rho * a * sr * shrink[:, None]) / (2.0 * s2)
    return f1, f2, g, h
