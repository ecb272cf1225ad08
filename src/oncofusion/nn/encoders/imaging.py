"""Imaging encoder: ResNet with depthwise-separable downsampling and CBAM attention.

DMA-Net (§2.3, "Imaging branch"): an enhanced 3D-ResNet18 over the CEUS sequence
(C, T, H, W), where "we replace standard downsampling with depthwise separable
convolutions ... and introduce channel and spatial attention". MM-Care (§3.2.1): a
ResNet-3D with a spatial attention mechanism over the tumour ROI
:math:`I_{ROI} = I_{CT} \\odot M_{tumor}` (``use_segmentation=True``).

The layout follows :class:`monai.networks.nets.ResNet` (stem, four stages of basic
blocks, global pooling) and is dimension-agnostic (``spatial_dims`` 1-3); the network has
no classifier, its output is an embedding (``out_features``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from oncofusion.nn.encoders.attention import CBAM
from oncofusion.nn.layers import adaptive_avg_pool1d, make_act, make_norm, run_on_present
from oncofusion.nn.registries import ENCODERS

__all__ = ["AttentionBasicBlock", "DepthwiseSeparableConv", "ResNetEncoder"]


def _conv(spatial_dims: int) -> type[nn.Module]:
    from monai.networks.layers.factories import Conv

    return Conv[Conv.CONV, spatial_dims]


class DepthwiseSeparableConv(nn.Module):
    """Depthwise ``k^n`` convolution (``groups=in_channels``) then pointwise ``1^n``.

    .. math:: y = W_{pw} * (W_{dw} \\circledast_{\\text{per channel}} x)

    Parameters: ``C_in k^n + C_in C_out`` instead of ``C_in C_out k^n``
    (Howard et al., "MobileNets", 2017).
    """

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int = 3,
                 kernel_size: int = 3, stride: int | Sequence[int] = 2) -> None:
        super().__init__()
        conv = _conv(spatial_dims)
        self.depthwise = conv(in_channels, in_channels, kernel_size, stride=stride,
                              padding=kernel_size // 2, groups=in_channels, bias=False)
        self.pointwise = conv(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


class AttentionBasicBlock(nn.Module):
    """ResNet basic block with CBAM on the residual branch (Woo et al. 2018, Fig. 3).

    .. math:: y = \\mathrm{act}\\big(\\mathrm{CBAM}(\\mathrm{BN}(W_2 * \\mathrm{act}(\\mathrm{BN}(W_1 * x))))
              + \\mathrm{shortcut}(x)\\big)

    A downsampling block (``stride != 1``) uses :class:`DepthwiseSeparableConv` for
    :math:`W_1` when ``separable=True``; the shortcut is a strided pointwise convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int = 3,
                 stride: int | Sequence[int] = 1, separable: bool = True, attention: str = "cbam",
                 norm: str = "batch", act: str = "relu", reduction: int = 16,
                 attention_kernel: int = 7) -> None:
        super().__init__()
        conv = _conv(spatial_dims)
        downsample = any(s != 1 for s in (stride if isinstance(stride, Sequence) else [stride]))
        if downsample and separable:
            self.conv1: nn.Module = DepthwiseSeparableConv(in_channels, out_channels, spatial_dims, 3, stride)
        else:
            self.conv1 = conv(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.norm1 = make_norm(norm, out_channels, spatial_dims)
        self.act = make_act(act)
        self.conv2 = conv(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = make_norm(norm, out_channels, spatial_dims)
        self.attention = CBAM(out_channels, spatial_dims, attention, reduction, attention_kernel)
        self.shortcut: nn.Module = nn.Identity()
        if downsample or in_channels != out_channels:
            self.shortcut = nn.Sequential(conv(in_channels, out_channels, 1, stride=stride, bias=False),
                                          make_norm(norm, out_channels, spatial_dims))

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.norm1(self.conv1(x)))
        h = self.attention(self.norm2(self.conv2(h)))
        return self.act(h + self.shortcut(x))


@ENCODERS.register("resnet3d")
class ResNetEncoder(nn.Module):
    """ResNet-18-style image/video encoder with separable downsampling and attention.

    Parameters
    ----------
    in_channels
        Image channels ``C`` (1 for CEUS or CT).
    layers
        Basic blocks per stage; ``(2, 2, 2, 2)`` is ResNet-18.
    widths
        Channels per stage. Overridden by ``width``.
    width
        Base width: stage ``s`` gets ``width * 2**s`` channels (e.g. ``width=8`` gives
        ``(8, 16, 32, 64)``).
    spatial_dims
        2 or 3 (1 works too); the input is (B, C, *spatial).
    attention
        ``"cbam"`` (channel + spatial, DMA-Net), ``"spatial"`` (MM-Care), ``"channel"``
        or ``"none"``; applied in every residual block.
    separable_downsample
        Depthwise-separable strided convolutions in downsampling blocks (DMA-Net).
    temporal_downsample
        If False, no stride is applied along the first spatial axis (time for videos),
        so the temporal resolution survives for ``temporal_tokens``.
    temporal_tokens
        If set to ``K``, also return ``tokens`` (B, K, out_features): the last feature map
        averaged over the other axes, kept along the first axis, adaptively pooled to K.
    out_features
        Embedding size; a linear projection is added when it differs from ``widths[-1]``.
    norm, act
        Normalisation (``"batch"``, ``"instance"``, ``"group"``, ...) and activation.
    stem_kernel, stem_stride, max_pool
        The stem: ``stem_kernel^n`` convolution with ``stem_stride``, then a 3^n max-pool.
    dropout
        Dropout on the pooled features.
    position_channel
        Append the in-plane radial distance from the image centre,
        :math:`r = \\sqrt{y^2 + x^2}` with :math:`x, y \\in [-1, 1]`, as an extra input
        channel (CoordConv, Liu et al. 2018). For tumour-centred ROIs it tells the
        convolutions where the lesion, its rim and the surrounding tissue lie, which a
        translation-equivariant network otherwise infers only from padding effects.
    use_segmentation
        In :meth:`forward_batch`, multiply the image by ``imaging_seg`` (tumour ROI).
    modality
        The batch key read by :meth:`forward_batch`.

    Notes
    -----
    ``forward(x, mask=None)`` returns ``{"embedding": (B, D), "tokens": (B, K, D)`` if
    ``temporal_tokens``, ``"present": (B,) bool}``. Rows with ``mask`` False are not
    computed (0 placeholders). Grad-CAM: hook :attr:`target_layer` (the last stage;
    its name in ``named_modules()`` is :attr:`target_layer_name`).
    """

    def __init__(self, in_channels: int = 1, layers: Sequence[int] = (2, 2, 2, 2),
                 widths: Sequence[int] = (64, 128, 256, 512), width: int | None = None,
                 spatial_dims: int = 3, attention: str = "cbam", separable_downsample: bool = True,
                 temporal_downsample: bool = True, temporal_tokens: int | None = None,
                 out_features: int | None = None, norm: str = "batch", act: str = "relu",
                 reduction: int = 16, attention_kernel: int = 7, stem_kernel: int = 7,
                 stem_stride: int = 2, max_pool: bool = True, dropout: float = 0.0,
                 position_channel: bool = False, use_segmentation: bool = False,
                 modality: str = "imaging") -> None:
        super().__init__()
        if width is not None:
            widths = tuple(int(width) * 2**s for s in range(len(layers)))
        widths = tuple(int(w) for w in widths)
        if len(widths) != len(layers) or not layers:
            raise ValueError(f"layers {tuple(layers)} and widths {widths} must have the same, "
                             "non-zero length (one width per stage).")
        if temporal_tokens is not None and temporal_tokens < 1:
            raise ValueError(f"temporal_tokens must be >= 1 or None, got {temporal_tokens}.")
        self.in_channels, self.spatial_dims = int(in_channels), int(spatial_dims)
        self.temporal_tokens = temporal_tokens
        self.use_segmentation, self.modality = use_segmentation, modality
        self.position_channel = bool(position_channel)

        def stride(s: int) -> tuple[int, ...]:
            return (s if temporal_downsample else 1,) + (s,) * (self.spatial_dims - 1)

        conv = _conv(self.spatial_dims)
        stem: list[nn.Module] = [
            conv(self.in_channels + int(self.position_channel), widths[0], stem_kernel, stride=stride(stem_stride),
                 padding=stem_kernel // 2, bias=False),
            make_norm(norm, widths[0], self.spatial_dims), make_act(act)]
        if max_pool:
            from monai.networks.layers.factories import Pool

            stem.append(Pool[Pool.MAX, self.spatial_dims](3, stride=stride(2), padding=1))
        self.stem = nn.Sequential(*stem)
        stages = []
        channels = widths[0]
        for s, (n_blocks, w) in enumerate(zip(layers, widths)):
            blocks = []
            for b in range(int(n_blocks)):
                st = stride(2) if (s > 0 and b == 0) else stride(1)
                blocks.append(AttentionBasicBlock(channels, w, self.spatial_dims, st, separable_downsample,
                                                  attention, norm, act, reduction, attention_kernel))
                channels = w
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.out_features = int(out_features) if out_features is not None else widths[-1]
        self.proj: nn.Module = (nn.Linear(widths[-1], self.out_features)
                                if self.out_features != widths[-1] else nn.Identity())
        self.target_layer_name = f"stages.{len(stages) - 1}"

    @property
    def target_layer(self) -> nn.Module:
        """The last convolutional stage (its output is the Grad-CAM feature map)."""
        return self.stages[-1]

    def features(self, x: Tensor) -> Tensor:
        """The last stage's feature map (B, C_last, *spatial')."""
        if x.dim() != self.spatial_dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"imaging input must be (B, {self.in_channels}, *{self.spatial_dims} "
                             f"spatial dims), got {tuple(x.shape)}.")
        if self.position_channel:
            x = torch.cat([x, self._radius(x)], dim=1)
        h = self.stem(x)
        for stage in self.stages:
            h = stage(h)
        return h

    @staticmethod
    def _radius(x: Tensor) -> Tensor:
        """(B, 1, *spatial) in-plane distance from the centre of the last two axes."""
        h, w = x.shape[-2:] if x.dim() >= 4 else (1, x.shape[-1])
        ys = (torch.arange(h, device=x.device, dtype=x.dtype) + 0.5) / h * 2 - 1
        xs = (torch.arange(w, device=x.device, dtype=x.dtype) + 0.5) / w * 2 - 1
        r = torch.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
        if x.dim() < 4:
            r = r[0]
        return r.expand(x.shape[0], 1, *x.shape[2:])

    def _encode(self, x: Tensor) -> dict[str, Tensor]:
        fmap = self.features(x)
        out = {"embedding": self.proj(self.dropout(fmap.flatten(2).mean(-1)))}
        if self.temporal_tokens is not None:
            per_t = fmap.flatten(3).mean(-1) if fmap.dim() > 3 else fmap  # (B, C, T')
            tok = adaptive_avg_pool1d(per_t, self.temporal_tokens).transpose(1, 2)
            out["tokens"] = self.proj(self.dropout(tok))
        return out

    def _placeholder(self, batch: int, like: Tensor) -> dict[str, Tensor]:
        out = {"embedding": like.new_zeros(batch, self.out_features)}
        if self.temporal_tokens is not None:
            out["tokens"] = like.new_zeros(batch, self.temporal_tokens, self.out_features)
        return out

    def forward(self, x: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        """Encode ``x`` (B, C, *spatial); rows with ``mask`` False are skipped."""
        out = run_on_present(self._encode, mask, x, placeholder=lambda b: self._placeholder(b, x))
        present = torch.ones(x.shape[0], dtype=torch.bool, device=x.device) if mask is None else mask.bool()
        out["present"] = present
        if "tokens" in out:
            out["token_mask"] = present[:, None].expand(-1, out["tokens"].shape[1])
        return out

    def forward_batch(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        """Encode the ``imaging`` entry of a collated batch (docs/internals.md)."""
        x = batch[self.modality]
        if self.use_segmentation:
            x = x * batch[f"{self.modality}_seg"]
        return self(x, batch["modality_mask"][self.modality])
