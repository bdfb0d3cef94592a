"""Classifier output as the rule engine's rows: bouts, a summary per behaviour and series, time bins.

The rows have the shape of :class:`schemas.behavior.SocialBouts`' parts, so
reports, group statistics and audits read classifier bouts like rule-based
ones. A directed behaviour has one row set per ordered pair (agent -> target);
a solo behaviour one per animal, with ``target`` = the animal itself.
Nothing is mutual.

A frame where a series is not scorable (:func:`~.series.scorable_frames`) is
never the behaviour, and counts as not scorable in ``scorable_fraction``, so
that a recording without usable pose reports no data rather than 0 bouts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..behavior.bouts import find_bouts, summarise_bouts
from ..behavior.rows import _rows


def series_bouts(probability: np.ndarray, scorable: np.ndarray, *, threshold: float, fps: float,
                 min_bout_s: float, max_gap_s: float) -> pd.DataFrame:
    """Bouts ``[start, end)`` (frames from the series start) of one behaviour, with their mean probability.

    Examples
    --------
    >>> p = np.r_[np.zeros(5), np.full(10, 0.9), np.zeros(5)]
    >>> b = series_bouts(p, np.ones(20, bool), threshold=0.5, fps=30, min_bout_s=0.1, max_gap_s=0.1)
    >>> b.round(3).values.tolist()
    [[0.0, 5.0, 15.0, 0.9]]
    """
    p = np.asarray(probability, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        on = p >= threshold
    b = find_bouts(on, scorable, fps=fps, min_bout_s=min_bout_s, max_gap_s=max_gap_s)
    cs = np.r_[0.0, np.cumsum(np.nan_to_num(p))]
    st, en = b["start_frame"].to_numpy(), b["end_frame"].to_numpy()
    return b.assign(mean_probability=(cs[en] - cs[st]) / np.maximum(en - st, 1))


def prediction_rows(predictions: Sequence[Mapping], *, thresholds: Mapping[str, float], fps: float, n_frames: int,
                    frame_offset: int, min_bout_s: float, max_gap_s: float, bin_s: float, n_bins: int) -> dict:
    """Bout, Summary and TimeBin rows (video frames) of one recording's predictions.

    Parameters
    ----------
    predictions : sequence of mapping
        One per series and behaviour: ``behavior, agent, target,
        probability`` (time,) and ``scorable`` (time,) bool.
    thresholds : mapping of str to float
        Per behaviour.
    fps, n_frames, frame_offset : keyword-only
        Of the pose the series come from.
    min_bout_s, max_gap_s : keyword-only
        Post-processing of the classifier.
    bin_s, n_bins : keyword-only
        The time bins (from the start of the covered data).

    Returns
    -------
    dict
        ``bouts`` (with ``mean_probability``), ``summary``, ``bins``: lists of rows.

    Examples
    --------
    >>> p = np.r_[np.zeros(30), np.full(30, 0.8), np.zeros(60)]
    >>> pred = [{"behavior": "attack", "agent": "a", "target": "b", "probability": p, "scorable": np.ones(120, bool)}]
    >>> rows = prediction_rows(pred, thresholds={"attack": 0.5}, fps=30, n_frames=120, frame_offset=10,
    ...                        min_bout_s=0.2, max_gap_s=0.2, bin_s=2, n_bins=2)
    >>> rows["bouts"][0]["start_frame"], rows["summary"][0]["total_duration_s"], [b["bout_count"] for b in rows["bins"]]
    (40, 1.0, [1, 0])
    """
    windows = {"all": (0.0, None), **{k: (k * bin_s, (k + 1) * bin_s) for k in range(int(n_bins))}}
    bouts, summaries = [], []
    for pred in predictions:
        names = {k: pred[k] for k in ("behavior", "agent", "target")}
        b = series_bouts(pred["probability"], pred["scorable"], threshold=float(thresholds[pred["behavior"]]),
                         fps=fps, min_bout_s=min_bout_s, max_gap_s=max_gap_s)
        bouts.append(pd.DataFrame({**names, "start_frame": b["start_frame"].to_numpy(np.int64),
                                   "end_frame": b["end_frame"].to_numpy(np.int64),
                                   "duration_s": (b["end_frame"] - b["start_frame"]).to_numpy() / fps,
                                   "mean_probability": b["mean_probability"].to_numpy()}))
        s = summarise_bouts(b, fps=fps, n_frames=n_frames, scorable=np.asarray(pred["scorable"], bool)[None],
                            windows=windows)
        summaries.append(s.drop(columns="pair").assign(**names, mutual=False))
    table = pd.concat(bouts, ignore_index=True) if bouts else pd.DataFrame(
        columns=["behavior", "agent", "target", "start_frame", "end_frame", "duration_s", "mean_probability"])
    summary = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame()
    rows = _rows({"frame_offset": frame_offset, "fps": fps}, table, summary)
    return rows
