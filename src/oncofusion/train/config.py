"""Training configuration (the ``train:`` block of a model config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TrainConfig"]


class TrainConfig(BaseModel):
    """Optimiser, schedule, regularisation and hardware settings.

    Defaults follow DMA-Net §2.4: AdamW (lr 3e-4, weight decay 1e-4), gradient
    accumulation, early stopping on validation IBS, dropout 0.2, modality dropout 0.15.
    """

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    max_epochs: int = Field(200, ge=1)
    batch_size: int = Field(16, ge=1)
    accumulate_grad_batches: int = Field(1, ge=1)
    lr: float = Field(3e-4, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    gradient_clip_val: float | None = 1.0
    patience: int = Field(20, ge=1)
    monitor: Literal["val_ibs", "val_loss"] = "val_ibs"
    min_delta: float = 0.0
    modality_dropout: float = Field(0.15, ge=0.0, lt=1.0)
    #: random in-plane re-orientation of training images (oncofusion.train.augment)
    image_augment: Literal["none", "flip", "dihedral"] = "none"
    min_events_per_batch: int = Field(1, ge=0)
    precision: str = "32-true"  # "16-mixed" / "bf16-mixed" on GPU
    accelerator: str = "auto"
    devices: int | str | list[int] = 1
    num_nodes: int = 1
    strategy: str = "auto"  # "ddp" for several GPUs / nodes
    num_workers: int = 0
    #: torch.use_deterministic_algorithms(True, warn_only=True): deterministic kernels where
    #: PyTorch has them, a warning for an operation that has none
    deterministic: bool = True
    checkpoint_every_epoch: bool = True
    progress: bool = True
