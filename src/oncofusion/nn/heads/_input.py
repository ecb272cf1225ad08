"""Input handling shared by heads: a tensor or a fusion output dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor


def head_input(z: Tensor | Mapping[str, Any], key: str = "embedding") -> Tensor:
    """``z`` itself, or ``z[key]`` when ``z`` is a fusion/encoder output dict."""
    if torch.is_tensor(z):
        return z
    if key not in z:
        raise ValueError(f"head input dict has no '{key}' (keys: {sorted(z)}).")
    return z[key]


def check_features(x: Tensor, in_features: int, dims: int, what: str) -> None:
    if x.dim() != dims or x.shape[-1] != in_features:
        shape = "(B, D)" if dims == 2 else "(B, K, D)"
        raise ValueError(f"{what} expects input {shape} with D={in_features}, got {tuple(x.shape)}.")
