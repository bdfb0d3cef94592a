"""Running medians of features: the one NaN-aware running median of the package.

:func:`running_median` lives in :mod:`pipeline.quality._series` (the
trajectory filter ``rolling_median`` uses it too) and is re-exported here:
missing values are ignored, windows are truncated at the ends of the
recording, the median of an even number of valid values is the mean of the
middle two, and a window with no valid value gives NaN. :func:`median_at` is
the same median evaluated only at chosen frames.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..quality._series import median_of as _median_of
from ..quality._series import running_median
from .features import EXTRAS, SocialFeatures

__all__ = ["dilate", "median_at", "running_median", "smooth_features", "smooth_window"]


def median_at(x: np.ndarray, flat_index: np.ndarray, window: int) -> np.ndarray:
    """:func:`running_median` of a 2-D ``x`` (rows, time), only at ``x.ravel()[flat_index]``.

    Same window, edge and NaN rules and bit-identical values (both go through
    the same median of windows); it builds only the requested windows, for
    rules that need the smoothed value at a few frames.
    """
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

