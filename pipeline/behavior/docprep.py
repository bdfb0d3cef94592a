"""Preprocessing of rule documents: DeepOF's filter steps, animal presence, the document's filter chain.

Used by :func:`.ruleengine.score_document`.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from ..errors import InputError
from ..pose import PoseData
from ..quality._series import flat as _flat
from ..quality._series import new as _new
from .ruledoc import RuleDocument

# ---------------------------------------------------------------- filter steps (DeepOF preprocessing)

def deepof_savgol(pose: PoseData, *, window: int = 15, alpha: int = 1,
                  missing_as_zero: bool = True) -> tuple[PoseData, dict]:
    """DeepOF 0.9's ``smooth_mult_trajectory``: Savitzky-Golay of order ``window - alpha``.

    Unlike the ``savgol`` filter step (which bridges gaps for the filter),
    this runs on the table as DeepOF reads it: with ``missing_as_zero`` a
    missing point enters the filter as (0, 0), DeepOF's reading of an
    undetected DeepLabCut point.  Missing points stay missing.  DeepOF's
    default (window 15, alpha 1) fits a degree-14 polynomial through 15
    points, numerically close to the identity (changes of about 1e-5 relative).

    Parameters
    ----------
    pose : PoseData
    window : int
        Frames (``window_length``).
    alpha : int
        ``polyorder = window - alpha``.
    missing_as_zero : bool
        See above; False bridges gaps linearly as the ``savgol`` step does.
    """
    from scipy.signal import savgol_filter

    from ..quality._series import fill_all, smooth

    x = _flat(pose)
    if x.shape[0] < int(window):
        raise ValueError(f"savgol window {window} is longer than the recording ({x.shape[0]} frames)")
    x = np.nan_to_num(x) if missing_as_zero else np.nan_to_num(fill_all(x))
    return smooth(pose, savgol_filter(x, window_length=int(window), polyorder=int(window) - int(alpha), axis=0))


def deepof_outliers(pose: PoseData, *, likelihood_threshold: float, window: int = 5, n_std: float = 3.0,
                    missing_as_zero: bool = True) -> tuple[PoseData, dict]:
    """DeepOF 0.9's ``remove_outliers``: low confidence, or far from a moving average.

    A point is removed when its confidence is below ``likelihood_threshold``
    (unknown confidence is kept), or when its x or y deviates from the
    centred ``window``-frame moving average (zero-padded at the ends, as
    ``np.convolve(..., mode="same")``) by more than the mean plus ``n_std``
    standard deviations of that coordinate's deviations (frames ``window``
    to ``-window``).

    Parameters
    ----------
    pose : PoseData
    likelihood_threshold : float
    window : int
        Odd number of frames.
    n_std : float
    missing_as_zero : bool
        DeepOF reads an undetected DeepLabCut point as (0, 0): missing points
        enter the moving average as zeros (default).  False lets them
        propagate NaN, as DeepOF does for NaN cells.
    """
    w = int(window)
    if w < 1 or w % 2 == 0:
        raise ValueError(f"window must be a positive odd number of frames, got {window}")
    x = pose.positions
    xs = np.where(np.isnan(x), 0.0, x) if missing_as_zero else x
    h, n = w // 2, x.shape[0]
    padded = np.zeros((n + 2 * h,) + x.shape[1:])
    padded[h:h + n] = xs
    ma = sum(padded[k:k + n] for k in range(w)) / w
    resid = xs - ma
    core = resid[w:n - w] if n > 2 * w else resid
    with np.errstate(invalid="ignore"):
        limit = np.nanmean(core, axis=0) + n_std * np.nanstd(core, axis=0)
        far = (np.abs(resid) > limit).any(-1)
    low = pose.confidence < float(likelihood_threshold)
    pos = x.copy()
    pos[far | low] = np.nan
    return _new(pose, pos)


def _limited_fill(x: np.ndarray, limit: int) -> np.ndarray:
    """pandas ``interpolate(method="linear", limit=limit, limit_direction="both")`` per column."""
    n = x.shape[0]
    if n == 0:
        return x
    t = np.arange(n)[:, None]
    ok = ~np.isnan(x)
    prev = np.maximum.accumulate(np.where(ok, t, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(ok, t, n)[::-1], axis=0)[::-1]
    has_p, has_n = prev >= 0, nxt < n
    fill = ~ok & ((has_p & (t - prev <= limit)) | (has_n & (nxt - t <= limit)))
    cols = np.broadcast_to(np.arange(x.shape[1]), x.shape)
    x0 = x[np.clip(prev, 0, n - 1), cols]
    x1 = x[np.clip(nxt, 0, n - 1), cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        inner = x0 + (t - prev) * (x1 - x0) / (nxt - prev)
    value = np.where(~has_p, x1, np.where(~has_n, x0, inner))
    return np.where(fill, value, x)


def interpolate_limited(pose: PoseData, *, limit: int, presence: np.ndarray | None = None) -> tuple[PoseData, dict]:
    """Fill missing points within ``limit`` frames of a known one (DeepOF's "partial" imputation).

    As pandas ``interpolate(method="linear", limit=limit,
    limit_direction="both")``: a missing point is filled when a known point
    of its series lies at most ``limit`` frames before or after it; between
    two known points the value is on the line between them, before the first
    (after the last) it is the first (last) known value.  So a gap of up to
    ``2 * limit`` frames is filled completely, and the ``limit`` frames at each
    end of a longer gap are filled.  Filled points get NaN confidence.

    Parameters
    ----------
    pose : PoseData
    limit : int
    presence : ndarray of bool (time, individual), optional
        Set by the rule engine from ``preprocessing.presence``: each
        animal's frames where it is absent are left out first (and stay
        untouched), as DeepOF interpolates only the frames where the animal
        is present.
    """
    x = _flat(pose).reshape(pose.n_frames, pose.n_individuals, -1)
    out = x.copy()
    for i in range(pose.n_individuals):
        rows = np.ones(pose.n_frames, bool) if presence is None else np.asarray(presence[:, i], bool)
        sub = x[rows, i]
        gaps = np.flatnonzero(np.isnan(sub).any(0))  # only series with a gap
        if len(gaps):
            sub[:, gaps] = _limited_fill(sub[:, gaps], int(limit))
            out[rows, i] = sub
    positions = out.reshape(pose.positions.shape)
    conf = pose.confidence.copy()
    conf[np.isnan(pose.positions).any(-1) & ~np.isnan(positions).any(-1)] = np.nan
    return _new(pose, positions, conf)


_EXTRA = {"deepof_savgol": deepof_savgol, "deepof_outliers": deepof_outliers,
          "interpolate_limited": interpolate_limited}



# ---------------------------------------------------------------- preprocessing

def _presence(pose: PoseData, threshold: float) -> np.ndarray:
    """(time, individual) True where the median keypoint confidence exceeds ``threshold``."""
    present = ~np.isnan(pose.positions).any(-1)
    conf = np.where(np.isnan(pose.confidence), present.astype(float), pose.confidence)
    return np.median(conf, axis=2) > threshold


def preprocess_pose(pose: PoseData, doc: RuleDocument) -> tuple[PoseData, np.ndarray | None]:
    """Run a rule set's preprocessing: presence, the filter chain, absent animals' points set missing.

    Parameters
    ----------
    pose : PoseData
    doc : RuleDocument

    Returns
    -------
    (PoseData, ndarray or None)
        The filtered pose (positions in the file's units) and the
        ``(time, individual)`` presence mask (None without ``presence``).

    Raises
    ------
    InputError
        A filter step refuses its options.
    """
    from ..quality.filters import STEPS

    presence = None if doc.presence is None else _presence(pose, doc.presence.min_median_confidence)
    for i, spec in enumerate(doc.filters):
        options = json.loads(spec)
        name = options.pop("step")
        try:
            if name in _EXTRA:
                extra = {"presence": presence} if name == "interpolate_limited" else {}
                pose, _ = _EXTRA[name](pose, **options, **extra)
            else:
                pose, _ = STEPS[name](pose, **options)
        except (TypeError, ValueError) as err:
            raise InputError(doc.name, f"preprocessing.filters[{i}] ({name}): {err}") from None
    if presence is not None:
        pos = pose.positions.copy()
        pos[~presence] = np.nan
        pose = dataclasses.replace(pose, positions=pos)
    return pose, presence
