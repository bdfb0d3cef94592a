"""2D pre-filters applied per camera before triangulation (as in Anipose's ``filter_2d``).

All functions take ``points2d`` of shape (camera, time, individual, keypoint, 2)
in pixels (NaN = missing) and, where needed, ``scores`` of shape
(camera, time, individual, keypoint). They are pure: they return new arrays
in which rejected points are NaN; nothing is interpolated (triangulation and
:func:`~pipeline.triangulation.optim.triangulate_optim` cope with gaps).
"""

from __future__ import annotations

import warnings

import numpy as np

from pipeline.errors import InputError

__all__ = ["score_threshold", "median_filter", "viterbi_filter"]

_CHUNK = 50_000  # values per block of work


def check_views(points2d, scores=None) -> tuple[np.ndarray, np.ndarray | None]:
    """float64 copies of (camera, time, individual, keypoint, 2) points and matching scores, or InputError."""
    pts = np.array(points2d, dtype=np.float64)
    if pts.ndim != 5 or pts.shape[-1] != 2:
        raise InputError("points2d", "needs shape (camera, time, individual, keypoint, 2), "
                                     f"got {pts.shape}")
    if scores is None:
        return pts, None
    sc = np.asarray(scores, dtype=np.float64)
    if sc.shape != pts.shape[:-1]:
        raise InputError("scores", f"shape {sc.shape} does not match points2d {pts.shape}: "
                                   f"expected {pts.shape[:-1]}")
    return pts, sc


def score_threshold(points2d, scores, *, threshold: float) -> np.ndarray:
    """Drop points whose detection score is below ``threshold`` (or NaN).

    Examples
    --------
    >>> p = np.ones((1, 2, 1, 1, 2)); s = np.array([0.9, 0.1]).reshape(1, 2, 1, 1)
    >>> score_threshold(p, s, threshold=0.5)[0, :, 0, 0, 0].tolist()
    [1.0, nan]
    """
    pts, sc = check_views(points2d, scores)
    pts[~(sc >= threshold)] = np.nan
    return pts


def _series(pts: np.ndarray) -> np.ndarray:
    """(camera, time, individual, keypoint, 2) -> (series, time, 2)."""
    c, t, i, k, _ = pts.shape
    return pts.transpose(0, 2, 3, 1, 4).reshape(c * i * k, t, 2)


