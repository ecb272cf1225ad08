"""Differentiable soft-DTW with a Sakoe-Chiba band, in vectorised torch.

Soft-DTW (Cuturi & Blondel, "Soft-DTW: a Differentiable Loss Function for Time-Series",
ICML 2017) replaces the minimum of the DTW recursion with the smoothed minimum

.. math::
    r_{i,j} = d_{i,j} + \\min\\nolimits^\\gamma(r_{i-1,j-1}, r_{i-1,j}, r_{i,j-1}),
    \\qquad \\min\\nolimits^\\gamma(a) = -\\gamma \\log \\sum_k e^{-a_k/\\gamma},

with :math:`r_{0,0} = 0` and :math:`r = +\\infty` outside the grid (or the band). The value
is :math:`\\mathrm{sdtw}_\\gamma = r_{T,S}`; its gradient with respect to the cost matrix
is the *expected alignment matrix* :math:`E = \\partial r_{T,S} / \\partial D`, computed by
the paper's backward recursion (Algorithm 2)

.. math:: e_{i,j} = e_{i+1,j}\\, q^{(i+1,j)}_{\\uparrow} + e_{i,j+1}\\, q^{(i,j+1)}_{\\leftarrow}
          + e_{i+1,j+1}\\, q^{(i+1,j+1)}_{\\nwarrow},

where :math:`q^{(s)} = \\mathrm{softmax}(-r_{\\mathrm{pred}(s)}/\\gamma)` are the local
weights saved in the forward pass. The alignment itself is differentiable: its
vector-Jacobian product is the Hessian-vector product of soft-DTW, computed by a forward
tangent pass and a backward tangent pass over the same wavefront (Mensch & Blondel,
"Differentiable Dynamic Programming for Structured Prediction and Attention", ICML 2018).

Every pass loops over the :math:`T + S - 1` anti-diagonals and is vectorised over the
batch and over the cells of a diagonal; only in-band cells are stored
(:math:`O(T\\cdot w)` memory and time, see :mod:`oncofusion.nn.align._band`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from oncofusion.nn.align._band import BandLayout, band_layout, row_bounds, union_layout
from oncofusion.nn.registries import ALIGNERS

__all__ = ["SoftDTW", "align_sequence", "soft_dtw", "soft_dtw_cost"]


def _forward(cost: Tensor, lay: BandLayout, gamma: float) -> tuple[Tensor, Tensor]:
    """R (B, N+2) and the local softmin weights Q (B, N+2, 3) of the forward recursion.

    Stable smoothed minimum: with :math:`m = \\min_k r_k`,
    :math:`\\min^\\gamma(r) = m - \\gamma \\log \\sum_k e^{-(r_k - m)/\\gamma}` and
    :math:`q_k = e^{-(r_k - m)/\\gamma} / \\sum_l e^{-(r_l - m)/\\gamma}`; all-infinite
    predecessors (cells past a ragged pair's end) give :math:`+\\infty` and q = 0.
    """
    b, n = cost.shape
    R = cost.new_full((b, n + 2), float("inf"))
    R[:, lay.origin] = 0.0
    Q = cost.new_zeros((b, n + 2, 3))
    pred = lay.pred.to(cost.device)
    tiny = torch.finfo(cost.dtype).tiny
    for d in range(len(lay.bounds) - 1):
        s, e = lay.bounds[d], lay.bounds[d + 1]
        if s == e:
            continue
        r = R.index_select(1, pred[s:e].reshape(-1)).view(b, e - s, 3)
        m = r.amin(-1, keepdim=True).nan_to_num_(posinf=0.0)
        ex = torch.sub(m, r).div_(gamma).exp_()
        total = ex.sum(-1, keepdim=True)
        Q[:, s:e] = ex.div_(total.clamp_min(tiny))
        R[:, s:e] = cost[:, s:e] + (m - gamma * total.log()).squeeze(-1)
    return R, Q


def _backward_pass(lay: BandLayout, seed: Tensor, weights: Tensor, extra: Tensor | None) -> Tensor:
    """Reverse wavefront ``X_c = seed_c + sum_k X_{succ_k} W_{succ_k, k} (+ extra)``.

    ``weights`` (B, N+2, 3); ``extra`` (B, N+2, 3) adds ``sum_k extra_{succ_k, k}``.
    """
    b = seed.shape[0]
    X = seed.clone()
    flat_w = weights.reshape(b, -1)
    flat_x = None if extra is None else extra.reshape(b, -1)
    succ = lay.succ.to(seed.device)
    slot = torch.arange(3, device=seed.device)
    for d in range(len(lay.bounds) - 2, -1, -1):
        s, e = lay.bounds[d], lay.bounds[d + 1]
        if s == e:
            continue
        sc = succ[s:e]
        wid = (sc * 3 + slot).reshape(-1)
        acc = X.index_select(1, sc.reshape(-1)) * flat_w.index_select(1, wid)
        if flat_x is not None:
            acc = acc + flat_x.index_select(1, wid)
        X[:, s:e] += acc.view(b, e - s, 3).sum(-1)
    return X


def _tangent_forward(z: Tensor, Q: Tensor, lay: BandLayout, gamma: float) -> Tensor:
    """Directional derivative of the local weights, Q-dot (B, N+2, 3), along ``z`` (B, N)."""
    b, n = z.shape
    Rd = z.new_zeros((b, n + 2))
    Qd = torch.zeros_like(Q)
    pred = lay.pred.to(z.device)
    for d in range(len(lay.bounds) - 1):
        s, e = lay.bounds[d], lay.bounds[d + 1]
        if s == e:
            continue
        rd = Rd.index_select(1, pred[s:e].reshape(-1)).view(b, e - s, 3)
        q = Q[:, s:e]
        mean = (q * rd).sum(-1, keepdim=True)
        Rd[:, s:e] = z[:, s:e] + mean.squeeze(-1)
        Qd[:, s:e] = -(q / gamma) * (rd - mean)
    return Qd


class _SoftDTWFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cost, end, lay, gamma, want_alignment):  # type: ignore[override]
        R, Q = _forward(cost, lay, gamma)
        value = R.gather(1, end[:, None]).squeeze(1)
        seed = torch.zeros_like(R).scatter_(1, end[:, None], 1.0)
        E = _backward_pass(lay, seed, Q, None)
        ctx.save_for_backward(Q, E)
        ctx.lay, ctx.gamma = lay, gamma
        align = E[:, : lay.n_cells] if want_alignment else cost.new_zeros(0)
        if not want_alignment:
            ctx.mark_non_differentiable(align)
        return value, align

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_value, grad_align):  # type: ignore[override]
        Q, E = ctx.saved_tensors
        lay, gamma = ctx.lay, ctx.gamma
        n = lay.n_cells
        grad = grad_value[:, None] * E[:, :n]
        if grad_align is not None and grad_align.numel() > 0 and bool(grad_align.any()):
            Qd = _tangent_forward(grad_align, Q, lay, gamma)
            Ed = _backward_pass(lay, torch.zeros_like(E), Q, E[:, :, None] * Qd)
            grad = grad + Ed[:, :n]
        return grad, None, None, None, None


def _check(gamma: float, bandwidth: float | None) -> None:
    if not gamma > 0:
        raise ValueError(f"soft-DTW smoothing gamma must be > 0, got {gamma}; use a small "
                         "positive value (e.g. 1e-3) to approach hard DTW.")
    if bandwidth is not None and bandwidth < 0:
        raise ValueError(f"bandwidth must be >= 0 or None, got {bandwidth}.")


def _lengths(lengths: Tensor | None, full: int, batch: int, device: torch.device, name: str) -> Tensor:
    if lengths is None:
        return torch.full((batch,), full, dtype=torch.long, device=device)
    lengths = torch.as_tensor(lengths, device=device).long().reshape(-1)
    if lengths.numel() != batch or bool((lengths < 1).any()) or bool((lengths > full).any()):
        raise ValueError(f"{name} must hold {batch} lengths in [1, {full}], got {lengths.tolist()}.")
    return lengths


def _layout(T: int, S: int, bandwidth: float | None, x_len: Tensor, y_len: Tensor) -> tuple[BandLayout, Tensor | None]:
    """Layout of the grid and, for ragged pairs, the (B, N) cells outside each pair's region."""
    tmax, smax = int(x_len.max()), int(y_len.max())
    ragged = bool((x_len != tmax).any()) or bool((y_len != smax).any())
    if not ragged:
        return band_layout(tmax, smax, bandwidth), None
    if bandwidth is None:
        lay = band_layout(tmax, smax, None)
    else:
        pairs = tuple(sorted(set(zip(x_len.tolist(), y_len.tolist()))))
        lay = union_layout(tmax, smax, float(bandwidth), pairs)
    ci, cj = lay.cell_i.to(x_len.device), lay.cell_j.to(x_len.device)
    outside = (ci[None] >= x_len[:, None]) | (cj[None] >= y_len[:, None])
    if bandwidth is not None:  # each pair keeps the band of its own lengths
        bounds = {p: row_bounds(p[0], p[1], bandwidth) for p in set(zip(x_len.tolist(), y_len.tolist()))}
        lo = torch.stack([torch.nn.functional.pad(bounds[p][0], (0, tmax - p[0]))
                          for p in zip(x_len.tolist(), y_len.tolist())]).to(x_len.device)
        hi = torch.stack([torch.nn.functional.pad(bounds[p][1], (0, tmax - p[0]))
                          for p in zip(x_len.tolist(), y_len.tolist())]).to(x_len.device)
        rows = ci[None].expand(x_len.shape[0], -1)
        outside |= (cj[None] < lo.gather(1, rows)) | (cj[None] > hi.gather(1, rows))
    return lay, outside


def _run(cells: Tensor, lay: BandLayout, outside: Tensor | None, gamma: float, x_len: Tensor, y_len: Tensor,
         T: int, S: int, return_alignment: bool) -> tuple[Tensor, Tensor | None]:
    b = cells.shape[0]
    if outside is not None:
        cells = torch.where(outside, torch.full_like(cells, float("inf")), cells)
    end = lay.index(x_len.cpu() - 1, y_len.cpu() - 1).to(cells.device)
    value, align = _SoftDTWFunction.apply(cells, end, lay, float(gamma), return_alignment)
    if not return_alignment:
        return value, None
    ci, cj = lay.cell_i.to(cells.device), lay.cell_j.to(cells.device)
    dense = cells.new_zeros((b, T * S)).index_copy(1, ci * S + cj, align)
    return value, dense.view(b, T, S)


def soft_dtw_cost(
    cost: Tensor,
    gamma: float = 1.0,
    bandwidth: float | None = None,
    x_lengths: Tensor | None = None,
    y_lengths: Tensor | None = None,
    return_alignment: bool = True,
) -> tuple[Tensor, Tensor | None]:
    """Soft-DTW of a precomputed cost matrix ``cost`` (B, T, S).

    Returns the value (B,) and, if asked, the expected alignment matrix
    :math:`E = \\partial\\, \\mathrm{sdtw}_\\gamma / \\partial D` (B, T, S) (zero outside the
    band and beyond each pair's lengths). Both are differentiable with respect to ``cost``.
    With ``x_lengths``/``y_lengths`` each pair uses the band of its own lengths.
    """
    _check(gamma, bandwidth)
    if cost.dim() != 3:
        raise ValueError(f"cost must have shape (B, T, S), got {tuple(cost.shape)}.")
    b, T, S = cost.shape
    x_len = _lengths(x_lengths, T, b, cost.device, "x_lengths")
    y_len = _lengths(y_lengths, S, b, cost.device, "y_lengths")
    lay, outside = _layout(T, S, bandwidth, x_len, y_len)
    ci, cj = lay.cell_i.to(cost.device), lay.cell_j.to(cost.device)
    cells = cost.reshape(b, T * S).index_select(1, ci * S + cj)
    return _run(cells, lay, outside, gamma, x_len, y_len, T, S, return_alignment)


def soft_dtw(
    x: Tensor,
    y: Tensor,
    gamma: float = 1.0,
    bandwidth: float | None = None,
    x_lengths: Tensor | None = None,
    y_lengths: Tensor | None = None,
    return_alignment: bool = True,
) -> tuple[Tensor, Tensor | None]:
    """Soft-DTW between sequences ``x`` (B, T, F) and ``y`` (B, S, F).

    The cost is the squared Euclidean distance :math:`d_{i,j} = \\lVert x_i - y_j \\rVert^2`:
    by direct differences of the in-band cells only (memory :math:`O(T w F)`) when a band
    keeps less than half of the grid, else as :math:`\\lVert x_i\\rVert^2 + \\lVert y_j\\rVert^2
    - 2 x_i^\\top y_j` (clamped at 0) with one batched matrix product.
    ``x_lengths``/``y_lengths`` (B,) give the true lengths of right-padded sequences.
    See :func:`soft_dtw_cost` for the outputs.
    """
    _check(gamma, bandwidth)
    if x.dim() != 3 or y.dim() != 3 or x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2]:
        raise ValueError(f"x and y must be (B, T, F) and (B, S, F), got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}.")
    b, T, _ = x.shape
    S = y.shape[1]
    x_len = _lengths(x_lengths, T, b, x.device, "x_lengths")
    y_len = _lengths(y_lengths, S, b, x.device, "y_lengths")
    lay, outside = _layout(T, S, bandwidth, x_len, y_len)
    ci, cj = lay.cell_i.to(x.device), lay.cell_j.to(x.device)
    if lay.n_cells * 2 > lay.T * lay.S:  # (nearly) full grid: one batched matmul
        xt, ys = x[:, : lay.T], y[:, : lay.S]
        dense = (xt.pow(2).sum(-1)[:, :, None] + ys.pow(2).sum(-1)[:, None, :]
                 - 2 * torch.bmm(xt, ys.transpose(1, 2))).clamp_min(0)
        cells = dense.reshape(b, -1).index_select(1, ci * lay.S + cj)
    else:  # band: in-band cells only, O(T w) memory
        cells = (x.index_select(1, ci) - y.index_select(1, cj)).pow(2).sum(-1)
    return _run(cells, lay, outside, gamma, x_len, y_len, T, S, return_alignment)


