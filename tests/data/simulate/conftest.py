"""Shared simulated cohorts: large ones without images for the realism tests (built once)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def crlm_big():
    """CRLM, n = 3000, seed 0, no videos (the truth is the same as with videos)."""
    from oncofusion.data.simulate import simulate_crlm

    return simulate_crlm(3000, 0, images=False)


@pytest.fixture(scope="session")
def nsclc_big():
    """NSCLC, n = 3000, seed 0, no CT patches."""
    from oncofusion.data.simulate import simulate_nsclc

    return simulate_nsclc(3000, 0, images=False)
