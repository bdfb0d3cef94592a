"""Comparing filter chains on one pose: spikes, residual, lag, high-frequency power.

Spike (the definition used here and by keypoint-distance measures)
    For a series ``p_t`` (a keypoint's x, y[, z], or a distance), the
    frame-to-frame jumps are ``d_t = p_t - p_(t-1)``, defined where both
    frames are present, taken relative to the local motion:
    ``e_t = d_t - runmed(d)_t``, the centred running median of the jumps
    over ``2 * max_width + 1`` frames (so an animal that runs is not
    spiking).  Per axis the robust spread of ``e`` is
    ``s = max(1.4826 * MAD(e), min_spread)``, or ``1.2533`` × its mean absolute
    deviation when the MAD is 0 (more than half the jumps equal).  The floor
    ``min_spread`` (position units, default 0.5) is needed because trackers
    repeat a resting animal's position exactly: on SLEAP's
    ``clip.predictions.slp`` the MAD of a fly's head jumps is 4.5e-5 px.
    A frame *jumps* when, on some axis, ``|e_t - median(e)| > k * s``
    (default ``k = 5``).  A **spike** is a jump at ``t`` followed, at most
    ``max_width`` frames later (default 5), by a jump back that undoes it at
    least half way (``|e_t + e_u| < max(|e_t|, |e_u|) / 2``): the point left
    the track and returned.  It is reported at ``t``, the
    first frame off the track.  A jump with no return (the animal or the
    track really moved) is not a spike, nor is an excursion that starts or
    ends next to a missing frame (its jump is not defined).
Spikes after filtering
    Counted on the filtered series with the raw series' median and spread,
    so "after" asks which of the raw trace's jumps remain as large; a
    filter cannot hide a spike by widening its own spread.
Residual
    Root mean square of the distance between the filtered and the raw point,
    over frames where both are present (position units).
Lag
    The shift (frames) that maximises the normalised cross-correlation of the raw and
    filtered velocities (frame differences, gaps bridged linearly for this
    only), within ``max_lag`` frames; positive: the filtered trace trails
    the raw one (a causal filter), 0 for a centred one.
High-frequency power removed
    ``1 - P_filtered / P_raw``, where ``P`` is the power above
    ``hf_cutoff_hz`` (default fps / 6) of the linearly detrended, gap-bridged
    trace, summed over axes; NaN when the raw trace has none.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..pose import PoseData
from ._series import fill_all

COLUMNS = ("individual", "keypoint", "chain", "n_points", "spikes_before", "spikes_after", "residual_rms",
           "lag_frames", "hf_power_removed")


def jump_scale(series: np.ndarray, *, max_width: int = 5, min_spread: float = 0.5):
    """(relative jumps, their median, their robust spread) of a ``(time, axes)`` series (module docstring).

    Examples
    --------
    >>> x = np.c_[np.arange(8.0)]                 # steady motion: no relative jump
    >>> e, centre, spread = jump_scale(x)
    >>> float(np.abs(e[1:]).max()), centre.tolist(), spread.tolist()
    (0.0, [0.0], [0.5])
    """
    from ._series import running_median

    x = np.asarray(series, float).reshape(len(series), -1)
    d = np.diff(x, axis=0)
    e = d - running_median(d.T, 2 * int(max_width) + 1).T
    ok = e[~np.isnan(e).any(axis=1)]
    if len(ok) == 0:
        return e, np.zeros(e.shape[1]), np.full(e.shape[1], np.inf)
    centre = np.median(ok, axis=0)
    spread = 1.4826 * np.median(np.abs(ok - centre), axis=0)
    spread = np.where(spread > 0, spread, 1.2533 * np.abs(ok - centre).mean(axis=0))
    return e, centre, np.maximum(spread, min_spread)


def spike_frames(series: np.ndarray, *, k: float = 5.0, max_width: int = 5, min_spread: float = 0.5,
                 scale=None) -> np.ndarray:
    """Frames where a spike starts (see the module docstring for the definition).

    Parameters
    ----------
    series : ndarray, shape (time,) or (time, axes)
        One trace; NaN = missing.
    k : float
        Threshold in robust standard deviations of the relative jumps.
    max_width : int
        Longest excursion (frames) between leaving the track and returning.
    min_spread : float
        Floor of the robust spread, in the series' units.
    scale : (median, spread), optional
        Use these per-axis statistics (from :func:`jump_scale` of e.g. the
        raw trace) instead of the series' own.

    Returns
    -------
    ndarray of int
        Row indices of ``series``.

    Examples
    --------
    >>> x = 10 * np.sin(np.arange(200) / 10.0)
    >>> x[50] += 8.0                       # one frame off the track
    >>> x[120:] += 30.0                    # the track moves for good: a step, not a spike
    >>> spike_frames(x).tolist()
    [50]
    """
    e, centre, spread = jump_scale(series, max_width=max_width, min_spread=min_spread)
    if scale is not None:
        centre, spread = np.asarray(scale[0], float), np.asarray(scale[1], float)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.nan_to_num(np.abs(e - centre) / spread, nan=0.0, posinf=0.0).max(axis=1, initial=0.0)
    jumps = np.flatnonzero(z > k)
    e = np.nan_to_num(e)
    starts, used = [], set()
    for n, t in enumerate(jumps):
        if t in used:
            continue
        back = next((u for u in jumps[n + 1:] if u - t <= max_width and u not in used
                     and _returns(e[t], e[u])), None)
        if back is not None:
            used.update((t, back))
            starts.append(int(t) + 1)  # e[t] is the jump into frame t + 1
    return np.asarray(starts, dtype=int)


def _returns(out: np.ndarray, back: np.ndarray) -> bool:
    """Whether jump ``back`` undoes jump ``out`` at least half way."""
    return bool(np.linalg.norm(out + back) < 0.5 * max(np.linalg.norm(out), np.linalg.norm(back)))


def residual_rms(raw: np.ndarray, filtered: np.ndarray) -> float:
    """RMS distance between two ``(time, axes)`` traces over frames where both are present.

    Examples
    --------
    >>> residual_rms(np.zeros((4, 2)), np.array([[3.0, 4.0], [0, 0], [0, 0], [np.nan, 0]]))
    2.886751345948129
    """
    d = np.linalg.norm(np.asarray(filtered, float) - np.asarray(raw, float), axis=-1)
    d = d[~np.isnan(d)]
    return float(np.sqrt(np.mean(d ** 2))) if len(d) else float("nan")


def lag_frames(raw: np.ndarray, filtered: np.ndarray, *, max_lag: int = 30) -> float:
    """Shift (frames) of the filtered trace behind the raw one at the velocities' cross-correlation peak.

    Examples
    --------
    >>> t = np.arange(300.0)
    >>> raw = np.c_[np.sin(t / 7.0) + np.sin(t / 3.1)]
    >>> lag_frames(raw, np.roll(raw, 4, axis=0))
    4.0
    """
    vr, vf = (np.diff(_bridged(a), axis=0) for a in (raw, filtered))
    ok = ~(np.isnan(vr).any(axis=1) | np.isnan(vf).any(axis=1))
    vr, vf = vr - np.nanmean(vr, axis=0), vf - np.nanmean(vf, axis=0)
    vr[~ok], vf[~ok] = 0.0, 0.0
    n = len(vr)
    if n < 3 or not ok.any():
        return float("nan")
    lags = np.arange(-min(max_lag, n - 2), min(max_lag, n - 2) + 1)
    score = [_correlation(vr[max(0, -lag):n - max(0, lag)], vf[max(0, lag):n - max(0, -lag)]) for lag in lags]
    return float(lags[int(np.nanargmax(score))]) if np.isfinite(score).any() else float("nan")


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two equally long ``(time, axes)`` velocity segments."""
    norm = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / norm) if norm > 0 else float("nan")