def _unseries(ser: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    c, t, i, k, _ = shape
    return ser.reshape(c, i, k, t, 2).transpose(0, 3, 1, 2, 4)


def median_filter(points2d, *, size: int, max_offset_px: float) -> np.ndarray:
    """Drop points far from their rolling median over time (Anipose's ``medfilt``).

    The median is taken per coordinate over a centred window of ``size``
    frames, ignoring missing values (windows are truncated at the ends rather
    than zero-padded as ``scipy.signal.medfilt`` does). A point whose Euclidean
    distance from the median exceeds ``max_offset_px`` becomes NaN. (Anipose
    uses ``|dx| + |dy|`` and then interpolates the gaps; we leave them NaN.)

    Parameters
    ----------
    points2d : array_like, shape (camera, time, individual, keypoint, 2)
    size : int
        Odd window length in frames.
    max_offset_px : float

    Returns
    -------
    ndarray, same shape

    Examples
    --------
    >>> x = np.array([0, 1, 2, 50, 4, 5, 6.0])
    >>> p = np.stack([x, x], -1).reshape(1, 7, 1, 1, 2)
    >>> median_filter(p, size=3, max_offset_px=5)[0, :, 0, 0, 0].tolist()
    [0.0, 1.0, 2.0, nan, 4.0, 5.0, 6.0]
    """
    pts, _ = check_views(points2d)
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be a positive odd number of frames, got {size}")
    ser = _series(pts)
    n_ser, n_t, _ = ser.shape
    half = size // 2
    step = max(1, _CHUNK // max(1, n_ser * 2 * size))
    padded = np.pad(ser, ((0, 0), (half, half), (0, 0)), constant_values=np.nan)
    bad = np.zeros((n_ser, n_t), dtype=bool)
    for start in range(0, n_t, step):
        stop = min(n_t, start + step)
        win = np.lib.stride_tricks.sliding_window_view(padded[:, start:stop + 2 * half], size, axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(win, axis=-1)
        dist = np.linalg.norm(ser[:, start:stop] - med, axis=-1)
        bad[:, start:stop] = dist > max_offset_px
    ser = ser.copy()
    ser[bad] = np.nan
    return _unseries(ser, pts.shape)


def _log_jump(d: np.ndarray, sigma: float) -> np.ndarray:
    """Anipose's transition log-probability of a jump of ``d`` px (clipped at -100)."""
    from scipy.special import ndtr  # lazily: scipy is slow to import

    p = ndtr((2.0 - d) / sigma) - ndtr((-2.0 - d) / sigma)
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(p), -100.0)


def viterbi_filter(points2d, scores, *, max_jump_px: float, n_back: int = 3,
                   p_missing: float = 1e-3) -> np.ndarray:
    """Drop points that jump away from a smooth path, by Viterbi decoding.

    Anipose's ``viterbi`` filter chooses, frame by frame, among several
    candidate detections (and the candidates of the previous ``n_back - 1``
    frames, their scores halved per frame back), the path maximising
    ``sum(log score) + sum(log P(jump))`` with ``P(jump)`` the probability
    that a zero-mean normal of scale ``max_jump_px`` falls within 2 px of the
    jump length. Here there is one detection per frame, so the states at frame
    ``t`` of each (camera, individual, keypoint) series are:

    * ``k = 0``: the point observed at ``t`` (kept);
    * ``k = 1 .. n_back-1``: hold the point observed at ``t - k`` (frame ``t``'s
      own point is rejected);
    * ``missing``: no position, always allowed, emission and transitions to or
      from it cost ``log(p_missing)`` (the Anipose constant).

    The most probable path is decoded with the same costs as Anipose; a point
    survives only where the path is in state ``k = 0``. A single-frame spike
    thus loses to "hold the previous point" and a run of spikes to ``missing``.
    Unlike Anipose, held or missing frames are returned as NaN, not filled.

    Parameters
    ----------
    points2d : array_like, shape (camera, time, individual, keypoint, 2)
    scores : array_like, shape (camera, time, individual, keypoint)
        Detection confidences in (0, 1]; NaN or missing points are ignored.
    max_jump_px : float
        Scale of plausible frame-to-frame motion in pixels.
    n_back : int, default 3
        How many frames (including the current one) a position may be held.
    p_missing : float, default 1e-3

    Returns
    -------
    ndarray, same shape as ``points2d``

    Examples
    --------
    >>> x = np.array([0, 1, 2, 90, 4, 5, 6.0])
    >>> p = np.stack([x, x], -1).reshape(1, 7, 1, 1, 2)
    >>> viterbi_filter(p, np.ones((1, 7, 1, 1)), max_jump_px=10)[0, :, 0, 0, 0].tolist()
    [0.0, 1.0, 2.0, nan, 4.0, 5.0, 6.0]
    """
    pts, sc = check_views(points2d, scores)
    if not max_jump_px > 0:
        raise ValueError(f"max_jump_px must be positive, got {max_jump_px}")
    if n_back < 1:
        raise ValueError(f"n_back must be at least 1, got {n_back}")
    ser = _series(pts)
    n_ser, n_t, _ = ser.shape
    sser = sc.transpose(0, 2, 3, 1).reshape(n_ser, n_t)
    valid = np.all(np.isfinite(ser), axis=-1) & np.isfinite(sser)
    emit = np.where(valid, np.log(np.clip(np.nan_to_num(sser), 1e-6, None)), -np.inf)
    keep = np.zeros((n_ser, n_t), dtype=bool)
    step = max(1, _CHUNK * 20 // max(1, n_t * (n_back + 1)))
    for s0 in range(0, n_ser, step):
        sl = slice(s0, s0 + step)
        keep[sl] = _viterbi(ser[sl], valid[sl], emit[sl], max_jump_px, n_back, np.log(p_missing))
    out = ser.copy()
    out[~keep] = np.nan
    return _unseries(out, pts.shape)


def _viterbi(xy, valid, emit, sigma, n_back, log_miss) -> np.ndarray:
    """Decode (series, time) blocks; returns which observations the best path keeps."""
    n, n_t, _ = xy.shape
    n_st = n_back + 1                                   # held k = 0..n_back-1, then missing
    ks = np.arange(n_back)
    back_ptr = np.zeros((n_t, n, n_st), dtype=np.int8)

    def states(t):
        src = t - ks
        ok = src >= 0
        src = np.clip(src, 0, None)
        pos = xy[:, src]                                # (n, n_back, 2)
        lp = np.where(ok, emit[:, src] - ks * np.log(2.0), -np.inf)
        return pos, np.concatenate([lp, np.full((n, 1), log_miss)], axis=1)

    pos_prev, score = states(0)
    for t in range(1, n_t):
        pos, em = states(t)
        d = np.linalg.norm(pos[:, :, None, :] - pos_prev[:, None, :, :], axis=-1)  # (n, new, old)
        trans = np.full((n, n_st, n_st), log_miss)
        with np.errstate(invalid="ignore"):
            trans[:, :n_back, :n_back] = np.where(np.isfinite(d), _log_jump(np.nan_to_num(d), sigma),
                                                  -np.inf)
        total = score[:, None, :] + trans               # (n, new, old)
        best = np.argmax(total, axis=2)
        back_ptr[t] = best
        score = np.take_along_axis(total, best[..., None], axis=2)[..., 0] + em
        pos_prev = pos
    state = np.argmax(score, axis=1)
    keep = np.zeros((n, n_t), dtype=bool)
    rows = np.arange(n)
    for t in range(n_t - 1, -1, -1):
        keep[:, t] = state == 0
        if t:
            state = back_ptr[t, rows, state]
    return keep & valid
