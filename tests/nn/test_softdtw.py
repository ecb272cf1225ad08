"""Soft-DTW against an independent O(T*S) dynamic programme, finite differences and pysdtw.

Tolerance: 1e-10 in float64 against the Python reference; 1e-4 relative against pysdtw
(it computes in float32 internally).
"""

from __future__ import annotations

import math

import pytest
import torch

from oncofusion.errors import UnknownOptionError
from oncofusion.nn import ALIGNERS
from oncofusion.nn.align import SoftDTW, align_sequence, soft_dtw, soft_dtw_cost
from oncofusion.nn.align._band import band_layout


def in_band(i: int, j: int, T: int, S: int, w: float | None) -> bool:
    """The band of the docs, written independently: |i/(T-1) - j/(S-1)| * max(T-1, S-1) <= w,
    i.e. |j - i (S-1)/(T-1)| <= w (S-1) / max(T-1, S-1), a half-width never below 1/2."""
    if w is None or T == 1 or S == 1:
        return True
    half = max(w * (S - 1) / max(T - 1, S - 1), 0.5)
    return abs(j - i * (S - 1) / (T - 1)) <= half + 1e-9


def reference_sdtw(D: list[list[float]], gamma: float, w: float | None = None) -> float:
    """Cuturi & Blondel (2017), Algorithm 1, in plain Python (gamma=0: hard DTW)."""
    T, S = len(D), len(D[0])
    R = [[math.inf] * (S + 1) for _ in range(T + 1)]
    R[0][0] = 0.0
    for i in range(1, T + 1):
        for j in range(1, S + 1):
            if not in_band(i - 1, j - 1, T, S, w):
                continue
            prev = [R[i - 1][j - 1], R[i - 1][j], R[i][j - 1]]
            lo = min(prev)
            if gamma == 0:
                soft = lo
            else:
                soft = lo - gamma * math.log(sum(math.exp(-(p - lo) / gamma) for p in prev))
            R[i][j] = D[i - 1][j - 1] + soft
    return R[T][S]


def reference_torch(D: torch.Tensor, gamma: float, w: float | None = None) -> torch.Tensor:
    """The same recursion with autograd (a second, independent route to E = d sdtw / dD)."""
    T, S = D.shape
    inf = torch.tensor(math.inf, dtype=D.dtype)
    R = [[inf] * (S + 1) for _ in range(T + 1)]
    R[0][0] = torch.tensor(0.0, dtype=D.dtype)
    for i in range(1, T + 1):
        for j in range(1, S + 1):
            if in_band(i - 1, j - 1, T, S, w):
                prev = torch.stack([R[i - 1][j - 1], R[i - 1][j], R[i][j - 1]])
                R[i][j] = D[i - 1, j - 1] - gamma * torch.logsumexp(-prev / gamma, 0)
    return R[T][S]


CASES = [(5, 7, None), (6, 6, None), (6, 6, 1), (6, 6, 0), (4, 9, 3), (9, 4, 2), (1, 5, None), (5, 1, 2), (8, 8, 2),
         (12, 2, 4), (12, 3, 1), (7, 2, 0)]


@pytest.mark.parametrize("T,S,w", CASES, ids=[f"T{t}-S{s}-w{w}" for t, s, w in CASES])
def test_value_and_alignment_match_the_reference_dp(T, S, w):
    torch.manual_seed(T * 10 + S)
    D = torch.rand(3, T, S, dtype=torch.float64) * 2
    value, E = soft_dtw_cost(D, 0.5, w)
    for b in range(3):
        assert value[b].item() == pytest.approx(reference_sdtw(D[b].tolist(), 0.5, w), abs=1e-10)
        Db = D[b].clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(reference_torch(Db, 0.5, w), Db)
        torch.testing.assert_close(E[b], grad, atol=1e-10, rtol=0)
    outside = torch.tensor([[not in_band(i, j, T, S, w) for j in range(S)] for i in range(T)])
    assert torch.equal(E[:, outside], torch.zeros_like(E[:, outside]))


def test_gradients_of_value_and_alignment_equal_finite_differences():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: soft_dtw(a, b, 0.3, None), (x, y))
    assert torch.autograd.gradcheck(lambda a, b: soft_dtw(a, b, 0.3, 2), (x, y))
    D = torch.rand(2, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda d: soft_dtw_cost(d, 1.0, 1), (D,))


def test_ragged_pairs_equal_their_unpadded_computation_and_padding_is_ignored():
    torch.manual_seed(1)
    x = torch.randn(3, 7, 2, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 9, 2, dtype=torch.float64, requires_grad=True)
    xl, yl = torch.tensor([7, 4, 5]), torch.tensor([9, 3, 8])
    for w in (None, 1):
        value, E = soft_dtw(x, y, 0.4, w, xl, yl)
        for b in range(3):
            vb, Eb = soft_dtw(x[b : b + 1, : xl[b]], y[b : b + 1, : yl[b]], 0.4, w)
            torch.testing.assert_close(value[b], vb[0], atol=1e-12, rtol=0)
            torch.testing.assert_close(E[b, : xl[b], : yl[b]], Eb[0], atol=1e-12, rtol=0)
            assert E[b, xl[b]:].abs().sum() == 0 and E[b, :, yl[b]:].abs().sum() == 0
    assert torch.autograd.gradcheck(lambda a, b: soft_dtw(a, b, 0.4, 1, xl, yl), (x, y))