def hf_power_removed(raw: np.ndarray, filtered: np.ndarray, *, fps: float, cutoff_hz: float) -> float:
    """Fraction of the raw trace's power above ``cutoff_hz`` that the filtered trace lacks.

    Examples
    --------
    >>> t = np.arange(600) / 30.0
    >>> slow, fast = np.sin(2 * np.pi * 0.5 * t), 0.3 * np.sin(2 * np.pi * 12 * t)
    >>> round(hf_power_removed(np.c_[slow + fast], np.c_[slow], fps=30.0, cutoff_hz=5.0), 3)
    1.0
    """
    from scipy import signal

    powers = []
    for a in (raw, filtered):
        x = _bridged(a)
        if np.isnan(x).any() or len(x) < 4:
            return float("nan")
        spectrum = np.abs(np.fft.rfft(signal.detrend(x, axis=0), axis=0)) ** 2
        powers.append(spectrum[np.fft.rfftfreq(len(x), 1.0 / fps) > cutoff_hz].sum())
    return float(1.0 - powers[1] / powers[0]) if powers[0] > 0 else float("nan")


def _bridged(a: np.ndarray) -> np.ndarray:
    x = np.asarray(a, float).reshape(len(a), -1)
    return fill_all(x)


def compare_filters(raw: PoseData, filtered: Mapping[str, PoseData], *, k: float = 5.0, max_width: int = 5,
                    min_spread: float = 0.5, max_lag: int = 30, hf_cutoff_hz: float | None = None) -> pd.DataFrame:
    """Per individual, keypoint and chain: spikes before/after, residual, lag, high-frequency power removed.

    Parameters
    ----------
    raw : PoseData
        The pose the chains were applied to.
    filtered : mapping of str to PoseData
        Chain name -> its output (same layout as ``raw``).
    k, max_width, min_spread : float, int, float
        Spike definition (module docstring).
    max_lag : int
        Largest lag searched, in frames.
    hf_cutoff_hz : float, optional
        Lower edge of "high frequency"; default ``raw.fps / 6``.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`; one row per individual, keypoint and chain.

    Examples
    --------
    >>> from pipeline.quality import apply_chain
    >>> table = compare_filters(pose, {"gauss": apply_chain(pose, [{"step": "gaussian", "sigma_frames": 2}])[0]})
    ...                                                   # doctest: +SKIP
    """
    if not raw.fps:
        raise ValueError("compare_filters needs the pose's frame rate (fps)")
    cutoff = raw.fps / 6.0 if hf_cutoff_hz is None else float(hf_cutoff_hz)
    for name, pose in filtered.items():
        if pose.positions.shape != raw.positions.shape:
            raise ValueError(f"chain {name!r}: positions {pose.positions.shape} differ from the raw "
                             f"{raw.positions.shape}")
    rows = []
    for i, ind in enumerate(raw.individuals):
        for j, kp in enumerate(raw.keypoints):
            trace = raw.positions[:, i, j]
            scale = jump_scale(trace, max_width=max_width, min_spread=min_spread)[1:]
            before = len(spike_frames(trace, k=k, max_width=max_width, scale=scale))
            for name, pose in filtered.items():
                out = pose.positions[:, i, j]
                rows.append({"individual": ind, "keypoint": kp, "chain": name,
                             "n_points": int((~np.isnan(trace).any(axis=1)).sum()), "spikes_before": before,
                             "spikes_after": len(spike_frames(out, k=k, max_width=max_width, scale=scale)),
                             "residual_rms": residual_rms(trace, out),
                             "lag_frames": lag_frames(trace, out, max_lag=max_lag),
                             "hf_power_removed": hf_power_removed(trace, out, fps=raw.fps, cutoff_hz=cutoff)})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def spike_recall(found, injected, *, tolerance: int = 0) -> float:
    """Fraction of ``injected`` frames with a found spike at most ``tolerance`` frames away.

    Examples
    --------
    >>> spike_recall([10, 52, 90], [10, 50, 70], tolerance=2)
    0.6666666666666666
    """
    found = np.asarray(found, int)
    hits = [bool(len(found)) and np.abs(found - f).min() <= tolerance for f in injected]
    return float(np.mean(hits)) if len(hits) else float("nan")


