"""Layers shared by encoders, fusions and heads.

Layer factories follow MONAI (:mod:`monai.networks.layers.factories`): an activation or
normalisation is named by a string (``"relu"``, ``"gelu"``, ``"batch"``, ``"layer"``, ...)
and built for a number of spatial dimensions, so networks stay dimension-agnostic.

Masking helpers implement the rule of ``docs/internals.md``: a missing modality is a mask
bit, never a zero tensor pretending to be data. Every module that receives a mask replaces
masked-out inputs *before* any arithmetic (``torch.where``), so their content cannot reach
the output, and excludes them from attention with ``-inf`` scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from oncofusion.registry import look_up_option

__all__ = [
    "ACTIVATIONS",
    "NORMS",
    "MultiHeadAttention",
    "SafeBatchNorm",
    "adaptive_avg_pool1d",
    "fill_masked",
    "make_act",
    "make_mlp",
    "make_norm",
    "masked_mean",
    "masked_softmax",
    "run_on_present",
]

ACTIVATIONS = ("relu", "gelu", "elu", "leakyrelu", "prelu", "selu", "tanh", "swish", "mish")
NORMS = ("batch", "layer", "instance", "group", "none")


class SafeBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch normalisation that uses its running statistics when a training batch has
    a single value per channel (one present patient, spatial size 1).

    :class:`torch.nn.BatchNorm1d` raises on such batches; they occur with modality
    dropout, when a single patient of the batch has the modality. Works for 1-3 spatial
    dimensions (input ``(N, C, *spatial)``).

    .. math:: y = \\gamma \\frac{x - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}} + \\beta

    Reference: Ioffe & Szegedy, "Batch Normalization", ICML 2015.
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected an input with at least 2 dims (N, C, ...), got {input.dim()}")

    def forward(self, input: Tensor) -> Tensor:
        if self.training and input.numel() // max(input.shape[1], 1) <= 1:
            return F.batch_norm(
                input, self.running_mean, self.running_var, self.weight, self.bias,
                False, 0.0, self.eps,
            )
        return super().forward(input)


def make_act(name: str | tuple[str, dict[str, Any]]) -> nn.Module:
    """Build an activation by (MONAI factory) name, e.g. ``"relu"`` or ``"gelu"``."""
    from monai.networks.layers.utils import get_act_layer

    key = name[0] if isinstance(name, tuple) else name
    look_up_option(str(key).lower(), list(ACTIVATIONS), what="activation")
    return get_act_layer(name)


def make_norm(name: str | None, channels: int, spatial_dims: int = 1) -> nn.Module:
    """Build a normalisation layer by name for ``spatial_dims`` (0 for (N, C) vectors).

    ``"batch"`` gives :class:`SafeBatchNorm`; ``"layer"`` normalises over channels only
    for vectors; other names go through MONAI's ``Norm`` factory.
    """
    key = "none" if name is None else str(name).lower()
    look_up_option(key, list(NORMS), what="normalisation")
    if key == "none":
        return nn.Identity()
    if key == "batch":
        return SafeBatchNorm(channels)
    if key == "layer" and spatial_dims <= 1:
        return nn.LayerNorm(channels)
    if key == "group":
        return nn.GroupNorm(num_groups=math.gcd(channels, 8), num_channels=channels)
    from monai.networks.layers.utils import get_norm_layer

    return get_norm_layer(key, spatial_dims=max(spatial_dims, 1), channels=channels)


def make_mlp(
    in_features: int,
    hidden: Sequence[int],
    out_features: int | None,
    *,
    act: str = "relu",
    norm: str | None = None,
    dropout: float = 0.0,
) -> nn.Sequential:
    """Stack of ``Linear -> norm -> act -> dropout`` blocks, then a final ``Linear``.

    .. math:: H^{(l+1)} = \\sigma(W_l H^{(l)} + b_l), \\quad F = W_L H^{(L)} + b_L

    With ``out_features=None`` the final linear layer is left out (the output has
    ``hidden[-1]`` features). Reference: MM-Care eq. (4)-(6).
    """
    if out_features is None and not hidden:
        raise ValueError("make_mlp needs hidden layers or out_features; got neither.")
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, int(h)), make_norm(norm, int(h)), make_act(act)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = int(h)
    if out_features is not None:
        layers.append(nn.Linear(width, int(out_features)))
    return nn.Sequential(*layers)


def adaptive_avg_pool1d(x: Tensor, output_size: int) -> Tensor:
    """:func:`torch.nn.functional.adaptive_avg_pool1d` as a product with a fixed averaging matrix.

    Bin ``i`` of a length-``L`` axis averages positions ``floor(i L / n)`` to
    ``ceil((i + 1) L / n) - 1``, as PyTorch's adaptive pooling does; the same values, but the
    backward pass is a matrix product, which is deterministic on CUDA (PyTorch's own
    ``adaptive_avg_pool2d_backward_cuda`` is not, and fails under
    ``torch.use_deterministic_algorithms(True)``).
    """
    length = x.shape[-1]
    i = torch.arange(output_size, device=x.device)
    start = torch.div(i * length, output_size, rounding_mode="floor")
    end = torch.div((i + 1) * length + output_size - 1, output_size, rounding_mode="floor")
    pos = torch.arange(length, device=x.device)[:, None]
    inside = (pos >= start) & (pos < end)  # (L, n)
    weights = inside.to(x.dtype) / (end - start).to(x.dtype)
    return x @ weights


def masked_softmax(scores: Tensor, valid: Tensor, dim: int = -1) -> Tensor:
    """Softmax over ``valid`` entries only; rows without any valid entry give all zeros.

    .. math:: \\alpha_t = \\frac{m_t e^{s_t}}{\\sum_u m_u e^{s_u}}

    Masked entries get weight exactly 0, so their (finite) values cannot reach the output.
    """
    scores = scores.masked_fill(~valid, float("-inf"))
    top = scores.amax(dim=dim, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    ex = torch.exp(scores - top)
    return ex / ex.sum(dim=dim, keepdim=True).clamp_min(torch.finfo(ex.dtype).tiny)


def masked_mean(x: Tensor, valid: Tensor, dim: int) -> Tensor:
    """Mean of ``x`` over ``dim`` using only entries where ``valid`` (0 when none)."""
    w = valid.to(x.dtype)
    while w.dim() < x.dim():
        w = w.unsqueeze(-1)
    num = torch.where(w > 0, x, torch.zeros_like(x)).sum(dim)
    return num / w.sum(dim).clamp_min(1.0)


def fill_masked(x: Tensor, present: Tensor, fill: Tensor | float = 0.0) -> Tensor:
    """Return ``x`` where ``present`` (broadcast from the left), else ``fill``.

    Uses :func:`torch.where`, so NaN or any other content of a masked-out row cannot
    leak into later arithmetic.
    """
    p = present
    while p.dim() < x.dim():
        p = p.unsqueeze(-1)
    if not torch.is_tensor(fill):
        fill = torch.full((), float(fill), dtype=x.dtype, device=x.device)
    return torch.where(p, x, fill.to(x.dtype))


def run_on_present(
    fn: Callable[..., dict[str, Tensor]],
    present: Tensor | None,
    *inputs: Tensor,
    placeholder: Callable[[int], dict[str, Tensor]],
) -> dict[str, Tensor]:
    """Run ``fn`` on the rows where ``present`` and scatter the results back.

    Masked-out rows are never computed (they do not even enter batch statistics); their
    outputs are the ``placeholder`` values (zeros), which fusions ignore through the mask.
    When no row is present ``fn`` is not called at all.
    """
    batch = inputs[0].shape[0]
    if present is None:
        return fn(*inputs)
    present = present.to(device=inputs[0].device, dtype=torch.bool).reshape(batch)
    if bool(present.all()):
        return fn(*inputs)
    full = placeholder(batch)
    if not bool(present.any()):
        return full
    idx = present.nonzero(as_tuple=True)[0]
    part = fn(*[t.index_select(0, idx) for t in inputs])
    out: dict[str, Tensor] = {}
    for key, value in full.items():
        if key in part and part[key].dim() >= 1 and part[key].shape[0] == idx.numel():
            out[key] = value.index_copy(0, idx, part[key].to(value.dtype))
        else:
            out[key] = value
    return out


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention with a key validity mask.

    .. math:: \\mathrm{Attn}(Q, K, V) = \\mathrm{softmax}\\Big(\\frac{QK^\\top}{\\sqrt{d_k}}
              + \\log m\\Big) V

    where :math:`m` is 1 for valid keys and 0 for masked ones (a missing modality); the
    weights of masked keys are exactly 0. Queries with no valid key return 0 (callers add
    an always-valid "null" key so this does not happen). Reference: Vaswani et al. 2017.

    Parameters
    ----------
    dim
        Model width (queries, keys and values share it).
    heads
        Number of heads; ``dim`` must be divisible by it.
    dropout
        Dropout on the attention weights.
    """

    def __init__(self, dim: int, heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"attention width {dim} is not divisible by heads={heads}; "
                             "choose d_model as a multiple of heads.")
        self.dim, self.heads = dim, heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: Tensor, key: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """``query`` (N, Lq, D), ``key`` (N, Lk, D) (also the values), ``valid`` (N, Lk) bool.

        Returns the attended values (N, Lq, D) and the weights (N, heads, Lq, Lk).
        """
        n, lq, d = query.shape
        lk = key.shape[1]
        h, dh = self.heads, d // self.heads
        q = self.q(query).view(n, lq, h, dh).transpose(1, 2)
        k = self.k(key).view(n, lk, h, dh).transpose(1, 2)
        v = self.v(key).view(n, lk, h, dh).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
        weights = masked_softmax(scores, valid[:, None, None, :].expand_as(scores))
        out = self.dropout(weights) @ v
        return self.out(out.transpose(1, 2).reshape(n, lq, d)), weights