def align_sequence(y: Tensor, alignment: Tensor) -> Tensor:
    """Put ``y`` (B, S, F) on the time axis of ``x`` with the alignment ``E`` (B, T, S).

    .. math:: \\tilde y_i = \\frac{\\sum_j e_{i,j}\\, y_j}{\\sum_j e_{i,j}}

    Every row of :math:`E` sums to at least 1 (each warping path visits every row), so the
    normalisation is safe inside the lengths; rows past ``x``'s length give 0.
    """
    weight = alignment / alignment.sum(-1, keepdim=True).clamp_min(1e-12)
    return weight @ y


@ALIGNERS.register("softdtw")
class SoftDTW(nn.Module):
    """Soft-DTW alignment of one sequence onto another's time axis (DMA-Net §2.3).

    Parameters
    ----------
    gamma
        Smoothing :math:`\\gamma > 0`; :math:`\\gamma \\to 0` gives hard DTW.
    bandwidth
        Sakoe-Chiba half-width ``w`` (None: no band).
    normalize
        If True, return the soft-DTW *divergence*
        :math:`\\mathrm{sdtw}(x, y) - \\tfrac12(\\mathrm{sdtw}(x, x) + \\mathrm{sdtw}(y, y))`
        as ``cost`` (Blondel et al. 2021), which is 0 for identical sequences.

    Forward
    -------
    ``forward(x, y, x_lengths=None, y_lengths=None)`` with ``x`` (B, T, F), ``y`` (B, S, F)
    returns ``{"cost": (B,), "alignment": (B, T, S), "aligned": (B, T, F)}`` where
    ``aligned`` is ``y`` resampled on ``x``'s time axis by :func:`align_sequence`.
    """

    def __init__(self, gamma: float = 0.1, bandwidth: float | None = None, normalize: bool = False) -> None:
        super().__init__()
        _check(gamma, bandwidth)
        self.gamma, self.bandwidth, self.normalize = float(gamma), bandwidth, bool(normalize)

    def forward(self, x: Tensor, y: Tensor, x_lengths: Tensor | None = None,
                y_lengths: Tensor | None = None) -> dict[str, Tensor]:
        cost, align = soft_dtw(x, y, self.gamma, self.bandwidth, x_lengths, y_lengths)
        assert align is not None
        if self.normalize:
            cxx, _ = soft_dtw(x, x, self.gamma, self.bandwidth, x_lengths, x_lengths, False)
            cyy, _ = soft_dtw(y, y, self.gamma, self.bandwidth, y_lengths, y_lengths, False)
            cost = cost - 0.5 * (cxx + cyy)
        return {"cost": cost, "alignment": align, "aligned": align_sequence(y, align)}

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, bandwidth={self.bandwidth}, normalize={self.normalize}"
