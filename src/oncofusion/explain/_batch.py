"""Batch plumbing shared by the explainers: row selection, repetition, evaluation mode.

A batch is the dict of ``collate_patients`` (``docs/internals.md``): tensors with a leading
batch axis, ``modality_mask`` a dict of (B,) bool tensors, ``patient_id`` a list of str.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from oncofusion.errors import ConfigError

__all__ = [
    "batch_size",
    "evaluating",
    "patient_ids",
    "repeat_rows",
    "select_rows",
    "with_modality_masked",
]


def batch_size(batch: Mapping[str, Any]) -> int:
    """Number of patients B of a collated batch (from its ``modality_mask``)."""
    if "modality_mask" not in batch or not batch["modality_mask"]:
        raise ConfigError(
            "the batch has no 'modality_mask'; build it with oncofusion.data.collate_patients."
        )
    first = next(iter(batch["modality_mask"].values()))
    return int(torch.as_tensor(first).reshape(-1).shape[0])


def patient_ids(batch: Mapping[str, Any]) -> list[str]:
    """The batch's patient ids (``p0, p1, ...`` when it has none)."""
    ids = batch.get("patient_id")
    n = batch_size(batch)
    if ids is None:
        return [f"p{i}" for i in range(n)]
    return [str(i) for i in ids]


def _index(value: Any, rows: torch.Tensor, n: int) -> Any:
    if isinstance(value, torch.Tensor) and value.dim() >= 1 and value.shape[0] == n:
        return value.index_select(0, rows.to(value.device))
    if isinstance(value, Mapping):
        return {k: _index(v, rows, n) for k, v in value.items()}
    if isinstance(value, list) and len(value) == n:
        return [value[int(i)] for i in rows]
    return value


def select_rows(batch: Mapping[str, Any], rows: Sequence[int] | torch.Tensor) -> dict[str, Any]:
    """The sub-batch of the given row indices (order kept; repeats allowed).

    Every tensor with a leading axis of size B, the ``modality_mask`` entries and list
    entries (``patient_id``) are indexed; anything else is passed through.
    """
    n = batch_size(batch)
    idx = torch.as_tensor(
        list(rows) if not isinstance(rows, torch.Tensor) else rows, dtype=torch.long
    )
    if idx.numel() and (int(idx.min()) < -n or int(idx.max()) >= n):
        raise ConfigError(f"row indices {idx.tolist()} out of range for a batch of {n} patients.")
    idx = idx % max(n, 1)
    return {k: _index(v, idx, n) for k, v in batch.items()}


def repeat_rows(batch: Mapping[str, Any], row: int, times: int) -> dict[str, Any]:
    """A batch of ``times`` copies of patient ``row`` (for perturbation-based explainers)."""
    return select_rows(batch, torch.full((int(times),), int(row), dtype=torch.long))


def with_modality_masked(batch: Mapping[str, Any], modality: str) -> dict[str, Any]:
    """A shallow copy of ``batch`` where ``modality`` is missing for every patient.

    Only the mask bit changes (the contract: a missing modality is a mask bit, never a
    zero tensor), so encoders and fusions treat the modality as absent.
    """
    mask = dict(batch["modality_mask"])
    if modality not in mask:
        raise ConfigError(
            f"the batch has no modality '{modality}' in modality_mask (has {sorted(mask)})."
        )
    mask[modality] = torch.zeros_like(torch.as_tensor(mask[modality]), dtype=torch.bool)
    return {**batch, "modality_mask": mask}


@contextlib.contextmanager
def evaluating(network: nn.Module) -> Iterator[nn.Module]:
    """Put ``network`` in evaluation mode (dropout off, batch-norm running statistics) and
    restore every submodule's previous mode afterwards."""
    modes = {m: m.training for m in network.modules()}
    network.eval()
    try:
        yield network
    finally:
        for module, mode in modes.items():
            module.training = mode
