"""Cell layout of a (banded) soft-DTW grid, in anti-diagonal (wavefront) order.

Only the cells inside the Sakoe-Chiba band are stored, so memory and time are
:math:`O(T \\cdot w)`. Cell ``(i, j)`` (0-based) lies in the band of half-width ``w`` iff

.. math:: \\Big|\\frac{i}{T-1} - \\frac{j}{S-1}\\Big| \\cdot \\max(T-1, S-1) \\le w,

i.e. ``|i - j| <= w`` for ``T == S`` (the convention of Sakoe & Chiba 1978, pysdtw and
tslearn), measured along the longer axis otherwise, so both corners are always inside.
Equivalently, row ``i`` holds the columns ``j`` with :math:`|j - i (S-1)/(T-1)| \\le h`,
:math:`h = w (S-1) / \\max(T-1, S-1)`, and this half-width is widened to half a column
where it is smaller (:math:`h \\ge 1/2`). Without that, when the rows far outnumber the
columns (12 time slices against a history of 2 visits, ``w = 4``: :math:`h = 4/11`) some
rows hold no column at all and no warping path exists, which gives an infinite cost and an
all-zero alignment without any error. With :math:`h \\ge 1/2` every row keeps the column
nearest to its point on the diagonal, so for ``T >= S`` a path always exists; a band too
narrow for consecutive rows to connect (``S`` much longer than ``T``) is refused.

Cells are numbered diagonal by diagonal (``d = i + j``), row-ascending within a diagonal;
within each diagonal the in-band cells form one contiguous run. Two extra storage slots
follow the ``n_cells`` cells: ``ORIGIN`` (value 0, the virtual cell ``(-1, -1)``) and
``PAD`` (value :math:`+\\infty`, everything outside the grid or band).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

__all__ = ["BandLayout", "band_layout", "row_bounds", "union_layout"]


class BandLayout:
    """Index tables of the wavefront of a ``T x S`` grid. See the module docstring.

    Attributes
    ----------
    n_cells
        Number of in-band cells ``N``.
    cell_i, cell_j
        (N,) row and column of each cell.
    pred
        (N, 3) slots of the predecessors ``(i-1, j-1)``, ``(i-1, j)``, ``(i, j-1)``.
    succ
        (N, 3) slots of the successors ``(i+1, j+1)``, ``(i+1, j)``, ``(i, j+1)``; the
        cell is predecessor number ``k`` of ``succ[:, k]``.
    bounds
        Cells of diagonal ``d`` are ``bounds[d]:bounds[d+1]``.
    """

    def __init__(self, T: int, S: int, lo: Tensor, hi: Tensor) -> None:
        self.T, self.S, self.lo, self.hi = T, S, lo, hi
        rows = torch.arange(T)
        n_diag = T + S - 1
        d = torch.arange(n_diag)
        # first row on diagonal d: min i with i + hi_i >= d; last: max i with i + lo_i <= d
        self._first = torch.searchsorted(rows + hi, d, right=False)
        last = torch.searchsorted(rows + lo, d, right=True) - 1
        counts = (last - self._first + 1).clamp(min=0)
        start = torch.zeros(n_diag + 1, dtype=torch.long)
        start[1:] = torch.cumsum(counts, 0)
        self._start = start[:-1]
        self.bounds = tuple(int(v) for v in start.tolist())
        self.n_cells = int(start[-1])
        diag = torch.repeat_interleave(d, counts)
        ci = torch.arange(self.n_cells) - self._start[diag] + self._first[diag]
        cj = diag - ci
        self.cell_i, self.cell_j = ci, cj
        idx = self.index
        pred = torch.stack([idx(ci - 1, cj - 1), idx(ci - 1, cj), idx(ci, cj - 1)], 1)
        pred[(ci == 0) & (cj == 0), 0] = self.origin
        self.pred = pred
        self.succ = torch.stack([idx(ci + 1, cj + 1), idx(ci + 1, cj), idx(ci, cj + 1)], 1)

    @property
    def origin(self) -> int:
        """Slot of the virtual cell ``(-1, -1)`` (value 0)."""
        return self.n_cells

    @property
    def pad(self) -> int:
        """Slot standing for every cell outside the grid or the band (value +inf)."""
        return self.n_cells + 1

    def index(self, i: Tensor, j: Tensor) -> Tensor:
        """Storage slot of cells ``(i, j)``; ``pad`` outside the grid or the band."""
        inside = (i >= 0) & (i < self.T) & (j >= 0) & (j < self.S)
        ic = i.clamp(0, self.T - 1)
        inside &= (j >= self.lo[ic]) & (j <= self.hi[ic])
        d = (i + j).clamp(0, self.T + self.S - 2)
        slot = self._start[d] + i - self._first[d]
        return torch.where(inside, slot, torch.full_like(slot, self.pad))


def _row_bounds(T: int, S: int, bandwidth: float | None) -> tuple[Tensor, Tensor]:
    if bandwidth is None or T == 1 or S == 1:
        return torch.zeros(T, dtype=torch.long), torch.full((T,), S - 1, dtype=torch.long)
    m = max(T - 1, S - 1)
    i = torch.arange(T, dtype=torch.float64)
    centre = i * (S - 1) / (T - 1)
    # at least half a column, so that every row holds a cell (see the module docstring)
    half = max(float(bandwidth) * (S - 1) / m, 0.5)
    eps = 1e-9
    lo = torch.ceil(centre - half - eps).clamp(min=0).long()
    hi = torch.floor(centre + half + eps).clamp(max=S - 1).long()
    return lo, hi


def row_bounds(T: int, S: int, bandwidth: float | None) -> tuple[Tensor, Tensor]:
    """First and last in-band column of every row; raises if no warping path fits."""
    if T < 1 or S < 1:
        raise ValueError(f"soft-DTW needs sequences of length >= 1, got {T} and {S}.")
    if bandwidth is not None and bandwidth < 0:
        raise ValueError(f"bandwidth must be >= 0 or None (no band), got {bandwidth}.")
    lo, hi = _row_bounds(T, S, bandwidth)
    if bool((lo > hi).any()) or (T > 1 and bool((lo[1:] > hi[:-1] + 1).any())):
        need = math.ceil(((max(T, S) - 1) / max(min(T, S) - 1, 1) - 1) / 2)
        raise ValueError(
            f"bandwidth={bandwidth} is too narrow for sequences of lengths {T} and {S}: "
            f"no warping path fits in the band. Use bandwidth >= {max(need, 1)} or None."
        )
    return lo, hi


@lru_cache(maxsize=64)
def band_layout(T: int, S: int, bandwidth: float | None = None) -> BandLayout:
    """Build (and cache) the wavefront layout of a ``T x S`` grid with band ``bandwidth``.

    Raises
    ------
    ValueError
        If the band is so narrow that no warping path joins ``(0, 0)`` to ``(T-1, S-1)``.
    """
    lo, hi = row_bounds(T, S, bandwidth)
    return BandLayout(T, S, lo, hi)


@lru_cache(maxsize=64)
def union_layout(T: int, S: int, bandwidth: float, pairs: tuple[tuple[int, int], ...]) -> BandLayout:
    """Layout covering the bands of several ``(T_b, S_b)`` pairs on one ``T x S`` grid.

    Each pair keeps the band of its *own* lengths (masked per pair by the caller); the
    layout stores the union, widened to be monotone (first columns: running minimum over
    the pairs still active; last columns: running maximum), so it stays a valid wavefront.
    """
    lo = torch.full((T,), S - 1, dtype=torch.long)
    hi = torch.zeros(T, dtype=torch.long)
    for tb, sb in pairs:
        plo, phi = row_bounds(tb, sb, bandwidth)
        lo[:tb] = torch.minimum(lo[:tb], plo)
        hi[:tb] = torch.maximum(hi[:tb], phi)
    lo = torch.flip(torch.cummin(torch.flip(lo, [0]), 0).values, [0])
    hi = torch.cummax(hi, 0).values
    return BandLayout(T, S, lo, hi)
