"""Encoders of fixed-length vectors: clinical variables (and genomics without a graph).

* ``gated_mlp`` (DMA-Net §2.3, "Clinical branch"): a learnable feature gate
  :math:`g = \\sigma(W_g c + b_g)`, :math:`c' = g \\odot c`, then an MLP with dropout.
* ``mlp`` (MM-Care §3.2.2, eq. 4-6): :math:`H^{(l+1)} = \\sigma(\\mathrm{BN}(W_l H^{(l)} + b_l))`
  with three hidden layers, then :math:`F = W_L H^{(L)} + b_L`.
* ``genomic_mlp``: the ``mlp`` reading the ``genomics`` entry (the fallback of ``gcn``
  when no gene graph is given).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from oncofusion.nn.layers import make_mlp, run_on_present
from oncofusion.nn.registries import ENCODERS

__all__ = ["GatedMLPEncoder", "GenomicMLPEncoder", "MLPEncoder"]


class _VectorEncoder(nn.Module, abc.ABC):
    """Shared plumbing: input check, masked rows, ``forward_batch``."""

    in_features: int
    out_features: int
    modality: str

    @abc.abstractmethod
    def _encode(self, x: Tensor) -> dict[str, Tensor]:
        """The embedding of the present rows ``x`` (each encoder defines it)."""

    def _placeholder(self, batch: int, like: Tensor) -> dict[str, Tensor]:
        return {"embedding": like.new_zeros(batch, self.out_features)}

    def forward(self, x: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        """Encode ``x`` (B, F); rows with ``mask`` False are skipped (zeros)."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"{self.modality} input must be (B, {self.in_features}), got {tuple(x.shape)}.")
        out = run_on_present(self._encode, mask, x, placeholder=lambda b: self._placeholder(b, x))
        out["present"] = (torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
                          if mask is None else mask.bool())
        return out

    def forward_batch(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        """Encode the ``modality`` entry of a collated batch (docs/internals.md)."""
        return self(batch[self.modality], batch["modality_mask"][self.modality])


@ENCODERS.register("mlp")
class MLPEncoder(_VectorEncoder):
    """MLP encoder (MM-Care clinical branch).

    Parameters
    ----------
    in_features
        Input size ``F``.
    hidden
        Hidden widths; MM-Care uses three hidden layers.
    out_features
        Embedding size.
    norm
        ``"batch"`` (MM-Care), ``"layer"`` or ``"none"``.
    act
        ``"relu"`` or ``"gelu"`` (or any MONAI activation name).
    dropout
        Dropout after every hidden layer.
    modality
        Batch key read by :meth:`forward_batch` (``clinical``).

    Notes
    -----
    ``forward(x, mask=None)`` -> ``{"embedding": (B, out_features), "present": (B,)}``.
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (64, 64, 64), out_features: int = 32,
                 norm: str | None = "batch", act: str = "relu", dropout: float = 0.1,
                 modality: str = "clinical") -> None:
        super().__init__()
        self.in_features, self.out_features, self.modality = int(in_features), int(out_features), modality
        self.mlp = make_mlp(self.in_features, hidden, self.out_features, act=act, norm=norm, dropout=dropout)

    def _encode(self, x: Tensor) -> dict[str, Tensor]:
        return {"embedding": self.mlp(x)}


@ENCODERS.register("gated_mlp")
class GatedMLPEncoder(_VectorEncoder):
    """Feature-gated MLP encoder (DMA-Net clinical branch).

    .. math:: g = \\sigma(W_g c + b_g), \\quad c' = g \\odot c, \\quad z_{cli} = \\mathrm{MLP}(c')

    Parameters
    ----------
    in_features
        Clinical vector size ``F``.
    hidden
        Hidden widths of the MLP.
    out_features
        Embedding size.
    dropout
        Dropout after every hidden layer (DMA-Net: 0.2).
    act, norm
        Activation and normalisation of the hidden layers (DMA-Net: ReLU, none).
    modality
        Batch key read by :meth:`forward_batch`.

    Notes
    -----
    ``forward(x, mask=None)`` -> ``{"embedding": (B, D), "gate": (B, F), "present": (B,)}``;
    ``gate`` is :math:`g` (for explanations: which variables pass).
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (64,), out_features: int = 32,
                 dropout: float = 0.2, act: str = "relu", norm: str | None = None,
                 modality: str = "clinical") -> None:
        super().__init__()
        self.in_features, self.out_features, self.modality = int(in_features), int(out_features), modality
        self.gate = nn.Linear(self.in_features, self.in_features)
        self.mlp = make_mlp(self.in_features, hidden, self.out_features, act=act, norm=norm, dropout=dropout)

    def _encode(self, x: Tensor) -> dict[str, Tensor]:
        g = torch.sigmoid(self.gate(x))
        return {"embedding": self.mlp(g * x), "gate": g}

    def _placeholder(self, batch: int, like: Tensor) -> dict[str, Tensor]:
        return {"embedding": like.new_zeros(batch, self.out_features),
                "gate": like.new_zeros(batch, self.in_features)}


@ENCODERS.register("genomic_mlp")
class GenomicMLPEncoder(MLPEncoder):
    """:class:`MLPEncoder` on the gene vector (``gcn`` without a gene graph).

    Parameters are those of :class:`MLPEncoder` with ``n_genes`` for ``in_features``.
    """

    def __init__(self, n_genes: int, hidden: Sequence[int] = (64, 64), out_features: int = 32,
                 norm: str | None = "batch", act: str = "relu", dropout: float = 0.1,
                 modality: str = "genomics") -> None:
        super().__init__(n_genes, hidden, out_features, norm, act, dropout, modality)
