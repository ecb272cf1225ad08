"""Common input handling of every fusion.

A fusion is built for a fixed set of modalities, ``dims = {modality: embedding size}``,
and called as ``fusion(features, mask)``:

* ``features[m]`` is an encoder output dict (``embedding`` (B, d_m), optionally
  ``tokens`` (B, L, d_m), ``token_mask`` (B, L) and ``present`` (B,)) or a bare
  (B, d_m) embedding tensor;
* ``mask[m]`` is the (B,) bool modality mask of the batch (docs/internals.md).

:meth:`FusionBase.prepare` checks shapes, ANDs the batch mask with the encoder's own
``present`` flag, and replaces the content of masked-out rows (and invalid tokens) with
``torch.where`` before any arithmetic, so a missing modality cannot influence the output.
Fusions return at least ``{"embedding": (B, out_features)}`` plus an ``attention`` dict
of explanation tensors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from oncofusion.nn.layers import fill_masked

__all__ = ["FusionBase", "ModalityInput"]


@dataclass
class ModalityInput:
    """One modality, sanitised: masked rows and invalid tokens hold zeros, never data."""

    embedding: Tensor  # (B, d)
    present: Tensor  # (B,) bool
    tokens: Tensor | None = None  # (B, L, d)
    token_mask: Tensor | None = None  # (B, L) bool, False for absent rows


class FusionBase(nn.Module):
    """Base class: stores ``dims``/``modalities`` and prepares inputs."""

    out_features: int

    def __init__(self, dims: Mapping[str, int]) -> None:
        super().__init__()
        if not dims:
            raise ValueError("a fusion needs at least one modality in `dims` ({modality: size}).")
        bad = [m for m in dims if not isinstance(m, str) or "." in m or not m]
        if bad:
            raise ValueError(f"modality names must be non-empty strings without '.', got {bad}.")
        self.dims = {m: int(d) for m, d in dims.items()}
        self.modalities = tuple(self.dims)

    def prepare(self, features: Mapping[str, Any], mask: Mapping[str, Tensor]) -> dict[str, ModalityInput]:
        """Check and sanitise ``features``/``mask`` (see the module docstring)."""
        out: dict[str, ModalityInput] = {}
        batch = None
        for m in self.modalities:
            if m not in features:
                raise ValueError(f"fusion input lacks modality '{m}' (built for {list(self.modalities)}); "
                                 "pass every modality, with mask False where it is missing.")
            if m not in mask:
                raise ValueError(f"modality mask lacks '{m}'; expected keys {list(self.modalities)}.")
            f = features[m]
            emb = f if torch.is_tensor(f) else f["embedding"]
            if emb.dim() != 2 or emb.shape[1] != self.dims[m]:
                raise ValueError(f"embedding of '{m}' must be (B, {self.dims[m]}), got {tuple(emb.shape)}.")
            batch = emb.shape[0] if batch is None else batch
            if emb.shape[0] != batch:
                raise ValueError(f"modality '{m}' has batch size {emb.shape[0]}, others {batch}.")
            present = mask[m].to(device=emb.device, dtype=torch.bool).reshape(batch)
            if not torch.is_tensor(f) and f.get("present") is not None:
                present = present & f["present"].to(device=emb.device, dtype=torch.bool)
            item = ModalityInput(fill_masked(emb, present), present)
            if not torch.is_tensor(f) and f.get("tokens") is not None:
                tok = f["tokens"]
                if tok.dim() != 3 or tok.shape[0] != batch or tok.shape[2] != self.dims[m]:
                    raise ValueError(f"tokens of '{m}' must be (B, L, {self.dims[m]}), got {tuple(tok.shape)}.")
                tm = f.get("token_mask")
                tm = (torch.ones(tok.shape[:2], dtype=torch.bool, device=tok.device) if tm is None
                      else tm.to(device=tok.device, dtype=torch.bool))
                tm = tm & present[:, None]
                item.tokens, item.token_mask = fill_masked(tok, tm), tm
            out[m] = item
        return out

    @staticmethod
    def stack_present(inputs: Mapping[str, ModalityInput], names: tuple[str, ...]) -> Tensor:
        """(B, n) bool presence of the modalities ``names``."""
        return torch.stack([inputs[m].present for m in names], dim=1)
