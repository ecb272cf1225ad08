"""Batch samplers for survival training.

Ranking and partial-likelihood losses need at least one event per batch; with 28% events
and small batches a plain random batch can hold none. :class:`EventBalancedBatchSampler`
guarantees ``min_events`` events in every batch while visiting each patient once per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from oncofusion.errors import ConfigError

__all__ = ["EventBalancedBatchSampler"]


class EventBalancedBatchSampler(Sampler[list[int]]):
    """Shuffled batches, each with at least ``min_events`` events.

    Events are dealt round-robin over the epoch's batches first, then the censored
    patients fill the remaining places; so every patient appears exactly once per epoch
    and the event share per batch stays close to the cohort's.

    Parameters
    ----------
    events
        Event indicator per dataset index.
    batch_size
        Patients per batch.
    min_events
        Events guaranteed in each batch (needs ``n_events >= min_events * n_batches``;
        otherwise event patients are reused within the epoch, which is documented and
        reported by :attr:`reuses_events`).
    seed
        Seed; the epoch number is added so each epoch differs but runs are reproducible.
    drop_last
        Drop a final incomplete batch.
    rank, world_size
        Shard batches across distributed processes (DDP): process ``rank`` takes every
        ``world_size``-th batch, so all processes see the same number of batches.
    """

    def __init__(
        self,
        events: Sequence[int] | np.ndarray,
        batch_size: int,
        *,
        min_events: int = 1,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        ev = np.asarray(events).astype(bool)
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}.")
        if min_events < 0 or min_events > batch_size:
            raise ConfigError(f"min_events must be in [0, batch_size], got {min_events}.")
        if min_events > 0 and not ev.any():
            raise ConfigError(
                "the training set has no events, so no batch can hold one. Fix: check the cohort's "
                "event column or use a sampler with min_events=0."
            )
        self.event_idx = np.flatnonzero(ev)
        self.censored_idx = np.flatnonzero(~ev)
        self.n = len(ev)
        self.batch_size = batch_size
        self.min_events = min_events
        self.seed = seed
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def n_batches_total(self) -> int:
        nb = self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)
        return max(nb - nb % self.world_size, self.world_size) if self.world_size > 1 else nb

    @property
    def reuses_events(self) -> bool:
        return len(self.event_idx) < self.min_events * self.n_batches_total

    def __len__(self) -> int:
        return self.n_batches_total // self.world_size

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        nb = self.n_batches_total
        events = rng.permutation(self.event_idx)
        censored = rng.permutation(self.censored_idx)
        need = self.min_events * nb
        if len(events) < need:  # reuse events so each batch still holds min_events
            extra = rng.choice(self.event_idx, size=need - len(events), replace=True)
            events = np.concatenate([events, extra])
        batches: list[list[int]] = [[] for _ in range(nb)]
        # deal the guaranteed events round-robin, then everyone else
        for j, i in enumerate(events[:need]):
            batches[j % nb].append(int(i))
        rest = rng.permutation(np.concatenate([events[need:], censored]))
        pos = 0
        for b in batches:
            take = max(self.batch_size - len(b), 0)
            b.extend(int(i) for i in rest[pos : pos + take])
            pos += take
        # leftovers (only when drop_last trimmed batches) are dropped for this epoch
        order = rng.permutation(nb)
        batches = [list(rng.permutation(batches[k])) for k in order]
        batches = [[int(i) for i in b] for b in batches if b]
        return iter(batches[self.rank :: self.world_size])
