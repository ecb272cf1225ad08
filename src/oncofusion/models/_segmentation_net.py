"""The segmenter's network, loss, Dice and training loop (used by :mod:`.segmentation`).

The loop is plain PyTorch: Adam; each epoch visits the training volumes in an order drawn
from one ``torch.Generator`` seeded with ``config.seed``, which also draws the random flips
(one set of axes per batch); after each epoch the validation volumes are predicted,
thresholded and scored with :func:`dice_per_case`; the weights of the best epoch are kept
and training stops after ``patience`` epochs without a gain above ``min_delta``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

if TYPE_CHECKING:  # pragma: no cover - typing only
    from oncofusion.models.segmentation import SegmentationConfig

__all__ = ["FitResult", "build_unet", "dice_per_case", "fit_network", "loss_fn", "predict_network"]

Arrays = tuple[np.ndarray, np.ndarray]


def build_unet(config: SegmentationConfig) -> torch.nn.Module:
    """The 3D U-Net of ``config``: one input channel (CT), one output channel (tumour logit)."""
    from monai.networks.nets import UNet

    return UNet(
        spatial_dims=3,
        in_channels=1,
        out_channels=1,
        channels=config.channels,
        strides=config.strides,
        num_res_units=config.num_res_units,
        dropout=config.dropout,
    )


def loss_fn(name: str) -> torch.nn.Module:
    """``"dice"``: MONAI ``DiceLoss``; ``"dicece"``: ``DiceCELoss`` (Dice + BCE), on logits."""
    from monai.losses import DiceCELoss, DiceLoss

    return DiceLoss(sigmoid=True) if name == "dice" else DiceCELoss(sigmoid=True)


def dice_per_case(pred: torch.Tensor, true: torch.Tensor) -> np.ndarray:
    """Dice of binary ``(B, 1, ...)`` masks, one value per case (MONAI ``DiceMetric``).

    .. math:: \\mathrm{Dice}(P, Y) = \\frac{2 |P \\cap Y|}{|P| + |Y|}

    A case whose true mask is empty scores 1 if the prediction is empty too and 0 otherwise
    (``ignore_empty=False``), so no case is NaN.
    """
    from monai.metrics import DiceMetric

    metric = DiceMetric(include_background=True, reduction="none", ignore_empty=False)
    scores = cast(torch.Tensor, metric(y_pred=pred.float(), y=true.float()))
    return scores[:, 0].cpu().numpy().astype(np.float64)


def predict_network(net: torch.nn.Module, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Tumour probabilities on the network's grid, ``(n, 1, D, H, W)``, in eval mode."""
    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(torch.sigmoid(net(torch.from_numpy(x[start : start + batch_size]))))
    return torch.cat(out).numpy() if out else np.zeros_like(x)


@dataclass
class FitResult:
    """What :func:`fit_network` reports: per-epoch history and the kept (best) epoch."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_dice: float | None = None


def _train_epoch(
    net: torch.nn.Module,
    data: Arrays,
    optimiser: torch.optim.Optimizer,
    criterion: torch.nn.Module,
    gen: torch.Generator,
    config: SegmentationConfig,
) -> float:
    net.train()
    x, y = torch.from_numpy(data[0]), torch.from_numpy(data[1])
    order = torch.randperm(len(x), generator=gen)
    losses = []
    for start in range(0, len(order), config.batch_size):
        idx = order[start : start + config.batch_size]
        xb, yb = x[idx], y[idx]
        if config.augment:
            flips = [d for d in (2, 3, 4) if torch.rand(1, generator=gen).item() < 0.5]
            if flips:
                xb, yb = xb.flip(flips), yb.flip(flips)
        optimiser.zero_grad()
        loss = criterion(net(xb), yb)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


def fit_network(
    net: torch.nn.Module,
    train: Arrays,
    val: Arrays | None,
    config: SegmentationConfig,
    *,
    verbose: bool = False,
) -> FitResult:
    """Train ``net`` in place on ``train = (images, masks)``; keep the best weights on ``val``.

    Arrays are ``(n, 1, D, H, W)`` float32 on the network's grid. Without ``val`` every
    epoch runs and the last weights are kept.
    """
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    criterion = loss_fn(config.loss)
    gen = torch.Generator().manual_seed(config.seed)
    result = FitResult()
    best_state = copy.deepcopy(net.state_dict())
    best_dice, stale = -np.inf, 0
    for epoch in range(1, config.epochs + 1):
        record: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": _train_epoch(net, train, optimiser, criterion, gen, config),
            "val_dice": None,
        }
        if val is not None:
            prob = predict_network(net, val[0], config.batch_size)
            pred = torch.from_numpy(prob >= config.threshold)
            record["val_dice"] = float(dice_per_case(pred, torch.from_numpy(val[1])).mean())
        result.history.append(record)
        if verbose:
            print(
                f"epoch {epoch:3d}  train_loss {record['train_loss']:.4f}  val_dice {record['val_dice']}"
            )
        if val is None:
            result.best_epoch = epoch
            best_state = net.state_dict()
        elif record["val_dice"] > best_dice + config.min_delta:
            best_dice, stale = record["val_dice"], 0
            result.best_epoch, result.best_val_dice = epoch, record["val_dice"]
            best_state = copy.deepcopy(net.state_dict())
        else:
            stale += 1
            if stale >= config.patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    return result
