"""Counting comparable pairs for concordance in O(n log n), vectorised with numpy.

Harrell's and Uno's C need, for every event ``i``, the number of samples ``j`` that outlive it
(the comparable set :math:`C_i`) and have a lower risk. That is a two-dimensional dominance
count. It is solved here offline by a merge-sort over the *time* order, run top-down with one
stable partition per level (``O(n)`` numpy passes per level, ``log2 n`` levels), with the
elements already sorted by risk inside each block. A query element in the left half of a block
counts the points of the right half that precede it in risk order.

The level structure depends only on times, events and risks, so it is built once and can be
replayed for any matrix of case weights (one row per bootstrap resample).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PairCounts", "PairLevels", "comparable_pairs"]


@dataclass(frozen=True)
class PairCounts:
    """Per-event counts over the comparable set :math:`C_i` (unit weights).

    ``events`` are the indices of the events (``time`` order of the input); ``below[k]`` is
    :math:`\\#\\{j \\in C_i : r_j < r_i - tol\\}`, ``below_or_tied[k]`` is
    :math:`\\#\\{j \\in C_i : r_j \\le r_i + tol\\}`, ``comparable[k]`` is :math:`|C_i|`, and
    ``tied_time[k]`` the number of censored samples at the same time as event ``i``.
    """

    events: np.ndarray
    below: np.ndarray
    below_or_tied: np.ndarray
    comparable: np.ndarray
    tied_time: np.ndarray


def _keys(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Order key: an event at time t precedes the censorings at t, which precede later times.

    ``C_i = {j : key_j > key_i}`` for an event ``i``.
    """
    t_order = np.argsort(time)
    ts = time[t_order]
    new = np.empty(ts.shape[0], dtype=np.int64)
    new[0] = 0
    np.not_equal(ts[1:], ts[:-1], out=new[1:], casting="unsafe")
    tr = np.empty_like(new)
    tr[t_order] = np.cumsum(new)
    return 2 * tr + (~event).astype(np.int64)