def test_a_short_sequence_against_many_slices_always_has_a_warping_path():
    """Regression: 12 slices against 2 visits with bandwidth 4 left rows 5-6 without a column
    (half-width 4/11 < 1/2), so no path existed: infinite cost and an all-zero alignment for
    every slice but the last (DMA-Net lost the markers of every patient with two visits)."""
    torch.manual_seed(4)
    for T in (10, 12, 30):
        for S in range(1, T + 1):
            x, y = torch.randn(1, T, 3, dtype=torch.float64), torch.randn(1, S, 3, dtype=torch.float64)
            value, E = soft_dtw(x, y, 0.1, 4)
            assert torch.isfinite(value).all(), (T, S)
            # every slice is aligned to the visits with total weight >= 1 (on the path)
            assert (E[0].sum(-1) >= 1 - 1e-9).all(), (T, S)
    # the same in a ragged batch (the fusion's case: one slice axis, histories of 1-5 visits)
    x, y = torch.randn(5, 12, 3), torch.randn(5, 5, 3)
    value, E = soft_dtw(x, y, 0.1, 4, torch.full((5,), 12), torch.tensor([1, 2, 3, 4, 5]))
    assert torch.isfinite(value).all() and (E.sum(-1) >= 1 - 1e-5).all()


def test_small_gamma_approaches_hard_dtw_within_the_log3_bound():
    torch.manual_seed(2)
    D = torch.rand(1, 8, 10, dtype=torch.float64)
    hard = reference_sdtw(D[0].tolist(), 0.0)
    gaps = []
    for gamma in (1.0, 0.1, 0.01, 0.001):
        value, E = soft_dtw_cost(D, gamma)
        gap = hard - value.item()
        # Cuturi & Blondel: dtw - gamma * log(#paths) <= sdtw <= dtw, #paths <= 3^(T+S)
        assert -1e-12 <= gap <= gamma * math.log(3) * (8 + 10)
        gaps.append(gap)
    assert gaps == sorted(gaps, reverse=True) and gaps[-1] < 0.05
    # the expected alignment becomes the (0/1) optimal path
    assert ((E > 0.99) | (E < 0.01)).all()
    assert E[0, 0, 0] > 0.99 and E[0, -1, -1] > 0.99


def test_matches_pysdtw_with_and_without_band():
    import pysdtw

    torch.manual_seed(3)
    x, y = torch.randn(4, 12, 3), torch.randn(4, 12, 3)
    exact = pysdtw.distance.pairwise_l2_squared_exact
    for w in (None, 3):
        ref = pysdtw.SoftDTW(gamma=0.7, dist_func=exact, use_cuda=False, bandwidth=w)(x, y)
        ours, _ = soft_dtw(x, y, 0.7, w)
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


def test_band_memory_is_linear_in_length_and_narrow_bands_are_refused():
    lay = band_layout(200, 200, 5)
    assert lay.n_cells <= 200 * (2 * 5 + 1)
    assert band_layout(200, 200, None).n_cells == 200 * 200
    with pytest.raises(ValueError, match="too narrow"):
        soft_dtw(torch.randn(1, 3, 2), torch.randn(1, 12, 2), 1.0, bandwidth=1)
    with pytest.raises(ValueError, match="gamma must be > 0"):
        soft_dtw(torch.randn(1, 3, 2), torch.randn(1, 3, 2), 0.0)
    with pytest.raises(ValueError, match="lengths"):
        soft_dtw(torch.randn(2, 3, 2), torch.randn(2, 3, 2), 1.0, y_lengths=torch.tensor([3, 0]))


def test_alignment_puts_a_shifted_copy_back_on_the_query_axis():
    t = torch.linspace(0, 1, 12)
    x = torch.sin(6 * t)[None, :, None]
    y = torch.sin(6 * torch.clamp(t - 0.15, min=0))[None, :, None]  # delayed copy
    _, E = soft_dtw(x, y, 1e-3)
    aligned = align_sequence(y, E)
    assert (aligned - x).abs().mean() < (y - x).abs().mean() / 2
    assert (E.sum(-1) >= 1 - 1e-6).all()


def test_module_divergence_is_zero_for_identical_sequences():
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    out = SoftDTW(gamma=0.5, normalize=True)(x, x.clone())
    torch.testing.assert_close(out["cost"], torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)
    assert out["aligned"].shape == (2, 5, 3)
    with pytest.raises(UnknownOptionError, match="Did you mean 'softdtw'"):
        ALIGNERS.build("soft_dtw")
