"""``fit``: train a model on a training set, early-stop on validation, resume after a kill."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from oncofusion.train.config import TrainConfig
from oncofusion.train.task import Objective

__all__ = ["FitResult", "fit"]

LAST_CKPT = "last.ckpt"


@dataclass
class FitResult:
    """The best weights (by the monitored metric), the epoch they come from and the log.

    Under DDP every process returns one (the same weights and log); ``global_rank`` tells
    them apart, so only rank 0 writes results.
    """

    state_dict: dict[str, torch.Tensor]
    best_epoch: int
    best_score: float
    history: list[dict[str, float]]
    epochs_run: int
    global_rank: int = 0
    world_size: int = 1


def _loader(ds: Dataset, cfg: TrainConfig, collate: Any, *, batch_sampler: Any = None, sampler: Any = None) -> DataLoader:
    if batch_sampler is not None:
        return DataLoader(ds, batch_sampler=batch_sampler, collate_fn=collate, num_workers=cfg.num_workers)
    return DataLoader(ds, batch_size=cfg.batch_size, sampler=sampler, collate_fn=collate, num_workers=cfg.num_workers)


def fit(
    model: torch.nn.Module,
    objective: Objective,
    train_set: Dataset,
    val_set: Dataset,
    *,
    train_time: np.ndarray,
    train_event: np.ndarray,
    grid: np.ndarray,
    config: TrainConfig,
    collate: Any,
    work_dir: str | Path,
    resume: bool = True,
) -> FitResult:
    """Train with early stopping on ``config.monitor``; checkpoints go to ``work_dir``.

    If ``work_dir/last.ckpt`` exists and ``resume`` is true, training resumes from it; since
    every epoch reseeds from ``config.seed`` and the epoch, the final weights equal those of
    an uninterrupted run.

    With ``config.strategy: ddp`` (and ``devices``/``num_nodes``) Lightning runs one process
    per device: each trains on its shard of every epoch's batches (together they see each
    training patient once), validates its shard of the validation set, and the validation
    predictions are gathered so the early-stopping metric is computed over all validation
    patients, identically on every rank (docs/scale-out.md).
    """
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from oncofusion.train.callbacks import EpochLog, ShardFromTrainer
    from oncofusion.train.checkpoint_io import AtomicCheckpointIO
    from oncofusion.train.sampler import EventBalancedBatchSampler, ShardSampler
    from oncofusion.train.task import SurvivalTask

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(config.seed, workers=True, verbose=False)
    task = SurvivalTask(model, objective, config, grid, train_time, train_event)

    world_size = _world_size(config)
    sampler = EventBalancedBatchSampler(
        np.asarray(train_event).astype(int),
        config.batch_size,
        min_events=config.min_events_per_batch if np.asarray(train_event).any() else 0,
        seed=config.seed,
        world_size=world_size,  # checked now; rank and world size come from the trainer at set-up
        rank=0,
    )
    if hasattr(train_set, "bind_epoch_source"):
        # epoch-keyed random draws of the training set (landmark augmentation) follow the
        # epoch that Lightning sets on the batch sampler; unbound, every epoch repeats epoch 0's
        train_set.bind_epoch_source(sampler)
    val_sampler = ShardSampler(len(val_set))  # type: ignore[arg-type]
    train_loader = _loader(train_set, config, collate, batch_sampler=sampler)
    val_loader = _loader(val_set, config, collate, sampler=val_sampler)

    best = ModelCheckpoint(
        dirpath=work_dir, filename="best", monitor=config.monitor, mode="min", save_last=True, save_top_k=1,
        enable_version_counter=False,
    )
    early = EarlyStopping(monitor=config.monitor, mode="min", patience=config.patience, min_delta=config.min_delta)
    log = EpochLog(work_dir / "epochs.csv")
    callbacks: list[Any] = [ShardFromTrainer(sampler, val_sampler), best, early, log]
    if config.progress:
        from lightning.pytorch.callbacks import RichProgressBar

        callbacks.append(RichProgressBar(leave=False))

    # Lightning's start-up banners (accelerator, tips) are noise in a CLI with its own output
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
    trainer = pl.Trainer(
        max_epochs=config.max_epochs,
        accelerator=config.accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy=_strategy(config.strategy),
        precision=config.precision,  # type: ignore[arg-type]
        accumulate_grad_batches=config.accumulate_grad_batches,
        gradient_clip_val=config.gradient_clip_val,
        # deterministic algorithms where PyTorch has them; an operation without one (on CUDA)
        # warns instead of stopping the training
        deterministic="warn" if config.deterministic else False,
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        logger=False,
        enable_progress_bar=config.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        default_root_dir=str(work_dir),
    )
    ckpt = work_dir / LAST_CKPT
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        trainer.fit(task, train_loader, val_loader, ckpt_path=str(ckpt) if resume and ckpt.exists() else None)

    best_path = best.best_model_path
    if best_path and Path(best_path).exists():
        state = torch.load(best_path, map_location="cpu", weights_only=True)["state_dict"]
        state = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
        best_score = float(best.best_model_score) if best.best_model_score is not None else float("nan")
    else:
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        best_score = float("nan")
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()  # every rank has read the checkpoints before rank 0 moves on
    history = log.rows
    best_epoch = int(min(history, key=lambda r: r.get(config.monitor, np.inf))["epoch"]) if history else -1
    return FitResult(
        state, best_epoch, best_score, history, trainer.current_epoch, trainer.global_rank, trainer.world_size
    )


def _world_size(cfg: TrainConfig) -> int:
    if isinstance(cfg.devices, list):
        n = len(cfg.devices)
    elif isinstance(cfg.devices, int):
        n = cfg.devices
    else:
        n = 1
    return max(1, n * cfg.num_nodes) if cfg.strategy.startswith("ddp") else 1


#: A batch can miss a whole modality (missing data, modality dropout); its encoder then gets
#: no gradient in that step, and plain DDP waits forever for those gradients. So "ddp" means
#: DDP that detects unused parameters (a small cost per step).
_DDP_ALIASES = {"ddp": "ddp_find_unused_parameters_true", "ddp_spawn": "ddp_spawn_find_unused_parameters_true"}


def _strategy(name: str) -> str:
    return _DDP_ALIASES.get(name, name)
