"""Per-frame boolean operations on ``(pairs, time)`` masks of declarative rule sets.

:func:`majority` (binary median with DeepOF/AmadeusGPT edge rules),
:func:`fill_gaps` and :func:`drop_short_runs` (on runs of True).
"""

from __future__ import annotations

import numpy as np

__all__ = ["drop_short_runs", "fill_gaps", "majority"]


def majority(mask: np.ndarray, window: int, *, edges: str = "zero") -> np.ndarray:
    """Centred majority vote (binary median) along the last axis.

    Not :func:`pipeline.quality._series.running_median` on purpose: the input
    is boolean with no missing values, the edge rules follow DeepOF and
    AmadeusGPT (``edges``), and an even count of True/False in a truncated
    window gives False rather than a 0.5 mean; a running count does it in O(n).

    Parameters
    ----------
    mask : ndarray of bool, shape (rows, time)
    window : int
        Frames; an even number shrinks to the next odd one (DeepOF's
        ``binary_moving_median``: half-width ``(window - 1) // 2``).
        ``window <= 1`` returns ``mask``.
    edges : {"zero", "pad_false", "truncate"}, keyword-only
        ``"zero"``: the first and last half-width frames are False (DeepOF);
        ``"pad_false"``: frames outside the recording count as False
        (AmadeusGPT's zero-padded moving average > 0.5); ``"truncate"``:
        majority of the frames inside the recording.

    Returns
    -------
    ndarray of bool
        True where more than half of the window is True.

    Examples
    --------
    >>> m = np.array([[0, 1, 1, 0, 1, 0, 0, 1, 1, 1]], bool)
    >>> majority(m, 3).astype(int).tolist()
    [[0, 1, 1, 1, 0, 0, 0, 1, 1, 0]]
    """
    half = (int(window) - 1) // 2
    if half <= 0:
        return np.asarray(mask, dtype=bool)
    m = np.asarray(mask, dtype=bool)
    n = m.shape[-1]
    c = np.zeros(m.shape[:-1] + (n + 1,), dtype=np.int64)
    np.cumsum(m, axis=-1, out=c[..., 1:])
    t = np.arange(n)
    lo, hi = np.clip(t - half, 0, n), np.clip(t + half + 1, 0, n)
    count = c[..., hi] - c[..., lo]
    if edges == "truncate":
        return 2 * count > (hi - lo)
    out = count > half
    if edges == "zero":
        out[..., :half] = False
        out[..., max(n - half, 0):] = False
    return out


def _runs(mask: np.ndarray):
    """Runs of True per row: ``(row, start, end)`` with end exclusive."""
    rows, n = mask.shape
    pad = np.zeros((rows, n + 2), dtype=np.int8)
    pad[:, 1:-1] = mask
    edge = np.flatnonzero(np.diff(pad, axis=1).ravel())
    start, end = edge[0::2], edge[1::2]
    return start // (n + 1), start % (n + 1), end % (n + 1)


def _paint(shape, row, start, end) -> np.ndarray:
    """Bool array with ``[start, end)`` of each ``row`` set True."""
    mark = np.zeros((shape[0], shape[1] + 1), dtype=np.int64)
    np.add.at(mark, (row, start), 1)
    np.add.at(mark, (row, end), -1)
    return np.cumsum(mark, axis=1)[:, :-1] > 0


def fill_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """Set gaps of at most ``max_gap`` frames between two True runs of a row to True.

    Examples
    --------
    >>> fill_gaps(np.array([[1, 0, 0, 1, 0, 0, 0, 1]], bool), 2).astype(int).tolist()
    [[1, 1, 1, 1, 0, 0, 0, 1]]
    """
    m = np.asarray(mask, dtype=bool)
    if max_gap <= 0 or not m.any():
        return m
    row, start, end = _runs(m)
    gap = start[1:] - end[:-1]
    bridge = (row[1:] == row[:-1]) & (gap <= max_gap)
    return m | _paint(m.shape, row[1:][bridge], end[:-1][bridge], start[1:][bridge])


def drop_short_runs(mask: np.ndarray, min_length: int) -> np.ndarray:
    """Keep only True runs of at least ``min_length`` frames (DeepOF's ``filter_short_true_segments``).

    Examples
    --------
    >>> drop_short_runs(np.array([[1, 1, 0, 1, 1, 1, 0, 1]], bool), 3).astype(int).tolist()
    [[0, 0, 0, 1, 1, 1, 0, 0]]
    """
    m = np.asarray(mask, dtype=bool)
    if min_length <= 1 or not m.any():
        return m
    row, start, end = _runs(m)
    keep = (end - start) >= min_length
    return _paint(m.shape, row[keep], start[keep], end[keep])
