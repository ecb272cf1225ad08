"""Oracle (Bayes-optimal) risks of the simulated CRLM cohort, per modality subset and over time.

The oracle given a modality set :math:`M` is the posterior probability of metastasis given
exactly the information :math:`M` carries (see :mod:`.crlm` for the model):

* clinical: the risk score :math:`z` (the complete clinical values, before missingness);
* imaging: the perfusion factors :math:`u_1, u_2` a perfect encoder reads from the video;
* markers: the observed (noisy) EZH2/CD10 values;
* all: the three together.

Unobserved latent quantities are integrated out: :math:`D \\mid z` and the marker offsets in
closed form, :math:`z` (non-Gaussian) over 200 quantile nodes of a reference population,
Gaussian remainders by Gauss-Hermite quadrature, and, wherever markers are observed, the
joint posterior of :math:`(D, T)` on a grid (41 values of :math:`D` spanning +-6 prior SD,
event-time bins of 0.25 month up to :math:`12 + \\delta`, plus a tail):

.. math::

    p(D, T \\in b_j \\mid \\text{data}_{\\le m}, T > m) \\propto
        p(D \\mid \\cdot)\\, P(T \\in b_j \\mid D, \\cdot)\\, L(\\text{markers}_{\\le m} \\mid D, T_j)

The dynamic oracle at month :math:`m` is :math:`P(T \\le 12 \\mid T > m, \\text{data up to } m)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import logsumexp

from oncofusion.data.simulate.crlm_markers import VisitData, marker_loglik_terms
from oncofusion.data.simulate.hazard import gauss_hermite

if TYPE_CHECKING:
    from oncofusion.data.simulate.crlm import CRLMModel

__all__ = ["SUBSETS", "crlm_oracle_risks"]

SUBSETS: tuple[str, ...] = ("clinical", "imaging", "markers", "all")
_BIN = 0.25
_CHUNK = 256


def _bins(model: CRLMModel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bin edges (J+1,), bin starts and ends (J+1,) incl. the tail, and representative times."""
    p = model.params
    top = p.horizon + p.markers.lead_time
    edges = np.arange(0.0, top + 1e-9, _BIN)
    lower = edges
    upper = np.r_[edges[1:], np.inf]
    mid = np.r_[(edges[:-1] + edges[1:]) / 2.0, np.inf]
    return edges, lower, upper, mid


