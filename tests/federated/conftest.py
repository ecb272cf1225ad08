"""Fixtures of the federated tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def crlm_sites(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A small simulated CRLM cohort (no images) split into 3 sites by stage."""
    from oncofusion.data import load_cohort
    from oncofusion.data.simulate import simulate_crlm
    from oncofusion.federated.sites import assign_sites

    out = tmp_path_factory.mktemp("crlm") / "cohort"
    simulate_crlm(96, 3, str(out), images=False)
    return assign_sites(load_cohort(out), 3, seed=0, skew=1.0)
