from __future__ import annotations

import numpy as np
import pytest
import torch

from oncofusion.errors import ConfigError
from oncofusion.train.modality_dropout import modality_dropout
from oncofusion.train.sampler import EventBalancedBatchSampler


@pytest.mark.parametrize("n,rate,bs", [(100, 0.28, 8), (37, 0.1, 4), (20, 0.5, 20)])
def test_every_batch_has_an_event_and_every_patient_once(n, rate, bs):
    rng = np.random.default_rng(0)
    events = np.zeros(n, dtype=int)
    events[rng.choice(n, max(1, int(n * rate)), replace=False)] = 1
    sampler = EventBalancedBatchSampler(events, bs, min_events=1, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert all(events[b].sum() >= 1 for b in batches)
    assert all(len(b) <= bs for b in batches)
    flat = [i for b in batches for i in b]
    if not sampler.reuses_events:
        assert sorted(flat) == list(range(n))


def test_deterministic_per_epoch_and_differs_between_epochs():
    events = np.r_[np.ones(10), np.zeros(30)].astype(int)
    a = EventBalancedBatchSampler(events, 8, seed=1)
    b = EventBalancedBatchSampler(events, 8, seed=1)
    assert list(a) == list(b)
    a.set_epoch(1)
    assert list(a) != list(b)


def test_ddp_shards_are_disjoint_and_equal_length():
    events = np.r_[np.ones(12), np.zeros(28)].astype(int)
    shards = [list(EventBalancedBatchSampler(events, 4, seed=0, rank=r, world_size=2)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1])
    ids0 = {i for b in shards[0] for i in b}
    ids1 = {i for b in shards[1] for i in b}
    assert not ids0 & ids1


def test_no_events_is_a_clear_error():
    with pytest.raises(ConfigError, match="no events"):
        EventBalancedBatchSampler(np.zeros(10, dtype=int), 4)


def test_modality_dropout_never_empties_a_patient():
    g = torch.Generator().manual_seed(0)
    mask = {"imaging": torch.tensor([True, True, False, True] * 50), "clinical": torch.tensor([True, False, False, True] * 50)}
    out = modality_dropout(mask, 0.9, generator=g)
    present_before = mask["imaging"] | mask["clinical"]
    present_after = out["imaging"] | out["clinical"]
    assert torch.equal(present_before, present_after)
    # never turns an absent modality on
    assert not (out["imaging"] & ~mask["imaging"]).any()
    # and does drop something at p=0.9
    assert out["imaging"].sum() < mask["imaging"].sum()
    with pytest.raises(ConfigError):
        modality_dropout(mask, 1.0)
