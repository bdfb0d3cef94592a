"""Where each individual is, and where it cannot be: centroids, body size and the motion gate.

:func:`centroids` is the robust per-individual position that identity
checks and corrections work on (see :mod:`.identity`); :func:`reject_implausible`
blanks detections an identity cannot have reached.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np

from ..pose import PoseData

__all__ = ["body_size", "centroids", "reject_implausible"]


def centroids(pose: PoseData, keypoints=None) -> np.ndarray:
    """Per frame and individual, the median of the valid keypoints, shape (time, individual, space).

    Parameters
    ----------
    pose : PoseData
    keypoints : sequence of str, optional
        Use only these body parts (default: all).
    """
    pos = pose.positions
    if keypoints is not None:
        pos = pos[:, :, [pose.keypoints.index(k) for k in keypoints]]
    pos = np.where(np.isnan(pos).any(-1, keepdims=True), np.nan, pos)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(pos, axis=2)


def body_size(pose: PoseData) -> float:
    """Typical size of an animal: the median, over detected instances, of the largest keypoint-to-keypoint distance.

    NaN when no instance has two valid keypoints (e.g. a single-keypoint skeleton).
    """
    pos = pose.positions
    if pos.shape[2] < 2:
        return float("nan")
    d = np.full(pos.shape[:2], -np.inf)                                   # (time, individual), pair by pair:
    for a in range(pos.shape[2] - 1):                                      # no (time, individual, k, k) array
        pair = np.linalg.norm(pos[:, :, a + 1:] - pos[:, :, a:a + 1], axis=-1)
        d = np.fmax(d, np.where(np.isnan(pair), -np.inf, pair).max(axis=2))
    d = d[np.isfinite(d) & (d > 0)]
    return float(np.median(d)) if d.size else float("nan")


def reject_implausible(pose: PoseData, *, max_jump: float = 1.0, max_speed: float = 8.0,
                       size: float | None = None) -> tuple[PoseData, dict]:
    """Blank detections that an identity cannot have reached: a motion gate per identity.

    Frame by frame, an identity's detection is kept when its centroid lies
    within ``size * (max_jump + max_speed * gap / fps)`` of the identity's last
    *kept* centroid, ``gap`` frames earlier; otherwise the whole instance is
    set to NaN in that frame (the identity is "unknown" there rather than on
    another animal).  The gate widens while detections are rejected, so a
    track that really moved is picked up again.  Typical rejections: a
    detection that jumps onto the other animal, or an instance whose
    keypoints are split between two animals.

    Parameters
    ----------
    pose : PoseData
        Not modified.
    max_jump : float
        Allowed displacement beyond the speed allowance, in body sizes.
    max_speed : float
        Fastest plausible movement, in body sizes per second.
    size : float, optional
        Body size in the pose's units (default: :func:`body_size`).

    Returns
    -------
    (PoseData, dict)
        The gated pose and a report: ``body_size``, ``rejected`` (identity
        -> frames blanked) and ``kept_fraction`` (identity -> fraction of its
        detections kept).

    Raises
    ------
    ValueError
        Non-positive ``max_jump``/``max_speed``, or no body size (give ``size``).

    Examples
    --------
    >>> import numpy as np
    >>> from pipeline.pose import PoseData
    >>> pos = np.zeros((4, 1, 2, 2)); pos[:, 0, 1] = (10.0, 0.0)     # a 10-unit animal at rest
    >>> pos[2] += 100.0                                                   # ... seen 100 units away once
    >>> pose = PoseData(positions=pos, confidence=np.ones((4, 1, 2)), fps=30.0,
    ...                 individuals=("a",), keypoints=("nose", "tail"))
    >>> gated, report = reject_implausible(pose)
    >>> report["rejected"], bool(np.isnan(gated.positions[2]).all())
    ({'a': 1}, True)
    """
    if not (max_jump > 0 and max_speed > 0):
        raise ValueError(f"max_jump and max_speed must be > 0, got {max_jump} and {max_speed}")
    size = body_size(pose) if size is None else float(size)
    if not (np.isfinite(size) and size > 0):
        raise ValueError("no body size: the pose has no instance with two valid keypoints; pass size=")
    if not pose.fps or pose.fps <= 0:
        raise ValueError("the pose has no frame rate; max_speed is per second")
    c = centroids(pose)
    m = c.shape[1]
    present = ~np.isnan(c).any(-1)
    keep = present.copy()
    per_frame = size * max_speed / pose.fps
    radius = size * max_jump
    for j in range(m):
        frames = np.flatnonzero(keep[:, j])
        if not len(frames):
            continue
        steps = np.linalg.norm(np.diff(c[frames, j], axis=0), axis=-1)
        # fast path: a track that never leaves its gate from one detection to the next keeps everything
        if (steps <= radius + per_frame * np.diff(frames)).all():
            continue
        pts = c[frames, j].tolist()                                   # plain floats: a quick loop
        last, lt = pts[0], int(frames[0])
        for t, p in zip(frames[1:].tolist(), pts[1:]):
            if math.dist(p, last) > radius + per_frame * (t - lt):
                keep[t, j] = False
            else:
                last, lt = p, t
    rejected = present & ~keep
    positions = np.where(rejected[..., None, None], np.nan, pose.positions)
    confidence = np.where(rejected[..., None], np.nan, pose.confidence)
    names = pose.individuals
    report = {"body_size": size,
              "rejected": {names[j]: int(rejected[:, j].sum()) for j in range(m)},
              "kept_fraction": {names[j]: float(keep[:, j].sum() / present[:, j].sum()) if present[:, j].any()
                                else float("nan") for j in range(m)}}
    return dataclasses.replace(pose, positions=positions, confidence=confidence), report


def _last_known(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each frame, the last valid centroid strictly before it and the frames since then."""
    n = c.shape[0]
    ok = ~np.isnan(c).any(-1)
    idx = np.where(ok, np.arange(n)[:, None], -1)
    prev = np.maximum.accumulate(idx, axis=0)
    prev = np.vstack([np.full((1, c.shape[1]), -1), prev[:-1]])
    cols = np.arange(c.shape[1])
    last = np.where((prev >= 0)[..., None], c[np.maximum(prev, 0), cols], np.nan)
    return last, np.arange(n)[:, None] - prev
