"""Bouts from per-frame contact, and their summaries (vectorised).

Durations in seconds are turned into frame counts with a 1e-9 tolerance:
a gap of ``g`` frames is merged when ``g / fps <= max_gap_s``; a bout of
``n`` frames is kept when ``n / fps >= min_bout_s``.

Unscorable frames (a needed keypoint missing) are neither contact nor
non-contact: a bout never starts or ends on one, and they count towards a
gap like non-contact frames, so a bout bridges at most ``max_gap_s`` of
unscorable (plus non-contact) frames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

BOUT_COLUMNS = ("pair", "start_frame", "end_frame")
_EPS = 1e-9


def gap_frames(max_gap_s: float, fps: float) -> int:
    """Longest gap (frames) that is merged."""
    return int(np.floor(max_gap_s * fps + _EPS))


def min_frames(min_bout_s: float, fps: float) -> int:
    """Shortest bout (frames) that is kept."""
    return max(1, int(np.ceil(min_bout_s * fps - _EPS)))


def runs(mask: np.ndarray):
    """Runs of True per row of a 2-D bool array: ``(row, start, end)``, row-major, end exclusive."""
    n_rows, n = mask.shape
    pad = np.zeros((n_rows, n + 2), dtype=np.int8)
    pad[:, 1:-1] = mask
    d = np.diff(pad, axis=1).ravel()
    edge = np.flatnonzero(d)  # row-major: a run's start (+1) is followed by its end (-1)
    start, end = edge[0::2], edge[1::2]
    return start // (n + 1), start % (n + 1), end % (n + 1)


def hysteresis(strict: np.ndarray, loose: np.ndarray) -> np.ndarray:
    """Frames of the runs of ``strict | loose`` (per row) that hold a strict frame.

    Examples
    --------
    >>> hysteresis(np.array([[0, 0, 1, 0, 0, 0]], bool), np.array([[0, 1, 1, 1, 0, 1]], bool)).astype(int)
    array([[0, 1, 1, 1, 0, 0]])
    """
    strict = np.asarray(strict, dtype=bool)
    row, start, end = runs(strict | loose)
    cs = np.zeros((strict.shape[0], strict.shape[1] + 1), dtype=np.int64)
    np.cumsum(strict, axis=1, out=cs[:, 1:])
    keep = cs[row, end] > cs[row, start]
    mark = np.zeros(cs.shape, dtype=np.int64)
    np.add.at(mark, (row[keep], start[keep]), 1)
    np.add.at(mark, (row[keep], end[keep]), -1)
    return np.cumsum(mark, axis=1)[:, :-1] > 0


def hysteresis_sparse(strict: np.ndarray, loose: np.ndarray, link: np.ndarray) -> np.ndarray:
    """:func:`hysteresis` on a subset of frames; ``link[k]`` says
    that frame ``k + 1`` of the subset directly follows frame ``k`` (same pair)."""
    u = strict | loose
    start = u.copy()
    start[1:] &= ~(u[:-1] & link)
    run = np.cumsum(start) - 1
    has = np.zeros(int(start.sum()) + 1, dtype=bool)
    has[run[strict]] = True
    return u & has[run]


def find_bouts(in_contact: np.ndarray, scorable: np.ndarray | None = None, *, fps: float,
               min_bout_s: float, max_gap_s: float) -> pd.DataFrame:
    """Run-length encode contact frames into bouts, merge short gaps, drop short bouts.

    Parameters
    ----------
    in_contact : ndarray of bool, shape (pairs, time) or (time,)
    scorable : ndarray of bool, same shape, optional
        False where the frame cannot be scored; contact there is ignored.
    fps : float, keyword-only
    min_bout_s, max_gap_s : float, keyword-only
        Bouts shorter than ``min_bout_s`` (after merging) are dropped; gaps of
        at most ``max_gap_s`` are merged.

    Returns
    -------
    DataFrame
        Columns ``pair`` (row of the input; 0 for 1-D input), ``start_frame``,
        ``end_frame`` (exclusive), int64, sorted by pair then start.

    Examples
    --------
    >>> c = np.zeros(40, bool); c[10:20] = c[23:30] = True
    >>> find_bouts(c, fps=30, min_bout_s=0.2, max_gap_s=0.2).values.tolist()
    [[0, 10, 30]]
    """
    c = np.asarray(in_contact, dtype=bool)
    if scorable is not None:
        c = c & np.asarray(scorable, dtype=bool)
    if c.ndim == 1:
        c = c[None]
    row, start, end = runs(c)
    if len(start):
        gap = start[1:] - end[:-1]
        merge = (row[1:] == row[:-1]) & (gap <= gap_frames(max_gap_s, fps))
        first = np.flatnonzero(np.r_[True, ~merge])
        last = np.r_[first[1:] - 1, len(start) - 1]
        row, start, end = row[first], start[first], end[last]
        keep = (end - start) >= min_frames(min_bout_s, fps)
        row, start, end = row[keep], start[keep], end[keep]
    return pd.DataFrame({"pair": row.astype(np.int64), "start_frame": start.astype(np.int64),
                         "end_frame": end.astype(np.int64)})


def _windows(windows, fps: float, n_frames: int):
    if windows is None:
        names, spans = ["all"], [(0.0, None)]
    elif isinstance(windows, Mapping):
        names, spans = list(windows), list(windows.values())
    else:
        spans = list(windows)
        names = list(range(len(spans)))
    ws = np.array([min(n_frames, int(round(s * fps))) for s, _ in spans], dtype=np.int64)
    we = np.array([n_frames if e is None else min(n_frames, int(round(e * fps))) for _, e in spans],
                  dtype=np.int64)
    if np.any(we < ws):
        raise ValueError(f"window ends before it starts: {spans}")
    return names, ws, we


def summarise_bouts(bouts: pd.DataFrame, *, fps: float, n_frames: int,
                    scorable: np.ndarray | None = None, n_pairs: int | None = None,
                    windows: Mapping | Sequence | None = None) -> pd.DataFrame:
    """Per pair (and window): counts, durations, latency, scorable fraction.

    Parameters
    ----------
    bouts : DataFrame
        From :func:`find_bouts` (one behaviour).
    fps : float, keyword-only
    n_frames : int, keyword-only
        Length of the recording.
    scorable : ndarray of bool (pairs, time), keyword-only, optional
        For the scorable fraction (NaN without it) and the number of pairs.
    n_pairs : int, keyword-only, optional
        Number of pairs when ``scorable`` is not given (default: from bouts).
    windows : mapping name -> (start_s, end_s) or sequence of (start_s, end_s), optional
        ``end_s`` None = end of recording. Default: the whole recording, named ``"all"``.

    Returns
    -------
    DataFrame
        One row per pair and window: ``pair, window, window_start_s,
        window_end_s, bout_count`` (bouts *starting* in the window),
        ``total_duration_s`` (contact time inside the window, bouts clipped),
        ``mean_bout_s, median_bout_s`` (full durations of the counted bouts;
        NaN when none), ``latency_s`` (window start to the first bout frame
        inside it, a bout running into the window gives 0; NaN when none),
        ``frames_in_contact`` (frames inside bouts, clipped; bridged gaps count),
        ``scorable_fraction`` (of the window's frames).
    """
    names, ws, we = _windows(windows, fps, n_frames)
    st = bouts["start_frame"].to_numpy(np.int64)
    en = bouts["end_frame"].to_numpy(np.int64)
    pr = bouts["pair"].to_numpy(np.int64)
    if scorable is not None:
        scorable = np.asarray(scorable, dtype=bool)
        scorable = scorable[None] if scorable.ndim == 1 else scorable
        n_pairs = scorable.shape[0]
    elif n_pairs is None:
        n_pairs = int(pr.max()) + 1 if len(pr) else 1
    W = len(ws)
    ov = np.clip(np.minimum(en[:, None], we) - np.maximum(st[:, None], ws), 0, None)  # (B, W)
    starts_in = (st[:, None] >= ws) & (st[:, None] < we)
    g = pr[:, None] * W + np.arange(W)
    size = n_pairs * W
    count = np.bincount(g[starts_in], minlength=size)
    dur = np.broadcast_to((en - st)[:, None], g.shape)[starts_in] / fps
    dsum = np.bincount(g[starts_in], weights=dur, minlength=size)
    frames = np.bincount(g.ravel(), weights=ov.ravel(), minlength=size).astype(np.int64)
    lat = np.full(size, np.inf)
    inside = ov > 0
    np.minimum.at(lat, g[inside], (np.maximum(st[:, None], ws) - ws)[inside])
    median = np.full(size, np.nan)
    if starts_in.any():
        med = pd.Series(dur).groupby(g[starts_in]).median()
        median[med.index.to_numpy()] = med.to_numpy()
    if scorable is not None:
        wse, wee = np.minimum(ws, scorable.shape[1]), np.minimum(we, scorable.shape[1])
        if W == 1:
            cnt = scorable[:, wse[0]:wee[0]].sum(axis=1)[:, None]
        else:
            cs = np.zeros((n_pairs, scorable.shape[1] + 1), dtype=np.int64)
            np.cumsum(scorable, axis=1, out=cs[:, 1:])
            cnt = cs[:, wee] - cs[:, wse]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = (cnt / (we - ws)).ravel()
    else:
        frac = np.full(size, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, dsum / count, np.nan)
    return pd.DataFrame({
        "pair": np.repeat(np.arange(n_pairs), W),
        "window": np.tile(np.array(names, dtype=object), n_pairs),
        "window_start_s": np.tile(ws / fps, n_pairs), "window_end_s": np.tile(we / fps, n_pairs),
        "bout_count": count.astype(np.int64),
        "total_duration_s": frames / fps,
        "mean_bout_s": mean, "median_bout_s": median,
        "latency_s": np.where(np.isfinite(lat), lat, np.nan) / fps,
        "frames_in_contact": frames, "scorable_fraction": frac,
    })


def time_binned(bouts: pd.DataFrame, *, fps: float, bin_s: float = 60.0, n_bins: int = 3,
                n_frames: int | None = None, scorable: np.ndarray | None = None,
                n_pairs: int | None = None) -> pd.DataFrame:
    """Per pair and consecutive time bin: bouts starting in it, contact time, latency.

    Parameters
    ----------
    bouts : DataFrame
        From :func:`find_bouts`.
    fps : float, keyword-only
    bin_s : float, keyword-only
        Bin length (default 60 s).
    n_bins : int, keyword-only
        Number of bins from the start of the recording (default 3).
    n_frames : int, keyword-only, optional
        Recording length; bins past it are truncated (default: no truncation).
    scorable, n_pairs : keyword-only, optional
        As in :func:`summarise_bouts`.

    Returns
    -------
    DataFrame
        ``pair, bin, bin_start_s, bin_end_s, bout_count, contact_s, latency_s,
        scorable_fraction``; ``latency_s`` is from the bin start.
    """
    if n_frames is None:
        n_frames = int(round(n_bins * bin_s * fps))
    windows = [(k * bin_s, (k + 1) * bin_s) for k in range(n_bins)]
    s = summarise_bouts(bouts, fps=fps, n_frames=n_frames, scorable=scorable, n_pairs=n_pairs,
                        windows=windows)
    return s.rename(columns={"window": "bin", "window_start_s": "bin_start_s", "window_end_s": "bin_end_s",
                             "total_duration_s": "contact_s"})[
        ["pair", "bin", "bin_start_s", "bin_end_s", "bout_count", "contact_s", "latency_s",
         "scorable_fraction"]]
