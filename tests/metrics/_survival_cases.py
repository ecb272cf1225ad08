"""Generators of small survival data sets with the edge cases metrics get wrong.

Named cases (after torchsurv's edge-case generator): heavy ties in time and risk, ties between
events and censorings, all censored but one, a single event at the last time, test follow-up
past the training follow-up.
"""

from __future__ import annotations

import numpy as np

CASE_NAMES = (
    "continuous",
    "heavy_time_ties",
    "heavy_risk_ties",
    "event_censor_ties",
    "all_censored_but_one",
    "almost_tied_risk",
    "few_samples",
)


def make_case(name: str, seed: int, n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time, event, risk) for a named edge case; risk is higher-is-worse and informative."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t_true = rng.exponential(np.exp(-0.7 * x) * 10)
    c = rng.exponential(12, n)
    time = np.minimum(t_true, c)
    event = t_true <= c
    risk = x + 0.5 * rng.normal(size=n)
    if name == "heavy_time_ties":
        time = np.ceil(time / 4) * 4
    elif name == "heavy_risk_ties":
        risk = np.round(risk)
    elif name == "event_censor_ties":
        time = np.ceil(time)
        time[: n // 4] = time[n // 4 : n // 2]  # copy times onto other samples
        event[: n // 4] = ~event[n // 4 : n // 2]
        risk = np.round(risk, 1)
    elif name == "all_censored_but_one":
        event[:] = False
        event[int(np.argmin(time))] = True
    elif name == "almost_tied_risk":
        risk = np.round(risk) + rng.uniform(-4e-9, 4e-9, n)
    elif name == "few_samples":
        time, event, risk = time[:6], event[:6], risk[:6]
        event[0] = True
    if not event.any():
        event[int(np.argmin(time))] = True
    return time.astype(float), event, risk


def make_train(seed: int, n: int = 80, scale: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """An independent training sample (the censoring reference)."""
    rng = np.random.default_rng(10_000 + seed)
    t_true = rng.exponential(10, n)
    c = rng.exponential(scale, n)
    return np.minimum(t_true, c), t_true <= c
