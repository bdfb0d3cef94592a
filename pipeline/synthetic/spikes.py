"""Tracking spikes of known frames, injected into a pose (ground truth for filter comparisons)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..pose import PoseData

SPIKE_COLUMNS = ("individual", "keypoint", "frame", "width", "dx", "dy")


def inject_spikes(pose: PoseData, *, seed: int, per_series: int = 5, size_px: float = 40.0,
                  max_width: int = 2, min_spacing: int = 30, keypoints=None) -> tuple[PoseData, pd.DataFrame]:
    """Move a point off its track for 1..``max_width`` frames, ``per_series`` times per individual and keypoint.

    A spike moves the point by ``size_px`` in a random direction (the same
    offset on each of its frames), starts where the point and the frames
    around the excursion are present, at least ``min_spacing`` frames from
    the ends and from any other spike of the series. The confidence is
    left as it was (trackers are often confident about wrong points).

    Parameters
    ----------
    pose : PoseData
        The pose to disturb (not modified).
    seed : int
        Seed of ``numpy.random.default_rng``.
    per_series, size_px, max_width, min_spacing
        Count, displacement, longest excursion (frames), spacing.
    keypoints : sequence of str, optional
        Only these keypoints (default all).

    Returns
    -------
    (PoseData, DataFrame)
        The disturbed pose and one row per spike: :data:`SPIKE_COLUMNS`
        (``frame`` = first frame off the track, a row index of the arrays).

    Examples
    --------
    >>> from pipeline.synthetic import simulate_session
    >>> pose, spikes = inject_spikes(simulate_session(seed=0, duration_s=20).pose, seed=1, per_series=2)
    >>> len(spikes), list(spikes.columns[:3])
    (24, ['individual', 'keypoint', 'frame'])
    """
    rng = np.random.default_rng(seed)
    positions = pose.positions.copy()
    chosen = list(pose.keypoints if keypoints is None else keypoints)
    rows = []
    for i, ind in enumerate(pose.individuals):
        for kp in chosen:
            j = pose.keypoints.index(kp)
            present = ~np.isnan(positions[:, i, j]).any(axis=1)
            taken: list[int] = []
            for _ in range(per_series):
                width = int(rng.integers(1, max_width + 1))
                frame = _free_frame(rng, present, taken, width, min_spacing)
                if frame is None:
                    break
                angle = rng.uniform(0, 2 * np.pi)
                offset = size_px * np.array([np.cos(angle), np.sin(angle)] + [0.0] * (pose.n_space - 2))
                positions[frame:frame + width, i, j] += offset
                taken.append(frame)
                rows.append({"individual": ind, "keypoint": kp, "frame": frame, "width": width,
                             "dx": float(offset[0]), "dy": float(offset[1])})
    table = pd.DataFrame(rows, columns=list(SPIKE_COLUMNS)).sort_values(["individual", "keypoint", "frame"])
    return replace(pose, positions=positions), table.reset_index(drop=True)


def _free_frame(rng, present: np.ndarray, taken: list[int], width: int, spacing: int) -> int | None:
    """A random start frame whose excursion and neighbours are present and away from other spikes."""
    n = len(present)
    for _ in range(200):
        frame = int(rng.integers(spacing, max(spacing + 1, n - spacing - width)))
        window = present[frame - 1:frame + width + 1]
        if len(window) == width + 2 and window.all() and all(abs(frame - t) >= spacing for t in taken):
            return frame
    return None
