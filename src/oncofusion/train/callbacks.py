"""Lightning callbacks of the trainer."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

__all__ = ["EpochLog", "ShardFromTrainer"]


class EpochLog(pl.Callback):
    """Keep one row of metrics per epoch and write them to ``path`` (CSV, atomically)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        # runs after the epoch's validation, so train and validation metrics are both in
        row = {"epoch": float(trainer.current_epoch)}
        row.update({k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1})
        self.rows = [r for r in self.rows if r["epoch"] != row["epoch"]] + [row]
        if self.path is not None and trainer.is_global_zero:
            keys = sorted({k for r in self.rows for k in r}, key=lambda k: (k != "epoch", k))
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=keys)
                writer.writeheader()
                writer.writerows(self.rows)
            tmp.replace(self.path)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict.get("rows", []))


class ShardFromTrainer(pl.Callback):
    """Give the samplers this process's rank and the world size once DDP is set up.

    The trainer runs with ``use_distributed_sampler=False`` (its own samplers shard), so the
    rank must come from the trainer, not from environment variables read before launch:
    ``global_rank`` is ``node_rank * devices + local_rank`` on several nodes.
    """

    def __init__(self, *samplers: Any) -> None:
        self.samplers = samplers

    def setup(self, trainer: pl.Trainer, pl_module: Any, stage: str) -> None:
        for sampler in self.samplers:
            sampler.set_shard(trainer.global_rank, trainer.world_size)
