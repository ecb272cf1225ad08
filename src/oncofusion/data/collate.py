"""``collate_patients``: stack patient samples into a batch (``docs/internals.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["collate_patients"]

_SEQUENCE_KEYS = ("biomarkers", "biomarker_times", "biomarker_observed")


def collate_patients(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack samples from :class:`~oncofusion.data.dataset.PatientDataset` on a batch axis.

    Biomarker sequences are right-padded to the longest in the batch, ``Lmax``:
    ``biomarkers`` ``(B, Lmax, M)``, ``biomarker_times`` ``(B, Lmax)``,
    ``biomarker_observed`` ``(B, Lmax, M)``, and ``biomarker_valid`` ``(B, Lmax)`` marks the
    real visits. Padding is 0 (values, times) and False (observed, valid).

    **A batch where nobody has a visit** keeps one padded step, ``Lmax = 1``: shapes
    ``(B, 1, M)`` with ``biomarker_valid`` all False, so sequence encoders never see a
    zero-length axis; they must read ``biomarker_valid`` / ``modality_mask``.

    ``modality_mask`` becomes a dict of ``(B,)`` bool tensors; ``patient_id`` a list of str.
    When only some samples carry ``imaging_seg``, the others get zeros and ``has_seg`` False.
    Every other tensor is stacked as is.
    """
    if len(samples) == 0:
        raise ValueError("collate_patients needs at least one sample")
    batch: dict[str, Any] = {"patient_id": [str(s["patient_id"]) for s in samples]}

    lengths = [int(s["biomarker_times"].shape[0]) for s in samples]
    n_batch, l_max = len(samples), max(1, *lengths)
    n_markers = int(samples[0]["biomarkers"].shape[-1])
    values = torch.zeros(n_batch, l_max, n_markers, dtype=torch.float32)
    times = torch.zeros(n_batch, l_max, dtype=torch.float32)
    observed = torch.zeros(n_batch, l_max, n_markers, dtype=torch.bool)
    valid = torch.zeros(n_batch, l_max, dtype=torch.bool)
    for b, (s, n) in enumerate(zip(samples, lengths, strict=True)):
        values[b, :n] = s["biomarkers"]
        times[b, :n] = s["biomarker_times"]
        observed[b, :n] = s["biomarker_observed"]
        valid[b, :n] = True
    batch.update(
        biomarkers=values, biomarker_times=times, biomarker_observed=observed, biomarker_valid=valid
    )

    batch["modality_mask"] = {
        k: torch.stack([s["modality_mask"][k] for s in samples])
        for k in samples[0]["modality_mask"]
    }

    if any("imaging_seg" in s for s in samples):
        ref = next(s["imaging_seg"] for s in samples if "imaging_seg" in s)
        batch["imaging_seg"] = torch.stack(
            [s.get("imaging_seg", torch.zeros_like(ref)) for s in samples]
        )
        batch["has_seg"] = torch.stack(
            [
                s.get("has_seg", torch.tensor(False)) if "imaging_seg" in s else torch.tensor(False)
                for s in samples
            ]
        )

    done = {"patient_id", "modality_mask", "imaging_seg", "has_seg", *_SEQUENCE_KEYS}
    for key, first in samples[0].items():
        if key in done:
            continue
        if isinstance(first, torch.Tensor):
            batch[key] = torch.stack([s[key] for s in samples])
        else:
            batch[key] = [s[key] for s in samples]
    return batch
