"""Landmark augmentation: train hazards that are conditional on data up to a landmark.

For dynamic prediction (risk refreshed after each follow-up visit) the network must see
histories truncated at many times. :class:`LandmarkAugmentedDataset` serves each training
patient either at the baseline landmark or, with probability ``p``, at a random later
landmark ``s`` drawn among those the patient is known to have survived (``time > s``),
with its biomarker visits truncated at ``s`` and ``entry_index`` set so the likelihood is
left-truncated at ``s`` (:func:`oncofusion.survival.losses.discrete_nll`). This is the
landmarking idea of van Houwelingen (2007) applied to a neural hazard model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["LandmarkAugmentedDataset", "truncate_visits", "entry_interval"]


def entry_interval(cuts: np.ndarray, landmark: float) -> int:
    """Number of whole intervals ``(c_k, c_{k+1}]`` that end at or before ``landmark``."""
    return int(max(np.searchsorted(cuts, landmark, side="right") - 1, 0))


def truncate_visits(sample: dict[str, Any], landmark: float) -> dict[str, Any]:
    """A copy of ``sample`` keeping only biomarker visits at times ``<= landmark``."""
    out = dict(sample)
    times = sample["biomarker_times"]
    keep = times <= landmark + 1e-9
    out["biomarkers"] = sample["biomarkers"][keep]
    out["biomarker_times"] = times[keep]
    out["biomarker_observed"] = sample["biomarker_observed"][keep]
    mask = dict(sample["modality_mask"])
    mask["biomarkers"] = mask["biomarkers"] & torch.tensor(bool(keep.any()))
    out["modality_mask"] = mask
    return out


class LandmarkAugmentedDataset(Dataset):
    """Wrap a :class:`~oncofusion.data.PatientDataset` with random landmark truncation.

    Parameters
    ----------
    base
        The dataset of training patients (serving all their visits).
    cuts
        The discretizer's cuts (for ``entry_index``).
    baseline
        The baseline landmark: data up to it count as "at baseline" (0 = preoperative).
    landmarks
        Candidate later landmarks (in the cohort's time unit).
    p
        Probability of serving a sample at a later landmark (when one is available).

    seed
        Seed of the draws.

    Notes
    -----
    The draw for patient ``i`` in epoch ``e`` comes from a generator seeded with
    ``(seed, e, i)``; the epoch is read from the batch sampler bound with
    :meth:`bind_epoch_source` (Lightning sets it before each epoch). Draws therefore do not
    depend on the order batches are fetched in, and a run resumed from a checkpoint repeats
    exactly the draws of an uninterrupted one.
    """

    def __init__(
        self,
        base: Dataset,
        cuts: np.ndarray,
        *,
        baseline: float = 0.0,
        landmarks: Sequence[float] = (),
        p: float = 0.5,
        seed: int = 0,
    ) -> None:
        self.base = base
        self.seed = int(seed)
        self._epoch_source: Any = None
        self.cuts = np.asarray(cuts, dtype=np.float64)
        self.baseline = float(baseline)
        self.landmarks = np.asarray(sorted(float(s) for s in landmarks if s > baseline), dtype=np.float64)
        self.p = float(p)

    def bind_epoch_source(self, source: Any) -> None:
        """Read the current epoch from ``source.epoch`` (the batch sampler)."""
        self._epoch_source = source

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = self.base[i]
        s = self.baseline
        time = float(sample["time"])
        options = self.landmarks[self.landmarks < time]
        epoch = int(getattr(self._epoch_source, "epoch", 0))
        rng = np.random.default_rng([self.seed, epoch, int(i)])
        if options.size and rng.random() < self.p:
            s = float(options[rng.integers(options.size)])
        out = truncate_visits(sample, s)
        out["entry_index"] = torch.tensor(entry_interval(self.cuts, s) if s > self.baseline else 0)
        out["landmark"] = torch.tensor(s, dtype=torch.float32)
        return out
