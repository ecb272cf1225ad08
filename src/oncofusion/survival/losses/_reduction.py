"""The validated ``reduction`` argument shared by every survival loss (after torchsurv)."""

from __future__ import annotations

import torch

from oncofusion.registry import look_up_option

__all__ = ["REDUCTIONS", "check_reduction", "reduce"]

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> str:
    """Return ``reduction`` if it is one of ``"mean"``, ``"sum"``, ``"none"``.

    Raises
    ------
    oncofusion.errors.UnknownOptionError
        For any other value; the message names the options and the closest match.
    """
    if not isinstance(reduction, str):
        return look_up_option(repr(reduction), list(REDUCTIONS), what="reduction")
    return look_up_option(reduction, list(REDUCTIONS), what="reduction")


def reduce(
    per_sample: torch.Tensor, reduction: str, *, denominator: torch.Tensor | float | None = None
) -> torch.Tensor:
    """Reduce per-sample losses.

    ``"none"`` returns ``per_sample`` unchanged; ``"sum"`` its sum; ``"mean"`` the sum
    divided by ``denominator`` (the number of samples when not given). Callers pass a
    validated ``reduction`` (:func:`check_reduction`).
    """
    if reduction == "none":
        return per_sample
    total = per_sample.sum()
    if reduction == "sum":
        return total
    if denominator is None:
        denominator = per_sample.numel()
    return total / denominator
