"""The samplers under DDP, without processes: shards, epochs set by Lightning, validation shards."""

from __future__ import annotations

import numpy as np
import pytest
from lightning.fabric.utilities.data import _set_sampler_epoch
from torch.utils.data import DataLoader

from oncofusion.errors import ConfigError
from oncofusion.train.sampler import EventBalancedBatchSampler, ShardSampler


@pytest.mark.parametrize("n,bs,ws", [(9, 3, 2), (10, 4, 2), (37, 4, 3), (40, 8, 4), (5, 16, 2)])
def test_each_patient_once_per_epoch_across_ranks(n: int, bs: int, ws: int) -> None:
    events = np.zeros(n, dtype=int)
    nb = EventBalancedBatchSampler(np.ones(n), bs, world_size=ws).n_batches_total
    events[: max(nb, n // 3)] = 1  # enough events that none is reused to fill a batch
    for epoch in range(3):
        shards = []
        for r in range(ws):
            s = EventBalancedBatchSampler(events, bs, seed=2, world_size=ws, rank=r)
            s.set_epoch(epoch)
            shards.append(list(s))
        assert len({len(b) for b in shards}) == 1  # same number of steps on every rank
        assert all(len(b) == len(EventBalancedBatchSampler(events, bs, world_size=ws)) for b in shards)
        flat = [i for shard in shards for batch in shard for i in batch]
        assert not EventBalancedBatchSampler(events, bs, world_size=ws).reuses_events
        assert sorted(flat) == list(range(n))  # nobody left out, nobody twice
        assert all(0 < len(batch) <= bs and events[batch].sum() >= 1 for shard in shards for batch in shard)


def test_single_process_batches_are_unchanged_by_the_ddp_rules() -> None:
    events = np.r_[np.ones(5), np.zeros(5)].astype(int)
    batches = list(EventBalancedBatchSampler(events, 4, seed=0))
    assert sorted(len(b) for b in batches) == [2, 4, 4]


def test_lightning_sets_the_epoch_and_batches_are_drawn_lazily() -> None:
    events = np.r_[np.ones(6), np.zeros(14)].astype(int)
    sampler = EventBalancedBatchSampler(events, 4, seed=1)
    loader = DataLoader(list(range(20)), batch_sampler=sampler)
    it = iter(loader)  # as Lightning does before it sets the epoch
    _set_sampler_epoch(loader, 3)  # Lightning's own call: batch_sampler.sampler.set_epoch
    assert sampler.epoch == 3
    first = [next(it).tolist() for _ in range(len(sampler))]
    again = EventBalancedBatchSampler(events, 4, seed=1)
    again.set_epoch(3)
    assert first == list(again)


def test_validation_shards_are_disjoint_and_cover_everyone() -> None:
    shards = [list(ShardSampler(7, rank=r, world_size=3)) for r in range(3)]
    assert sorted(i for s in shards for i in s) == list(range(7))
    assert [len(s) for s in shards] == [3, 2, 2] and ShardSampler(7, world_size=3).max_shard == 3


def test_more_processes_than_patients_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="cannot be shared among 4 processes"):
        EventBalancedBatchSampler(np.array([1, 0, 1]), 2, world_size=4)
    with pytest.raises(ConfigError, match="validation patients"):
        ShardSampler(1, world_size=2)
