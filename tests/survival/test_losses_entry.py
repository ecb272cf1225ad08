"""Left truncation (delayed entry) in the discrete-time NLL."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oncofusion.errors import SurvivalInputError
from oncofusion.survival.losses import discrete_nll


def _direct(idx, ev, logit, entry):
    h = torch.sigmoid(logit)
    total = 0.0
    for i in range(logit.shape[0]):
        for k in range(entry[i], logit.shape[1]):
            if k < idx[i]:
                total -= torch.log1p(-h[i, k])
            elif k == idx[i] and ev[i]:
                total -= torch.log(h[i, k])
    return total / logit.shape[0]


def test_entry_index_equals_direct_left_truncated_likelihood():
    rng = np.random.default_rng(0)
    logit = torch.tensor(rng.normal(size=(6, 5)), dtype=torch.float64)
    idx = np.array([0, 2, 4, 5, 3, 1])
    ev = np.array([1, 0, 1, 0, 1, 0])
    entry = np.array([0, 1, 2, 5, 0, 1])
    got = discrete_nll(idx, ev, logit, entry_index=entry)
    torch.testing.assert_close(got, _direct(idx, ev, logit, entry))
    # entry 0 everywhere is the ordinary likelihood
    torch.testing.assert_close(discrete_nll(idx, ev, logit, entry_index=np.zeros(6, int)), discrete_nll(idx, ev, logit))


def test_entry_after_exit_is_an_error():
    with pytest.raises(SurvivalInputError, match="entry_index"):
        discrete_nll([1, 2], [1, 0], torch.zeros(2, 4), entry_index=[2, 0])