def _rank_thresholds(
    risk: np.ndarray, tied_tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank ``v`` of each risk and the thresholds ``q_lo``, ``q_hi`` for every sample.

    ``#{j : r_j < r_i - tol} = q_lo[i]`` and ``#{j : r_j <= r_i + tol} = q_hi[i]``; searching
    sorted needles keeps the binary searches cache-friendly.
    """
    n = risk.shape[0]
    r_order = np.argsort(risk)
    r_sorted = risk[r_order]
    v = np.empty(n, dtype=np.int64)
    v[r_order] = np.arange(n, dtype=np.int64)
    q_lo = np.empty(n, dtype=np.int64)
    q_hi = np.empty(n, dtype=np.int64)
    q_lo[r_order] = np.searchsorted(r_sorted, r_sorted - tied_tol, side="left")
    q_hi[r_order] = np.searchsorted(r_sorted, r_sorted + tied_tol, side="right")
    return v, q_lo, q_hi


class PairLevels:
    """The merge levels for one data set; counts for unit weights or a weight matrix.

    Parameters
    ----------
    time, event, risk
        Validated arrays (float64, bool, float64), ``risk`` higher means worse.
    tied_tol
        Risks with :math:`|r_i - r_j| \\le` ``tied_tol`` are tied.
    keep
        Store the per-level index arrays so :meth:`weighted` can replay them (bootstrap).
    """

    def __init__(
        self,
        time: np.ndarray,
        event: np.ndarray,
        risk: np.ndarray,
        tied_tol: float,
        *,
        keep: bool = False,
    ) -> None:
        n = time.shape[0]
        key = _keys(time, event)
        v, q_lo_all, q_hi_all = _rank_thresholds(risk, tied_tol)
        events = np.flatnonzero(event)
        q_lo = q_lo_all[events]
        q_hi = q_hi_all[events]
        # an event answers its own "below" query when no other risk lies within tol below it
        self_q = q_lo == v[events]
        # the tie query is needed only when another sample lies within tol of the event
        need_hi = (q_hi - q_lo) >= 2
        lo_ev = np.flatnonzero(~self_q)
        hi_ev = np.flatnonzero(need_hi)
        n_q = lo_ev.size + hi_ev.size
        m = n + n_q
        # element table: points 0..n-1 (samples), then explicit queries. Position order: key,
        # then the points of that key by risk (so tied events never count each other), then
        # the explicit queries of that key.
        el_key = np.concatenate([key, key[events[lo_ev]], key[events[hi_ev]]])
        el_val = np.concatenate([2 * v, 2 * q_lo[lo_ev] - 1, 2 * q_hi[hi_ev] - 1])
        comp = 2 * el_key
        comp[n:] += 1
        comp *= 2 * n + 1
        comp += el_val + 1
        pos_order = np.argsort(comp)
        del comp
        itype = np.int32 if m < 2**31 - 1 else np.int64
        pos = np.empty(m, dtype=itype)
        pos[pos_order] = np.arange(m, dtype=itype)
        is_point = np.zeros(m, dtype=bool)
        is_point[pos[:n]] = True
        # query id per position: event k answers query k itself, explicit lo, then hi queries
        n_ev = events.size
        qid = np.full(m, -1, dtype=itype)
        qid[pos[events[self_q]]] = np.flatnonzero(self_q)
        qid[pos[n:]] = n_ev + np.arange(n_q, dtype=itype)
        sample_at = np.full(m, -1, dtype=itype)
        sample_at[pos[:n]] = np.arange(n, dtype=itype)

        self.n = n
        self.n_events = n_ev
        self.events = events
        self.key = key
        self.lo_ev = lo_ev
        self.hi_ev = hi_ev
        self.n_queries = n_ev + n_q
        self._levels: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._unit = np.zeros(self.n_queries, dtype=np.int64)

        val_by_pos = np.empty(m, dtype=np.int64)
        val_by_pos[pos] = el_val
        order: np.ndarray = np.argsort(val_by_pos).astype(itype)  # positions sorted by value
        del val_by_pos
        n_levels = int(np.ceil(np.log2(m))) if m > 1 else 0
        idx = np.arange(m, dtype=itype)
        new_order: np.ndarray = np.empty_like(order)
        for s in range(n_levels, 0, -1):
            half = 1 << (s - 1)  # Python ints keep the array's integer type (NEP 50)
            right = (order & half) != 0
            start = order & ~((1 << s) - 1)
            rp = right & is_point[order]
            crp = np.cumsum(rp, dtype=itype)  # inclusive; equals exclusive on left elements
            q = qid[order]
            lq = np.flatnonzero(~right & (q >= 0))
            a = crp[lq]
            st = start[lq]
            a0 = crp[st] - rp[st]
            self._unit[q[lq]] += a - a0  # each query appears once per level
            if keep:
                self._levels.append((sample_at[order[rp]], q[lq], a, a0))
            # stable partition of each block into its left and right half:
            # left elements go to idx - ones_before, right ones to start + half + ones_before
            ch = np.cumsum(right, dtype=itype)
            np.subtract(ch, right, out=ch, casting="unsafe")  # exclusive count
            ones_before = ch - ch[start]
            new_idx = np.where(right, start + half + ones_before, idx - ones_before)
            new_order[new_idx] = order
            order, new_order = new_order, order

    def _split(self, cnt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Turn query counts (..., n_queries) into per-event (below, below_or_tied)."""
        n_ev = self.n_events
        below = np.array(cnt[..., :n_ev], copy=True)
        off = n_ev
        below[..., self.lo_ev] = cnt[..., off : off + self.lo_ev.size]
        off += self.lo_ev.size
        below_or_tied = below.copy()
        below_or_tied[..., self.hi_ev] = cnt[..., off : off + self.hi_ev.size]
        return below, below_or_tied

    def unit(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-event (below, below_or_tied) counts with unit weights."""
        return self._split(self._unit)

    def weighted(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-event counts where sample ``j`` counts ``weights[b, j]`` (shape (B, n))."""
        if not self._levels and self.n > 1:
            raise RuntimeError("PairLevels was built without keep=True")  # internal misuse
        w = np.asarray(weights, dtype=np.float64)
        b = w.shape[0]
        cnt = np.zeros((b, self.n_queries), dtype=np.float64)
        for samples, q, a, a0 in self._levels:
            cum = np.zeros((b, samples.size + 1), dtype=np.float64)
            np.cumsum(w[:, samples], axis=1, out=cum[:, 1:])
            cnt[:, q] += cum[:, a] - cum[:, a0]
        return self._split(cnt)


def comparable_pairs(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, tied_tol: float
) -> PairCounts:
    """Per-event concordance counts with unit weights (see :class:`PairCounts`)."""
    levels = PairLevels(time, event, risk, tied_tol)
    below, below_or_tied = levels.unit()
    key = levels.key
    counts = np.bincount(key, minlength=int(key.max()) + 2)
    at_or_below = np.cumsum(counts)
    k_ev = key[levels.events]
    comparable = time.shape[0] - at_or_below[k_ev]
    tied_time = counts[k_ev + 1]
    return PairCounts(levels.events, below, below_or_tied, comparable, tied_time)
