"""Active learning: the video segments where a classifier is least certain, as a labelling job.

A frame's *uncertainty* for one behaviour is ``1 - |p - t| / t`` below the threshold ``t`` and
``1 - |p - t| / (1 - t)`` above it (1 at the threshold, 0 at p = 0 or 1); a series' frame takes its most
uncertain behaviour. Recordings are cut into consecutive segments of
``segment_s`` seconds; a segment's score is the mean uncertainty of its
scorable frames (a segment with under half its frames scorable is skipped).
The ``n`` highest-scoring segments over all recordings are the job; they are
written as a BORIS project (one observation per video, each segment a
``to_label`` state event, with the ethogram's behaviours ready to code) and as
a CSV list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

MARK = "to_label"


def uncertainty(probability: np.ndarray, threshold: float) -> np.ndarray:
    """Per-frame uncertainty of one behaviour (NaN where the probability is NaN).

    Examples
    --------
    >>> uncertainty(np.array([0.0, 0.3, 0.6, 1.0, np.nan]), 0.3).round(3).tolist()
    [0.0, 1.0, 0.571, 0.0, nan]
    """
    t = float(threshold)
    p = np.asarray(probability, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return 1.0 - np.abs(p - t) / np.where(p < t, max(t, 1e-12), max(1.0 - t, 1e-12))


def segments(frame_uncertainty: np.ndarray, *, fps: float, segment_s: float = 2.0,
             frame_offset: int = 0) -> pd.DataFrame:
    """Consecutive segments of one recording with their mean uncertainty.

    Returns
    -------
    DataFrame
        ``start_frame, end_frame`` (video frames, end exclusive), ``uncertainty``.

    Examples
    --------
    >>> u = np.r_[np.zeros(30), np.full(30, 0.8), np.full(10, np.nan)]
    >>> segments(u, fps=30, segment_s=1, frame_offset=100).round(3).values.tolist()
    [[100.0, 130.0, 0.0], [130.0, 160.0, 0.8]]
    """
    u = np.asarray(frame_uncertainty, dtype=np.float64)
    width = max(1, int(round(segment_s * fps)))
    rows = []
    for start in range(0, len(u), width):
        chunk = u[start:start + width]
        ok = np.isfinite(chunk)
        if ok.sum() * 2 < width:
            continue
        rows.append((frame_offset + start, frame_offset + start + len(chunk), float(chunk[ok].mean())))
    return pd.DataFrame(rows, columns=["start_frame", "end_frame", "uncertainty"])


def most_uncertain(recordings: Sequence[Mapping], *, n: int, segment_s: float = 2.0) -> pd.DataFrame:
    """The ``n`` most uncertain segments over several recordings.

    Parameters
    ----------
    recordings : sequence of mapping
        ``recording`` (name), ``fps``, ``frame_offset``, ``thresholds``
        ({behaviour: t}) and ``series``: {name: {behaviour: probability}}.

    Returns
    -------
    DataFrame
        ``recording, start_frame, end_frame, start_s, end_s, uncertainty``,
        most uncertain first (ties: recording, then start).
    """
    found = []
    for rec in recordings:
        per_series = [np.fmax.reduce([uncertainty(p, rec["thresholds"][b]) for b, p in probs.items()])
                      for probs in rec["series"].values() if probs]
        if not per_series:
            continue
        frame_u = np.fmax.reduce(per_series) if len(per_series) > 1 else per_series[0]
        seg = segments(frame_u, fps=rec["fps"], segment_s=segment_s, frame_offset=int(rec["frame_offset"]))
        found.append(seg.assign(recording=rec["recording"], start_s=seg["start_frame"] / rec["fps"],
                                end_s=seg["end_frame"] / rec["fps"]))
    columns = ["recording", "start_frame", "end_frame", "start_s", "end_s", "uncertainty"]
    if not found:
        return pd.DataFrame(columns=columns)
    table = pd.concat(found, ignore_index=True)[columns]
    table = table.sort_values(["uncertainty", "recording", "start_frame"], ascending=[False, True, True])
    return table.head(int(n)).reset_index(drop=True)


def write_boris_job(job: pd.DataFrame, path: str | Path, *, videos: Mapping[str, Mapping],
                    behaviors: Mapping[str, bool]) -> Path:
    """Write the segments as a BORIS project: one observation per recording, segments as ``to_label`` states.

    Parameters
    ----------
    job : DataFrame
        From :func:`most_uncertain`.
    videos : mapping
        recording -> ``{"file": video path, "fps", "length_s"}``.
    behaviors : mapping of str to bool
        The ethogram (name -> directed) to code with; added as state events.
    """
    codes = [MARK, *sorted(behaviors)]
    conf = {str(i): {"key": "", "code": c, "type": "State event", "description": "", "modifiers": "",
                     "excluded": "", "coding map": "", "category": ""} for i, c in enumerate(codes)}
    observations = {}
    for rec, rows in job.groupby("recording", sort=True):
        video = videos[rec]
        events = sorted([float(t), "", MARK, "", f"uncertainty {u:.3f}"]
                        for s, e, u in rows[["start_s", "end_s", "uncertainty"]].itertuples(index=False)
                        for t in (s, e))
        observations[rec] = {"type": "MEDIA", "date": "", "description": "ethojoint label-next",
                             "time offset": 0.0, "file": {"1": [str(video["file"])], "2": []},
                             "media_info": {"fps": {str(video["file"]): float(video["fps"])},
                                            "length": {str(video["file"]): float(video["length_s"])}},
                             "events": events, "independent_variables": {}}
    project = {"project_format_version": "7.0", "project_name": "ethojoint label-next", "behaviors_conf": conf,
               "subjects_conf": {}, "observations": observations, "behavioral_categories": [],
               "independent_variables": {}, "coding_map": {}, "time_format": "s"}
    path = Path(path)
    path.write_text(json.dumps(project, indent=1))
    return path
