"""Session fixtures: the tiny cohort and one tiny trained DMA-Net run."""

from __future__ import annotations

import pytest
from dmanet_fixtures import TINY, tiny_config


@pytest.fixture(scope="session")
def tiny_cohort():
    from oncofusion.data import load_cohort

    return load_cohort(TINY)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_cohort):
    from oncofusion.models.artifacts import save_run
    from oncofusion.models.pipeline import train_model

    base = tmp_path_factory.mktemp("dmanet")
    run = train_model(tiny_cohort, tiny_config(), work_dir=base / "work")
    run_dir = save_run(run, tiny_cohort, base / "run")
    return run, run_dir
