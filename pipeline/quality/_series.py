"""Shared helpers: positions as ``(time, series)`` arrays, point-count stats, the running median.

:func:`running_median` is the package's one NaN-aware running median (the
``rolling_median`` filter step and the behaviour feature smoothing both use
it). Missing values become +inf so that they sort last; a sorting network of
``np.minimum`` / ``np.maximum`` calls orders the lower half of every window
at once, and the count of valid values picks the middle. The median of an
even number of valid values is the mean of the middle two; windows are
truncated at the ends of the recording; a window with no valid value gives NaN.
:func:`pipeline.behavior.primitives.majority` is a separate boolean vote on
purpose (see there).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..pose import PoseData


def stats(before: np.ndarray, after: np.ndarray) -> dict:
    """Point counts removed / changed / filled between two position arrays."""
    b_ok = ~np.isnan(before).any(-1)
    a_ok = ~np.isnan(after).any(-1)
    both = b_ok & a_ok
    moved = both & (before != after).any(-1)
    return {"removed": int((b_ok & ~a_ok).sum()), "changed": int(moved.sum()),
            "filled": int((~b_ok & a_ok).sum())}


def new(pose: PoseData, positions: np.ndarray, confidence: np.ndarray | None = None):
    """A copy of ``pose`` with new positions (missing points made fully NaN) and its stats."""
    positions = positions.copy()
    positions[np.isnan(positions).any(-1)] = np.nan
    conf = pose.confidence.copy() if confidence is None else confidence
    out = dataclasses.replace(pose, positions=positions, confidence=conf)
    return out, stats(pose.positions, positions)


def flat(pose: PoseData) -> np.ndarray:
    """Positions as a ``(time, series)`` copy, missing points fully NaN."""
    pos = pose.positions.copy()
    pos[np.isnan(pos).any(-1)] = np.nan
    return pos.reshape(pose.n_frames, -1)


def fill_all(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over every gap of each column, edges held constant; all-NaN stays NaN."""
    t = np.arange(x.shape[0])
    out = x.copy()
    for j in np.flatnonzero(np.isnan(x).any(0)):
        ok = ~np.isnan(x[:, j])
        if ok.any():
            out[:, j] = np.interp(t, t[ok], x[ok, j])
    return out


def smooth(pose: PoseData, smoothed_flat: np.ndarray) -> tuple[PoseData, dict]:
    """Put smoothed series back, keeping missing points missing."""
    x = flat(pose)
    out = np.where(np.isnan(x), np.nan, smoothed_flat)
    return new(pose, out.reshape(pose.positions.shape))


# optimal sorting networks (compare-exchange pairs) for small windows
_NETWORKS = {
    3: ((0, 1), (1, 2), (0, 1)),
    5: ((0, 1), (3, 4), (2, 4), (2, 3), (0, 3), (0, 2), (1, 4), (1, 3), (1, 2)),
    7: ((1, 2), (3, 4), (5, 6), (0, 2), (3, 5), (4, 6), (0, 1), (4, 5), (2, 6), (0, 4), (1, 5),
        (0, 3), (2, 5), (1, 3), (2, 4), (2, 3)),
}
_BLOCK = 4096  # frames per block: keeps the temporaries in cache


def _pruned(network, keep):
    """The compare-exchanges (i, j, want_min, want_max) that the outputs ``keep`` depend on."""
    need, out = set(keep), []
    for i, j in reversed(network):
        lo, hi = i in need, j in need
        if lo or hi:
            out.append((i, j, lo, hi))
            need |= {i, j}
    return tuple(reversed(out))


_LOWER = {w: _pruned(net, range(w // 2 + 1)) for w, net in _NETWORKS.items()}


def median_of(rows: list, n: np.ndarray) -> np.ndarray:
    """Median of windows given as ``w`` equal-shape arrays (missing = +inf, ``n`` valid)."""
    w, h = len(rows), len(rows) // 2
    if w in _LOWER:
        rows = list(rows)
        for i, j, want_lo, want_hi in _LOWER[w]:
            a, b = rows[i], rows[j]
            if want_lo:
                rows[i] = np.minimum(a, b)
            if want_hi:
                rows[j] = np.maximum(a, b)
    else:
        rows = list(np.sort(np.stack(rows), axis=0))
    k_lo, k_hi = np.maximum(n - 1, 0) // 2, n // 2
    lo = hi = rows[0]
    for k in range(1, h + 1):
        lo = np.where(k_lo >= k, rows[k], lo)
        hi = np.where(k_hi >= k, rows[k], hi)
    med = (lo + hi) / 2
    med[n == 0] = np.nan
    return med


def _padded(x2: np.ndarray, h: int):
    """Rows padded by ``h`` on both sides: values (missing = +inf) and validity (int8)."""
    ok = np.zeros((x2.shape[0], x2.shape[1] + 2 * h), dtype=np.int8)
    ok[:, h:h + x2.shape[1]] = np.isfinite(x2)
    pad = np.full(ok.shape, np.inf)
    np.copyto(pad[:, h:h + x2.shape[1]], x2, where=ok[:, h:h + x2.shape[1]].astype(bool))
    return pad, ok


def running_median(x: np.ndarray, window: int) -> np.ndarray:
    """Centred running median along the last axis, missing values ignored (see module notes).

    Non-finite values (NaN, ±inf) count as missing. ``window`` is made odd
    (``2 * (window // 2) + 1``); ``window <= 1`` returns ``x``.

    Examples
    --------
    >>> running_median(np.array([1.0, np.nan, 3.0, 100.0, 5.0]), 3).tolist()
    [1.0, 2.0, 51.5, 5.0, 52.5]
    """
    if window <= 1:
        return x
    h = window // 2
    w, n_t = 2 * h + 1, x.shape[-1]
    pad, ok = _padded(np.asarray(x, dtype=np.float64).reshape(-1, n_t), h)
    med = np.empty((pad.shape[0], n_t))
    for s in range(0, n_t, _BLOCK):
        e = min(s + _BLOCK, n_t)
        n = ok[:, s:e].copy()
        for i in range(1, w):
            n += ok[:, s + i:e + i]
        med[:, s:e] = median_of([pad[:, s + i:e + i] for i in range(w)], n)
    return med.reshape(x.shape)
