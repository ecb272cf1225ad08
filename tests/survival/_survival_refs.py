"""Independent reference implementations for the survival-loss tests.

Written from the papers / pycox source as loops or dense matrices, deliberately unlike
the vectorised code under test. pycox is not installed: its formulas are transcribed
here (pycox/models/loss.py, pycox/models/data.py) with a note where indices differ.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import expit, logsumexp


def discrete_nll_loop(logits: np.ndarray, idx: np.ndarray, event: np.ndarray) -> np.ndarray:
    """DMA-Net §2.3 L_NLL per sample, by loops: r_i(k) = 1 for k < idx_i, and at idx_i if event."""
    n, k = logits.shape
    out = np.zeros(n)
    for i in range(n):
        for j in range(k):
            at_risk = j < idx[i] or (j == idx[i] and event[i] == 1)
            if not at_risk:
                continue
            h = expit(logits[i, j])
            y = 1.0 if (j == idx[i] and event[i] == 1) else 0.0
            out[i] -= y * np.log(h) + (1 - y) * np.log1p(-h)
    return out


def pycox_nll_logistic_hazard(
    phi: torch.Tensor, idx_durations: torch.Tensor, events: torch.Tensor
) -> torch.Tensor:
    """pycox.models.loss.nll_logistic_hazard with reduction='none' (transcribed).

    pycox indexes cut points, not intervals: output 0 belongs to t <= c_0, an event in
    (c_{j-1}, c_j] has index j, a censoring in [c_j, c_{j+1}) index j.
    """
    events = events.float().view(-1, 1).to(phi.dtype)
    idx_durations = idx_durations.view(-1, 1)
    y_bce = torch.zeros_like(phi).scatter(1, idx_durations, events)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(phi, y_bce, reduction="none")
    return bce.cumsum(1).gather(1, idx_durations).view(-1)


def cox_nll_quadratic(time, event, log_hz, ties="efron", strata=None) -> float:
    """Negative partial log-likelihood by explicit risk sets (O(n^2)), in log space."""
    time = np.asarray(time, float)
    event = np.asarray(event).astype(bool)
    x = np.asarray(log_hz, float)
    strata = np.zeros(len(time)) if strata is None else np.asarray(strata)
    total = 0.0
    for s in np.unique(strata):
        m = strata == s
        t_s, e_s, x_s = time[m], event[m], x[m]
        for tg in np.unique(t_s[e_s]):
            tied = (t_s == tg) & e_s
            risk = t_s >= tg
            log_d = logsumexp(x_s[risk])
            mg = tied.sum()
            total += x_s[tied].sum()
            if ties == "breslow":
                total -= mg * log_d
            else:
                log_e = logsumexp(x_s[tied])
                for r in range(mg):
                    # log(D - r/m E) = log D + log(1 - r/m E/D)
                    total -= log_d + np.log1p(-(r / mg) * np.exp(log_e - log_d))
    return -total


def pycox_pair_rank_mat(idx_durations: np.ndarray, events: np.ndarray) -> np.ndarray:
    """pycox.models.data._pair_rank_mat (transcribed), on pycox's cut indices."""
    n = len(idx_durations)
    mat = np.zeros((n, n))
    for i in range(n):
        if events[i] == 0:
            continue
        for j in range(n):
            if idx_durations[i] < idx_durations[j] or (
                idx_durations[i] == idx_durations[j] and events[j] == 0
            ):
                mat[i, j] = 1
    return mat


def to_pycox_index(idx: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Our interval index -> pycox's cut index (events move one up; see the docstring above)."""
    return np.where(np.asarray(event) > 0, idx + 1, idx)


def pycox_rank_loss(
    pmf: torch.Tensor, idx: np.ndarray, rank_mat: np.ndarray, sigma: float
) -> torch.Tensor:
    """pycox.models.loss._rank_loss_deephit (reduction 'none'), pmf over our K intervals.

    y is the one-hot of each sample's own interval (pycox's _diff_cdf_at_time_i).
    """
    n = pmf.shape[0]
    y = torch.zeros_like(pmf)
    cols = torch.as_tensor(np.minimum(idx, pmf.shape[1] - 1))
    y[torch.arange(n), cols] = 1.0
    ones = torch.ones((n, 1), dtype=pmf.dtype)
    r = pmf.cumsum(1).matmul(y.transpose(0, 1))
    diag_r = r.diag().view(1, -1)
    r = (ones.matmul(diag_r) - r).transpose(0, 1)
    loss = torch.as_tensor(rank_mat, dtype=pmf.dtype) * torch.exp(-r / sigma)
    return loss.mean(1)


def deephit_single_reference(
    logits: torch.Tensor, idx: np.ndarray, event: np.ndarray, sigma: float
) -> tuple:
    """pycox nll_pmf + rank_loss_deephit_single ('none'), without pycox's 1e-7 log epsilon.

    Returns (nll per sample, rank per sample), with pmf = softmax([logits, 0]).
    """
    phi = torch.nn.functional.pad(logits, (0, 1))
    pmf = phi.softmax(1)
    n = logits.shape[0]
    nll = torch.zeros(n, dtype=logits.dtype)
    for i in range(n):
        if event[i]:
            nll[i] = -torch.log(pmf[i, idx[i]])
        else:
            nll[i] = -torch.log(1 - pmf[i, : idx[i]].sum())
    rank_mat = pycox_pair_rank_mat(to_pycox_index(idx, event), event)
    rank = pycox_rank_loss(pmf[:, :-1], idx, rank_mat, sigma)
    return nll, rank


def deephit_cr_reference(
    logits: torch.Tensor, idx: np.ndarray, event_type: np.ndarray, sigma: float
) -> tuple:
    """pycox nll_pmf_cr + rank_loss_deephit_cr ('none', no log epsilon), transcribed."""
    n, n_risks, k = logits.shape
    sm = (
        torch.nn.functional.pad(logits.reshape(n, -1), (0, 1))
        .softmax(1)[:, :-1]
        .reshape(n, n_risks, k)
    )
    nll = torch.zeros(n, dtype=logits.dtype)
    for i in range(n):
        if event_type[i] > 0:
            nll[i] = -torch.log(sm[i, event_type[i] - 1, idx[i]])
        else:
            nll[i] = -torch.log(1 - sm[i, :, : idx[i]].sum())
    rank_mat = pycox_pair_rank_mat(
        to_pycox_index(idx, event_type > 0), (event_type > 0).astype(int)
    )
    rank = torch.zeros(n, dtype=logits.dtype)
    for r in range(n_risks):
        rank = rank + pycox_rank_loss(sm[:, r, :], idx, rank_mat, sigma) * torch.as_tensor(
            event_type == r + 1
        )
    return nll, rank
