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

__all__ = ["EventBalancedBatchSampler", "ShardSampler"]


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
        ``world_size``-th batch, so all processes see the same number of batches. Without
        ``drop_last`` the number of batches is rounded *up* to a multiple of ``world_size``
        and patients are spread evenly over them, so every patient is still seen exactly
        once per epoch across all processes (and no process gets an empty batch). The
        trainer sets both from the Lightning trainer at set-up (:class:`ShardFromTrainer`).
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
        self.rank = 0
        self.world_size = 1
        self.set_shard(rank, world_size)
        self.epoch = 0

    def set_shard(self, rank: int, world_size: int) -> None:
        """Make this the sampler of process ``rank`` out of ``world_size`` (DDP)."""
        if world_size < 1 or not 0 <= rank < world_size:
            raise ConfigError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}.")
        if world_size > self.n:
            raise ConfigError(
                f"{self.n} training patients cannot be shared among {world_size} processes. "
                "Fix: use fewer devices/nodes or more training patients."
            )
        self.rank, self.world_size = int(rank), int(world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def sampler(self) -> _EpochRelay:
        """Where Lightning looks for ``set_epoch`` on a batch sampler (``batch_sampler.sampler``).

        Lightning calls ``dataloader.batch_sampler.sampler.set_epoch(epoch)`` before every
        epoch, also when resuming; batches are drawn lazily, at the first batch of the epoch,
        so they always use the epoch just set.
        """
        return _EpochRelay(self)

    @property
    def n_batches_total(self) -> int:
        nb = self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)
        if self.world_size == 1:
            return nb
        if self.drop_last:
            return max(nb - nb % self.world_size, self.world_size)
        return nb + (-nb) % self.world_size  # round up: nobody is left out of the epoch

    def _sizes(self, n_items: int, nb: int) -> list[int]:
        """Places per batch: ``batch_size`` each in one process; spread evenly under DDP."""
        if self.world_size == 1 or (self.drop_last and nb * self.batch_size <= n_items):
            return [self.batch_size] * nb
        base, extra = divmod(n_items, nb)
        return [min(self.batch_size, base + (k < extra)) for k in range(nb)]

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
        for b, size in zip(batches, self._sizes(need + len(rest), nb), strict=True):
            take = max(size - len(b), 0)
            b.extend(int(i) for i in rest[pos : pos + take])
            pos += take
        # leftovers (only when drop_last trimmed batches) are dropped for this epoch
        order = rng.permutation(nb)
        batches = [list(rng.permutation(batches[k])) for k in order]
        batches = [[int(i) for i in b] for b in batches if b]
        yield from batches[self.rank :: self.world_size]


class _EpochRelay:
    """Forwards ``set_epoch`` to the batch sampler that owns it (see ``EventBalancedBatchSampler.sampler``)."""

    def __init__(self, owner: EventBalancedBatchSampler) -> None:
        self._owner = owner

    def set_epoch(self, epoch: int) -> None:
        self._owner.set_epoch(epoch)


class ShardSampler(Sampler[int]):
    """Dataset indices ``rank, rank + world_size, ...`` in order: one process's share of an
    evaluation set under DDP, without the padding of ``torch``'s ``DistributedSampler``
    (which would count some patients twice in a gathered metric).

    Parameters
    ----------
    n
        Dataset size.
    rank, world_size
        This process and the number of processes; set again by the trainer at set-up.
    """

    def __init__(self, n: int, *, rank: int = 0, world_size: int = 1) -> None:
        self.n = int(n)
        self.rank = 0
        self.world_size = 1
        self.set_shard(rank, world_size)

    def set_shard(self, rank: int, world_size: int) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ConfigError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}.")
        if world_size > max(self.n, 1):
            raise ConfigError(
                f"{self.n} validation patients cannot be shared among {world_size} processes. "
                "Fix: use fewer devices/nodes or more validation patients."
            )
        self.rank, self.world_size = int(rank), int(world_size)

    @property
    def max_shard(self) -> int:
        """The largest share over the processes (``ceil(n / world_size)``)."""
        return -(-self.n // self.world_size)

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.world_size))
