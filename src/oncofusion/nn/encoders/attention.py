"""Convolutional block attention (CBAM) for N-dimensional feature maps.

Woo, Park, Lee & Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018:

.. math::
    M_c(F) = \\sigma\\big(\\mathrm{MLP}(\\mathrm{AvgPool}(F)) + \\mathrm{MLP}(\\mathrm{MaxPool}(F))\\big),
    \\qquad F' = M_c(F) \\odot F,

.. math::
    M_s(F') = \\sigma\\big(f^{k}([\\mathrm{AvgPool}_c(F'); \\mathrm{MaxPool}_c(F')])\\big),
    \\qquad F'' = M_s(F') \\odot F',

where the pools of :math:`M_c` run over all spatial positions and those of :math:`M_s`
over channels, and :math:`f^k` is a ``k^n`` convolution. MM-Care uses the spatial part
only (``mode="spatial"``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from oncofusion.registry import look_up_option

__all__ = ["ATTENTION_MODES", "CBAM", "ChannelAttention", "SpatialAttention"]

ATTENTION_MODES = ("cbam", "spatial", "channel", "none")


class ChannelAttention(nn.Module):
    """Channel gate :math:`M_c` of CBAM (shared MLP with reduction ``reduction``)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(2)
        gate = self.mlp(flat.mean(-1)) + self.mlp(flat.amax(-1))
        shape = gate.shape + (1,) * (x.dim() - 2)
        return x * gate.sigmoid().view(shape)


class SpatialAttention(nn.Module):
    """Spatial gate :math:`M_s` of CBAM; the last map is kept in ``last_map`` for inspection."""

    def __init__(self, spatial_dims: int = 3, kernel_size: int = 7) -> None:
        super().__init__()
        from monai.networks.layers.factories import Conv

        if kernel_size % 2 != 1:
            raise ValueError(f"attention kernel_size must be odd, got {kernel_size}.")
        self.conv = Conv[Conv.CONV, spatial_dims](2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.last_map: Tensor | None = None  # (N, 1, *spatial), detached

    def forward(self, x: Tensor) -> Tensor:
        desc = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        gate = self.conv(desc).sigmoid()
        self.last_map = gate.detach()
        return x * gate


class CBAM(nn.Module):
    """Channel then spatial attention, or either alone (``mode``), or identity (``"none"``)."""

    def __init__(self, channels: int, spatial_dims: int = 3, mode: str = "cbam",
                 reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        mode = look_up_option(mode, list(ATTENTION_MODES), what="attention mode")
        self.mode = mode
        self.channel = ChannelAttention(channels, reduction) if mode in ("cbam", "channel") else None
        self.spatial = SpatialAttention(spatial_dims, kernel_size) if mode in ("cbam", "spatial") else None

    def forward(self, x: Tensor) -> Tensor:
        if self.channel is not None:
            x = self.channel(x)
        if self.spatial is not None:
            x = self.spatial(x)
        return x