def plot_traces(raw: PoseData, filtered: Mapping[str, PoseData], path, *, keypoints, k: float = 5.0,
                max_width: int = 5, min_spread: float = 0.5, frames: tuple[int, int] | None = None):
    """x and y over time of the chosen keypoints: raw in grey, one colour per chain, raw spikes marked.

    One row of panels per individual and keypoint, one column per axis;
    a red tick above the trace at each raw spike (same definition as
    :func:`compare_filters`). ``frames`` = ``(start, stop)`` rows of the
    arrays to draw (default all). Written as PNG to ``path``.

    Examples
    --------
    >>> plot_traces(pose, {"kalman": smoothed}, "jaw.png", keypoints=["jaw_tip"])   # doctest: +SKIP
    PosixPath('jaw.png')
    """
    from ..plots import _plt, _save

    plt = _plt()
    unknown = [kp for kp in keypoints if kp not in raw.keypoints]
    if unknown:
        raise ValueError(f"keypoint(s) {unknown} not in the pose (its keypoints: {list(raw.keypoints)})")
    start, stop = frames or (0, raw.n_frames)
    t = np.arange(start, stop) + raw.frame_offset
    rows = [(i, ind, raw.keypoints.index(kp), kp) for i, ind in enumerate(raw.individuals) for kp in keypoints]
    axes_names = "xyz"[:raw.n_space]
    fig, axes = plt.subplots(len(rows), raw.n_space, figsize=(6 * raw.n_space, 1.9 * len(rows) + 0.8),
                             squeeze=False, sharex=True)
    colors = plt.get_cmap("tab10").colors
    for r, (i, ind, j, kp) in enumerate(rows):
        trace = raw.positions[:, i, j]
        spikes = spike_frames(trace, k=k, max_width=max_width, min_spread=min_spread)
        spikes = spikes[(spikes >= start) & (spikes < stop)]
        for a, ax in enumerate(axes[r]):
            ax.plot(t, trace[start:stop, a], color="0.6", lw=0.8, label="raw")
            for c, (name, pose) in enumerate(filtered.items()):
                ax.plot(t, pose.positions[start:stop, i, j, a], color=colors[c % 10], lw=0.8, label=name)
            if len(spikes):
                ax.plot(spikes + raw.frame_offset, trace[spikes, a], "x", color="red", ms=5, label="raw spike")
            ax.set_ylabel(f"{ind} {kp} {axes_names[a]}", fontsize=8)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="best")
    for ax in axes[-1]:
        ax.set_xlabel("frame")
    fig.suptitle(f"filter chains on the raw trace (x: spike, jump > {k:g} robust SD)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
