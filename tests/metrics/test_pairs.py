"""The O(n log n) pair counter against a brute-force O(n^2) count."""

from __future__ import annotations

import numpy as np
import pytest

from oncofusion.metrics._pairs import PairLevels, comparable_pairs


def _brute(t, e, r, tol, w=None):
    w = np.ones_like(t) if w is None else w
    below, tied_or_below, comp = [], [], []
    for i in np.flatnonzero(e):
        c = (t > t[i]) | ((t == t[i]) & ~e)
        below.append(w[c & (r < r[i] - tol)].sum())
        tied_or_below.append(w[c & (r <= r[i] + tol)].sum())
        comp.append(w[c].sum())
    return np.array(below), np.array(tied_or_below), np.array(comp)


@pytest.mark.parametrize("seed", range(40))
def test_counts_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 50))
    t = rng.integers(0, rng.integers(1, 12), n).astype(float)
    e = rng.random(n) < rng.random()
    r = rng.integers(0, rng.integers(1, 8), n).astype(float)
    if seed % 2:
        r = r + rng.uniform(-4e-9, 4e-9, n)  # ties within tolerance, not exact
    pc = comparable_pairs(t, e, r, 1e-8)
    below, tied_or_below, comp = _brute(t, e, r, 1e-8)
    np.testing.assert_array_equal(pc.below, below)
    np.testing.assert_array_equal(pc.below_or_tied, tied_or_below)
    np.testing.assert_array_equal(pc.comparable, comp)
    censored_same_time = [int(((t == t[i]) & ~e).sum()) for i in np.flatnonzero(e)]
    np.testing.assert_array_equal(pc.tied_time, censored_same_time)


@pytest.mark.parametrize("seed", range(15))
def test_weighted_counts_equal_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 40))
    t = rng.integers(0, 8, n).astype(float)
    e = rng.random(n) < 0.6
    r = rng.integers(0, 5, n).astype(float)
    w = rng.integers(0, 4, (5, n)).astype(float)
    levels = PairLevels(t, e, r, 1e-8, keep=True)
    below, tied_or_below = levels.weighted(w)
    for b in range(w.shape[0]):
        ref_below, ref_tb, _ = _brute(t, e, r, 1e-8, w[b])
        np.testing.assert_allclose(below[b], ref_below, atol=1e-9)
        np.testing.assert_allclose(tied_or_below[b], ref_tb, atol=1e-9)


def test_large_tolerance_makes_every_pair_tied():
    t = np.arange(10.0)
    e = np.ones(10, dtype=bool)
    r = np.linspace(0, 1, 10)
    pc = comparable_pairs(t, e, r, 10.0)
    assert pc.below.sum() == 0
    assert pc.below_or_tied.sum() == pc.comparable.sum() == 45
