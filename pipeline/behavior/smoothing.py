"""Running medians of features, NaN-aware and vectorised.

Missing values become +inf so that they sort last; a sorting network of
``np.minimum`` / ``np.maximum`` calls orders the lower half of every window
at once, and the count of valid values picks the middle. The median of an
even number of valid values is the mean of the middle two; windows are
truncated at the ends of the recording; a window with no valid value gives NaN.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .features import EXTRAS, SocialFeatures

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


def _median_of(rows: list, n: np.ndarray) -> np.ndarray:
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
    """Centred running median along the last axis, NaN ignored (see module notes).

    ``window`` is made odd (``2 * (window // 2) + 1``); ``window <= 1`` returns ``x``.

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
        med[:, s:e] = _median_of([pad[:, s + i:e + i] for i in range(w)], n)
    return med.reshape(x.shape)


def median_at(x: np.ndarray, flat_index: np.ndarray, window: int) -> np.ndarray:
    """:func:`running_median` of a 2-D ``x`` (rows, time), only at ``x.ravel()[flat_index]``."""
    h = window // 2
    n_t = x.shape[-1]
    flat = np.asarray(x, dtype=np.float64).ravel()
    t = flat_index % n_t
    rows, n = [], np.zeros(len(flat_index), dtype=np.int64)
    for i in range(-h, h + 1):
        inside = (t + i >= 0) & (t + i < n_t)
        v = flat[np.where(inside, flat_index + i, flat_index)]
        ok = inside & np.isfinite(v)
        n += ok
        rows.append(np.where(ok, v, np.inf))
    return _median_of(rows, n)


def dilate(mask: np.ndarray, h: int) -> np.ndarray:
    """True within ``h`` frames (last axis) of a True; e.g. "the window holds a valid value"."""
    if h <= 0:
        return mask
    n_t = mask.shape[-1]
    out = mask.copy()
    for i in range(1, h + 1):
        out[..., i:] |= mask[..., :n_t - i]
        out[..., :n_t - i] |= mask[..., i:]
    return out


def smooth_window(smooth_s: float, fps: float | None) -> int:
    """Odd window length (frames) closest to ``smooth_s`` seconds; 1 = no smoothing.

    >>> smooth_window(0.15, 30), smooth_window(0.15, 25), smooth_window(0, 30)
    (5, 5, 1)
    """
    if not smooth_s:
        return 1
    if not fps:
        raise ValueError("smoothing needs the frame rate: compute the features with fps=")
    return 2 * int(np.floor(smooth_s * fps / 2 + 0.5)) + 1


def smooth_features(features: SocialFeatures, window: int) -> SocialFeatures:
    """Every feature through :func:`running_median` of ``window`` frames.

    An isolated missing frame takes its neighbours' value; longer gaps stay NaN.
    """
    if window <= 1:
        return features
    names = [("distance", k) for k in features.distance] + [("angle", k) for k in features.angle]
    if features.centre_distance is not None:
        names += [(k, None) for k in EXTRAS]
    get = lambda g, k: getattr(features, g)[k] if k else getattr(features, g)  # noqa: E731
    sm = running_median(np.stack([get(g, k) for g, k in names]), window)
    dist = {k: sm[i] for i, (g, k) in enumerate(names) if g == "distance"}
    ang = {k: sm[i] for i, (g, k) in enumerate(names) if g == "angle"}
    return replace(features, distance=dist, angle=ang,
                   **{g: sm[i] for i, (g, k) in enumerate(names) if k is None})

