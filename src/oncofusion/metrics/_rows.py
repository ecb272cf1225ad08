"""The base of the many-resample evaluators of the IPCW metrics
(:class:`~oncofusion.metrics.auc.AUCRows`, :class:`~oncofusion.metrics.brier.BrierRows`)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FollowUpRows"]


class FollowUpRows:
    """Checked inputs ``p`` (``time``, ``times``, ``train``) and the follow-up sorted once, for
    evaluating a metric under many case-weight vectors (one row per resample).

    ``inv`` (only without a censoring reference, ``p.train is None``) maps each sample to
    its distinct time, to read per-row Kaplan-Meier estimates at the samples.
    """

    def __init__(self, p: Any) -> None:
        self.p = p
        t = p.time
        self.t_order = np.argsort(t, kind="stable")
        self.t_sorted = t[self.t_order]
        if p.train is None:
            self.inv = np.unique(t, return_inverse=True)[1]

    def _follow_up_valid(self, w: np.ndarray) -> np.ndarray:
        """Rows of ``w`` whose resampled follow-up [min y, max y[ contains all ``times``."""
        times = self.p.times
        present = w[:, self.t_order] > 0
        first = np.argmax(present, axis=1)
        last = present.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1)
        return (
            (self.t_sorted[first] <= times[0])
            & (self.t_sorted[last] > times[-1])
            & present.any(axis=1)
        )
