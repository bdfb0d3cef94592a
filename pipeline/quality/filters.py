"""Trajectory filters: each step takes a :class:`PoseData`, returns a new one and its stats.

Every step is pure (the input is never modified) and vectorised over all
``(individual, keypoint, space)`` series at once.  A *point* is one
``(time, individual, keypoint)`` position; it is missing when any of its
coordinates is NaN, and steps keep all coordinates of a point missing together.
Each step returns ``(pose, stats)`` where ``stats`` counts points:
``{"removed": n set missing, "changed": n moved, "filled": n missing -> present}``.

:func:`apply_chain` runs an ordered, JSON-able list of steps such as
``[{"step": "confidence_threshold", "threshold": 0.5},
{"step": "interpolate_gaps", "max_gap_frames": 5}]``.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from ..pose import PoseData
from ._series import fill_all as _fill_all
from ._series import flat as _flat
from ._series import new as _new
from ._series import running_median as _running_median
from ._series import smooth as _smooth

__all__ = ["STEPS", "apply_chain", "confidence_threshold", "gaussian", "interpolate_gaps", "kalman_rts",
           "max_jump", "rolling_median", "savgol"]


def confidence_threshold(pose: PoseData, *, threshold: float | dict) -> tuple[PoseData, dict]:
    """Set points whose confidence is below ``threshold`` missing.

    Parameters
    ----------
    pose : PoseData
    threshold : float or dict
        Minimum confidence kept.  The scores of pose estimators are not on one
        scale: SLEAP instance/point scores are unnormalised peak values
        (usually 0-1 but can exceed 1), DeepLabCut likelihoods are
        probabilities in [0, 1].  Give a dict ``{source_software: threshold}``
        (e.g. ``{"SLEAP": 0.2, "DeepLabCut": 0.6}``, optional key
        ``"default"``) to choose by ``pose.source_software``.  NaN confidence
        (unknown) is kept.

    Returns
    -------
    (PoseData, dict)

    Raises
    ------
    ValueError
        A dict with neither the pose's software nor ``"default"``.

    Notes
    -----
    Not :func:`movement.filtering.filter_by_confidence`, on purpose: movement
    keeps ``confidence >= threshold``, so it also removes every point whose
    confidence is NaN, while here NaN means *unknown* and the point is kept.
    NaN confidence is what :func:`interpolate_gaps` gives the points it fills
    and what readers give files without scores (e.g. the x,y-only DLC-style
    table of ``amadeus_horse``: all confidence NaN), so movement's rule would
    undo an earlier interpolation in a chain or blank such a file.  With
    finite confidence both remove the same points (checked on synthetic and
    SLEAP data); the per-software ``dict`` threshold is ours too.
    """
    if isinstance(threshold, dict):
        key = pose.source_software if pose.source_software in threshold else "default"
        if key not in threshold:
            raise ValueError(f"no threshold for source_software {pose.source_software!r} "
                             f"(keys {sorted(threshold)}) and no 'default'")
        threshold = threshold[key]
    pos = pose.positions.copy()
    pos[pose.confidence < float(threshold)] = np.nan
    return _new(pose, pos)


def max_jump(pose: PoseData, *, max_px_per_frame: float) -> tuple[PoseData, dict]:
    """Remove points that jump too far from the last kept position of their series.

    A point is set missing when its distance to the last kept point of the same
    individual and keypoint exceeds ``max_px_per_frame`` times the number of
    frames between them (so tracking recovers after gaps).  The first point of
    each series is kept.

    Parameters
    ----------
    pose : PoseData
    max_px_per_frame : float
        Largest plausible displacement per frame, in position units.
    """
    pos = pose.positions.reshape(pose.n_frames, -1, pose.n_space).copy()
    ok = ~np.isnan(pos).any(-1)
    # Candidates: points far from the previous observed point; sequential pass only where needed.
    idx = np.where(ok, np.arange(pose.n_frames)[:, None], -1)
    prev = np.maximum.accumulate(idx, axis=0)
    prev = np.vstack([np.full((1, prev.shape[1]), -1), prev[:-1]])
    cols = np.arange(pos.shape[1])
    ref = pos[np.maximum(prev, 0), cols]
    dist = np.linalg.norm(pos - ref, axis=-1)
    suspect = ok & (prev >= 0) & (dist > max_px_per_frame * (np.arange(pose.n_frames)[:, None] - prev))
    for j in np.flatnonzero(suspect.any(0)):
        # In sync (last kept point = previous observed point) the vectorised test is exact; walk
        # sequentially only from a rejected point until a point is kept again.
        frames = np.flatnonzero(ok[:, j])
        xy = pos[frames, j]
        flagged = np.flatnonzero(suspect[frames, j])
        reject, resume = [], 0
        for n in flagged.tolist():
            if n < resume:
                continue
            reject.append(n)
            last, t_last = xy[n - 1], frames[n - 1]
            m = n + 1
            while m < len(frames):
                if np.sum((xy[m] - last) ** 2) > (max_px_per_frame * (frames[m] - t_last)) ** 2:
                    reject.append(m)
                    m += 1
                else:
                    break
            resume = m + 1
        pos[frames[reject], j] = np.nan
    return _new(pose, pos.reshape(pose.positions.shape))


def interpolate_gaps(pose: PoseData, *, max_gap_frames: int, method: str = "linear") -> tuple[PoseData, dict]:
    """Fill interior runs of at most ``max_gap_frames`` missing frames of each series.

    Gaps at the start or end of a series, and longer gaps, stay missing.
    Filled points get NaN confidence (unknown).

    The interpolation is :func:`movement.filtering.interpolate_over_time`
    (``xarray.DataArray.interpolate_na``), which counts a gap as we do (its
    number of missing frames) and leaves edge gaps missing; on gapped synthetic
    and real SLEAP data it gives the same numbers as this package's earlier
    implementation (linear: within 1e-13; cubic: within 1e-12), and a 1-hour
    2-animal 6-keypoint pose takes about 1.3x (linear) / 1.6x (cubic) as long.
    Two guards are ours: under ``method="cubic"`` a series with fewer than 4
    valid points is filled linearly (movement raises for such a series), and
    ``max_gap_frames < 1`` fills nothing (a negative ``max_gap`` makes movement
    blank whole series).

    Parameters
    ----------
    pose : PoseData
    max_gap_frames : int
        Longest run of missing frames to fill.
    method : {"linear", "cubic"}
        Straight line between the gap's neighbours, or a cubic spline
        (not-a-knot) through all valid points of the series.
    """
    if method not in ("linear", "cubic"):
        raise ValueError(f"method must be 'linear' or 'cubic', got {method!r}")
    max_gap = max(math.floor(max_gap_frames), 0)
    x = _flat(pose)
    out = x.copy()
    gappy = np.isnan(x).any(0) & ~np.isnan(x).all(0)
    cubic = gappy & (np.count_nonzero(~np.isnan(x), axis=0) >= 4) if method == "cubic" else np.zeros_like(gappy)
    for cols, how in ((gappy & ~cubic, "linear"), (cubic, "cubic")):
        if cols.any():
            out[:, cols] = _interpolate_over_time(x[:, cols], how, max_gap)
    fill = np.isnan(x) & ~np.isnan(out)
    positions = out.reshape(pose.positions.shape)
    conf = pose.confidence.copy()
    conf[fill.reshape(pose.positions.shape).all(-1)] = np.nan
    return _new(pose, positions, conf)


def _interpolate_over_time(x: np.ndarray, method: str, max_gap: int) -> np.ndarray:
    """:func:`movement.filtering.interpolate_over_time` of the columns of a ``(time, series)`` array."""
    import xarray as xr
    from movement.filtering import interpolate_over_time

    data = xr.DataArray(x, dims=("time", "series"), coords={"time": np.arange(x.shape[0])})
    return interpolate_over_time(data, method=method, max_gap=max_gap).values


def rolling_median(pose: PoseData, *, window: int) -> tuple[PoseData, dict]:
    """Centred running median over ``window`` frames (odd), ignoring missing values.

    Windows are truncated at the ends of the recording; missing points stay
    missing. The median is :func:`pipeline.quality._series.running_median`,
    the same one that smooths behaviour features.

    Not :func:`movement.filtering.rolling_filter` (``statistic="median"``), on
    purpose.  Away from the ends, with ``min_periods=1`` and its output at
    missing points discarded, movement gives exactly these numbers.  It
    differs in:

    * the ends: movement pads with ``mode="reflect"``, so the windows of the
      first and last ``window // 2`` frames count some frames twice (e.g. frame 0
      of ``[0, 3, 1]`` with window 3 is the median of ``[3, 0, 3]`` = 3; here
      of ``[0, 3]`` = 1.5): every frame should weigh once;
    * missing values: by default (``min_periods=None``) one missing value
      blanks the whole window, so every gap grows by ``window // 2`` frames on
      each side; with ``min_periods=1`` the gaps are filled by the median of
      their neighbours instead.  Here a present point is smoothed over the
      valid points of its window and a missing point stays missing (filling
      is :func:`interpolate_gaps`' job, with its gap limit);
    * speed: movement (xarray rolling) took 16-20x as long on a 1-hour
      2-animal 6-keypoint pose.
    """
    window = int(window)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number of frames, got {window}")
    x = _flat(pose)
    return _smooth(pose, _running_median(x.T, window).T)


def savgol(pose: PoseData, *, window: int, order: int) -> tuple[PoseData, dict]:
    """Savitzky-Golay smoothing (``scipy.signal.savgol_filter``) of each series.

    Gaps are bridged by linear interpolation for the filter only (the ends
    held at the first / last valid value); missing points stay missing.

    Not :func:`movement.filtering.savgol_filter`, on purpose: on a series
    without gaps both are the same ``scipy.signal.savgol_filter(...,
    mode="interp")`` call and agree exactly, but movement passes NaN to SciPy,
    so every gap grows by ``window // 2`` frames on each side (and with
    ``mode="interp"`` a gap in the first or last ``window`` frames raises a
    ValueError with SciPy >= 1.17).  Here a gap costs only its own frames,
    at the price of the filter seeing straight lines inside gaps.
    """
    x = _fill_all(_flat(pose))
    if x.shape[0] < window:
        raise ValueError(f"savgol window {window} is longer than the recording ({x.shape[0]} frames)")
    x = np.nan_to_num(x)  # all-missing series only; they stay missing
    from scipy import signal  # here: importing scipy costs start-up of everything that imports pipeline

    return _smooth(pose, signal.savgol_filter(x, int(window), int(order), axis=0, mode="interp"))


def gaussian(pose: PoseData, *, sigma_frames: float) -> tuple[PoseData, dict]:
    """Gaussian smoothing over time, normalised over the valid points (NaN-aware).

    Missing points stay missing.
    """
    from scipy import ndimage  # lazily, as in savgol

    x = _flat(pose)
    ok = ~np.isnan(x)
    num = ndimage.gaussian_filter1d(np.where(ok, x, 0.0), sigma_frames, axis=0, mode="nearest")
    den = ndimage.gaussian_filter1d(ok.astype(float), sigma_frames, axis=0, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        return _smooth(pose, num / den)


def kalman_rts(pose: PoseData, *, process_noise: float, measurement_noise: float,
               fill_gaps: bool = False) -> tuple[PoseData, dict]:
    """Constant-velocity Kalman filter and Rauch-Tung-Striebel smoother.

    See :func:`pipeline.quality.kalman.cv_kalman_rts` for the model; each
    coordinate series is one independent 1D track.

    Parameters
    ----------
    pose : PoseData
    process_noise : float
        Variance of the random acceleration per frame (position units^2/frame^4).
    measurement_noise : float
        Variance of the observation noise (position units^2).
    fill_gaps : bool
        Keep the smoother's estimates inside gaps (between the first and last
        observation of a series) instead of leaving missing points missing.
    """
    from .kalman import cv_kalman_rts

    x = _flat(pose)
    est = cv_kalman_rts(x, process_noise=process_noise, measurement_noise=measurement_noise)
    if fill_gaps:
        out = est.reshape(pose.positions.shape)
        conf = pose.confidence.copy()
        conf[np.isnan(pose.positions).any(-1) & ~np.isnan(out).any(-1)] = np.nan
        return _new(pose, out, conf)
    return _smooth(pose, est)


STEPS = {f.__name__: f for f in (confidence_threshold, max_jump, interpolate_gaps, rolling_median, savgol,
                                  gaussian, kalman_rts)}


def check_chain(steps: list[dict]) -> list[tuple[str, dict]]:
    """Check a filter chain before anything runs; return its (step name, options) pairs.

    Raises
    ------
    ValueError
        A step that is not a dict with a ``"step"`` name, an unknown step name,
        or options that the step does not take (naming the step and the option).

    Examples
    --------
    >>> check_chain([{"step": "interpolate_gaps", "max_gap_frames": 5}])
    [('interpolate_gaps', {'max_gap_frames': 5})]
    >>> check_chain([{"step": "interpolate_gaps", "max_gap": 5}])
    Traceback (most recent call last):
    ...
    ValueError: step 0 ('interpolate_gaps'): unknown option(s) ['max_gap'] (its options: max_gap_frames, method)
    """
    if not isinstance(steps, list):
        raise ValueError(f"a filter chain is a list of steps, got {type(steps).__name__}")
    checked = []
    for i, spec in enumerate(steps):
        if not isinstance(spec, dict) or "step" not in spec:
            raise ValueError(f"step {i} must be a dict with a 'step' name, got {spec!r}")
        name, options = spec["step"], {k: v for k, v in spec.items() if k != "step"}
        if name not in STEPS:
            raise ValueError(f"step {i}: unknown filter step {name!r} (known: {sorted(STEPS)})")
        takes = list(inspect.signature(STEPS[name]).parameters)[1:]  # after the pose
        unknown = sorted(set(options) - set(takes))
        if unknown:
            raise ValueError(f"step {i} ({name!r}): unknown option(s) {unknown} (its options: {', '.join(takes)})")
        try:
            inspect.signature(STEPS[name]).bind(None, **options)
        except TypeError as err:
            raise ValueError(f"step {i} ({name!r}): {err}") from None
        checked.append((name, options))
    return checked


def apply_chain(pose: PoseData, steps: list[dict]) -> tuple[PoseData, list[dict]]:
    """Run an ordered list of steps ``{"step": name, **options}``.

    Parameters
    ----------
    pose : PoseData
    steps : list of dict
        JSON-able; names are the keys of :data:`STEPS`.

    Returns
    -------
    (PoseData, list of dict)
        The filtered pose and each step's stats (with its ``"step"`` name).

    Raises
    ------
    ValueError
        A step without ``"step"``, an unknown step name, or bad options.

    Examples
    --------
    >>> chain = [{"step": "max_jump", "max_px_per_frame": 40},
    ...          {"step": "interpolate_gaps", "max_gap_frames": 5}]
    >>> pose, stats = apply_chain(pose, chain)          # doctest: +SKIP
    """
    all_stats = []
    for name, options in check_chain(steps):
        pose, stats = STEPS[name](pose, **options)
        all_stats.append({"step": name, **stats})
    return pose, all_stats