def _cum_columns(p_t: np.ndarray, upper: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Cumulative probabilities :math:`P(T \\le t)` at ``months`` from bin probabilities."""
    cum = np.cumsum(p_t, axis=-1)
    idx = np.searchsorted(upper, months + 1e-9, side="right") - 1
    return cum[..., idx]


def _grid_posterior(
    log_prior: np.ndarray,
    d_grid: np.ndarray,
    log_pbin: np.ndarray,
    terms: Sequence[np.ndarray],
    lower: np.ndarray,
    landmark: float,
) -> np.ndarray:
    """Posterior bin probabilities of :math:`T` given :math:`T > m` and the marker terms.

    ``log_prior`` (n|1, G), ``d_grid`` (n|1, G), ``log_pbin`` (n|1, G, J); returns (n, J).
    """
    f1, f2, g, h = terms
    ll = log_prior + f1[:, None] * d_grid + f2[:, None] * d_grid**2  # (n, G)
    lp = ll[:, :, None] + log_pbin + g[:, None, :] + d_grid[:, :, None] * h[:, None, :]
    lp = np.where(lower[None, None, :] >= landmark - 1e-9, lp, -np.inf)
    lp_t = logsumexp(lp, axis=1)  # (n, J)
    return np.exp(lp_t - logsumexp(lp_t, axis=1, keepdims=True))


def _clinical(model: CRLMModel, z: np.ndarray, months: np.ndarray) -> np.ndarray:
    p = model.params
    x, w = gauss_hermite(32)
    eta = model.beta0 + (p.beta_clinical + p.beta_aggressiveness * p.rho) * z[:, None]
    eta = eta + p.beta_aggressiveness * np.sqrt(1 - p.rho**2) * x[None, :]
    cum = model.hazard.cumhaz(months)
    surv = np.exp(-np.exp(eta)[:, :, None] * cum[None, None, :])
    return 1.0 - np.einsum("nwt,w->nt", surv, w)


def _imaging(
    model: CRLMModel, u: np.ndarray, has_img: np.ndarray, months: np.ndarray
) -> np.ndarray:
    """:math:`P(T \\le t \\mid u_1, u_2)`; the population risk where no video was acquired."""
    p = model.params
    zq = model.z_nodes
    x, w = gauss_hermite(16)
    s2d, s2u = 1.0 - p.rho**2, p.imaging_noise**2
    ubar = u.mean(axis=1)
    v_post = 1.0 / (1.0 / s2d + 2.0 / s2u)
    cum = model.hazard.cumhaz(months)
    out = np.empty((u.shape[0], months.size))
    step = 64
    for s in range(0, u.shape[0], step):
        ub, hi = ubar[s : s + step], has_img[s : s + step]
        # weights of the z nodes given ubar: N(ubar; rho z, s2d + s2u / 2)
        logw = -((ub[:, None] - p.rho * zq[None, :]) ** 2) / (2.0 * (s2d + s2u / 2.0))
        logw = np.where(hi[:, None], logw, 0.0)
        wq = np.exp(logw - logsumexp(logw, axis=1, keepdims=True))
        m_post = v_post * (p.rho * zq[None, :] / s2d + 2.0 * ub[:, None] / s2u)
        mean = np.where(hi[:, None], m_post, p.rho * zq[None, :])
        sd = np.asarray(np.where(hi, np.sqrt(v_post), np.sqrt(s2d)))[:, None, None]
        eta = (
            model.beta0
            + p.beta_clinical * zq[None, :, None]
            + p.beta_aggressiveness * (mean[:, :, None] + sd * x[None, None, :])
        )
        surv = np.exp(-np.exp(eta)[..., None] * cum)  # (n, Q, W, t)
        out[s : s + step] = 1.0 - np.einsum("nqwt,nq,w->nt", surv, wq, w)
    return out


def _markers(model: CRLMModel, visits: VisitData, months: np.ndarray) -> np.ndarray:
    """:math:`P(T \\le t \\mid \\text{preoperative markers})`, clinical and imaging unknown."""
    p = model.params
    edges, lower, upper, mid = _bins(model)
    zq = model.z_nodes
    d = np.linspace(-6.0, 6.0, 81)
    s2d = 1.0 - p.rho**2
    # joint prior of (z_q, D): z uniform over nodes, D | z ~ N(rho z, s2d)
    log_joint = -((d[:, None] - p.rho * zq[None, :]) ** 2) / (2.0 * s2d)  # (G, Q)
    log_prior_d = logsumexp(log_joint, axis=1)
    w_zd = np.exp(log_joint - log_prior_d[:, None])  # p(z_q | D_g)
    eta = model.beta0 + p.beta_clinical * zq[None, :] + p.beta_aggressiveness * d[:, None]
    pbin = np.exp(model.hazard.log_bin_probs(eta, edges))  # (G, Q, J)
    log_pbin = np.log(np.einsum("gqj,gq->gj", pbin, w_zd) + 1e-300)[None]
    terms = marker_loglik_terms(p.markers, visits, 0.0, mid)
    out = np.empty((visits.time.shape[0], months.size))
    for s in range(0, out.shape[0], _CHUNK):
        sl = slice(s, s + _CHUNK)
        chunk = [t[sl] for t in terms]
        post = _grid_posterior(log_prior_d[None], d[None], log_pbin, chunk, lower, 0.0)
        out[sl] = _cum_columns(post, upper, months)
    return out


def _all_and_dynamic(
    model: CRLMModel,
    z: np.ndarray,
    u: np.ndarray,
    has_img: np.ndarray,
    visits: VisitData,
    months: np.ndarray,
    landmarks: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Baseline risk curve given everything, and the dynamic 12-month risk at each landmark."""
    p = model.params
    edges, lower, upper, mid = _bins(model)
    s2d, s2u = 1.0 - p.rho**2, p.imaging_noise**2
    v_img = 1.0 / (1.0 / s2d + 2.0 / s2u)
    m_img = v_img * (p.rho * z / s2d + 2.0 * u.mean(axis=1) / s2u)
    mean = np.where(has_img, m_img, p.rho * z)
    sd = np.asarray(np.where(has_img, np.sqrt(v_img), np.sqrt(s2d)))
    xg = np.linspace(-6.0, 6.0, 41)
    d_grid = mean[:, None] + sd[:, None] * xg[None, :]
    log_prior = np.broadcast_to(-(xg**2) / 2.0, d_grid.shape)
    terms_by_m = [marker_loglik_terms(p.markers, visits, float(m), mid) for m in landmarks]
    n = z.shape[0]
    curve = np.empty((n, months.size))
    dyn = np.empty((n, landmarks.size))
    in_horizon = upper <= p.horizon + 1e-9
    for s in range(0, n, _CHUNK):
        sl = slice(s, s + _CHUNK)
        eta = model.beta0 + p.beta_clinical * z[sl, None] + p.beta_aggressiveness * d_grid[sl]
        log_pbin = model.hazard.log_bin_probs(eta, edges)
        for i, m in enumerate(landmarks):
            terms = [t[sl] for t in terms_by_m[i]]
            post = _grid_posterior(log_prior[sl], d_grid[sl], log_pbin, terms, lower, float(m))
            dyn[sl, i] = post[:, in_horizon].sum(axis=1)
            if m == 0:
                curve[sl] = _cum_columns(post, upper, months)
    return curve, dyn


def crlm_oracle_risks(
    model: CRLMModel,
    z: np.ndarray,
    u: np.ndarray,
    has_imaging: np.ndarray,
    visits: VisitData,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Oracle cumulative risks at months 1..12 per modality subset, and the dynamic 12-month risk.

    Parameters
    ----------
    model
        The resolved CRLM model.
    z
        Standardised clinical risk scores, shape (n,).
    u
        Imaging factors :math:`(u_1, u_2)`, shape (n, 2).
    has_imaging
        Whether the CEUS examination exists (else the imaging oracle is the population risk).
    visits
        The observed marker visits.

    Returns
    -------
    risks : dict
        Subset name -> (n, 12) array :math:`P(T \\le t \\mid M)`, :math:`t = 1..12` months.
    dynamic : ndarray, shape (n, 13)
        :math:`P(T \\le 12 \\mid T > m, \\text{all data up to } m)` for :math:`m = 0..12`
        (for every patient; whether the patient is still at risk at :math:`m` is not checked).
    """
    months = np.arange(1.0, model.params.horizon + 0.5)
    landmarks = np.arange(0.0, model.params.horizon + 0.5)
    risks = {
        "clinical": _clinical(model, z, months),
        "imaging": _imaging(model, u, has_imaging, months),
        "markers": _markers(model, visits, months),
    }
    risks["all"], dynamic = _all_and_dynamic(model, z, u, has_imaging, visits, months, landmarks)
    risks = {k: np.clip(v, 0.0, 1.0) for k, v in risks.items()}
    return risks, np.clip(dynamic, 0.0, 1.0)
