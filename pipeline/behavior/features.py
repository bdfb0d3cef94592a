"""Per-frame social features of every ordered pair of individuals.

All arrays are ``(pairs, time)``; pair ``p`` is ``pairs[p] = (agent, target)``
as individual indices, every ordered pair of distinct individuals in
row-major order ((0, 1), (0, 2), ..., (1, 0), ...). NaN wherever a keypoint a
feature needs is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .roles import Resolution, role_points

TARGET_POINTS = ("nose", "tail_base", "neck", "left_ear", "right_ear")


@dataclass(frozen=True)
class SocialFeatures:
    """Features of all ordered pairs.

    Attributes
    ----------
    pairs : tuple of (int, int)
        ``(agent, target)`` individual indices per row.
    distance : dict of str to ndarray (pairs, time)
        Agent nose to each target point of :data:`TARGET_POINTS`.
    angle : dict of str to ndarray (pairs, time)
        Head-direction angle in degrees, 0..180: between the agent's heading
        (neck -> nose) and the direction from the agent's neck to the target
        point; a nose touching the point gives a small angle.
    centre_distance : ndarray (pairs, time)
        Distance between body centres (midpoint of neck and tail base).
    body_angle : ndarray (pairs, time)
        Angle (deg) between the two body axes (tail base -> neck); 0 = parallel.
    agent_speed, target_speed : ndarray (pairs, time)
        Body-centre speeds, distance units per second (NaN without ``fps``).
    motion_angle : ndarray (pairs, time)
        Angle (deg) between the two body-centre velocity vectors.
    behind : ndarray (pairs, time)
        Signed position of the agent's nose along the target's body axis,
        measured from the target's tail base (negative = behind the target).
    units : str
        ``"mm"`` when a scale was applied, else ``"px"`` (raw units).
    """

    pairs: tuple
    distance: dict
    angle: dict
    centre_distance: np.ndarray
    body_angle: np.ndarray
    agent_speed: np.ndarray
    target_speed: np.ndarray
    motion_angle: np.ndarray
    behind: np.ndarray
    units: str = "mm"
    fps: float | None = None
    n_individuals: int = 2
    extra: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return self.centre_distance.shape[1]


def ordered_pairs(n_individuals: int) -> tuple:
    """Every ordered pair of distinct individual indices, row-major."""
    return tuple((a, b) for a in range(n_individuals) for b in range(n_individuals) if a != b)


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(v * v, axis=-1))


def vector_angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle in degrees (0..180) between vectors along the last axis (2D or 3D)."""
    dot = np.sum(u * v, axis=-1)
    if u.shape[-1] == 2:
        cross = np.abs(u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0])
    else:
        cross = _norm(np.cross(u, v))
    return np.degrees(np.arctan2(cross, dot))


def _pt(a: np.ndarray) -> np.ndarray:
    """(time, pairs) -> contiguous (pairs, time)."""
    return np.ascontiguousarray(a.T)


def social_features(positions: np.ndarray, roles: Resolution, *, keypoints: Sequence[str],
                    mm_per_unit: float | None, fps: float | None = None) -> SocialFeatures:
    """Compute the per-frame features of every ordered pair.

    Parameters
    ----------
    positions : ndarray, shape (time, individual, keypoint, space)
        Coordinates; NaN = missing.
    roles : dict
        From :func:`~pipeline.behavior.roles.resolve_roles`.
    keypoints : sequence of str, keyword-only
        Keypoint names of axis 2.
    mm_per_unit : float or None, keyword-only
        mm per coordinate unit (mm per pixel; 1.0 for 3D poses in mm). ``None``
        keeps the raw units, and the result says ``units="px"``.
    fps : float, optional, keyword-only
        Frame rate, for speeds; without it the speeds are NaN.

    Returns
    -------
    SocialFeatures

    Examples
    --------
    >>> import numpy as np
    >>> pos = np.zeros((1, 2, 3, 2)); pos[0, 1, :, 0] = 10.0
    >>> pos[0, :, 0, 1] = 1.0  # nose one unit ahead of the neck
    >>> roles = {"nose": "n", "left_ear": None, "right_ear": None, "neck": "k", "tail_base": "t"}
    >>> f = social_features(pos, roles, keypoints=["n", "k", "t"], mm_per_unit=0.5)
    >>> float(f.distance["nose"][0, 0])
    5.0
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 4:
        raise ValueError(f"positions must be (time, individual, keypoint, space), got {positions.shape}")
    if mm_per_unit is not None:
        if not np.isfinite(mm_per_unit) or mm_per_unit <= 0:
            raise ValueError(f"mm_per_unit must be a positive number, got {mm_per_unit}")
        positions = positions * float(mm_per_unit)
    n_ind = positions.shape[1]
    pairs = ordered_pairs(n_ind)
    ai = np.array([p[0] for p in pairs], dtype=np.intp)
    ti = np.array([p[1] for p in pairs], dtype=np.intp)
    pts = role_points(positions, keypoints, roles)
    nose_a, neck_a = pts["nose"][:, ai], pts["neck"][:, ai]
    heading = nose_a - neck_a
    distance, angle = {}, {}
    for name in TARGET_POINTS:
        tp = pts[name][:, ti]
        distance[name] = _pt(_norm(tp - nose_a))
        angle[name] = _pt(vector_angle(heading, tp - neck_a))
    centre = 0.5 * (pts["neck"] + pts["tail_base"])  # (time, individual, space)
    axis = pts["neck"] - pts["tail_base"]
    if fps:
        vel = np.gradient(centre, axis=0) * float(fps) if centre.shape[0] > 1 else np.full_like(centre, np.nan)
    else:
        vel = np.full_like(centre, np.nan)
    speed = _norm(vel)
    t_axis = axis[:, ti]
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = t_axis / _norm(t_axis)[..., None]
    behind = np.sum((nose_a - pts["tail_base"][:, ti]) * unit, axis=-1)
    return SocialFeatures(
        pairs=pairs, distance=distance, angle=angle,
        centre_distance=_pt(_norm(centre[:, ti] - centre[:, ai])),
        body_angle=_pt(vector_angle(axis[:, ai], t_axis)),
        agent_speed=_pt(speed[:, ai]), target_speed=_pt(speed[:, ti]),
        motion_angle=_pt(vector_angle(vel[:, ai], vel[:, ti])),
        behind=_pt(behind),
        units="px" if mm_per_unit is None else "mm",
        fps=None if fps is None else float(fps), n_individuals=n_ind,
    )


def running_median(x: np.ndarray, window: int) -> np.ndarray:
    """Centred running median along the last axis, NaN ignored (NaN if all are).

    The window is truncated at the ends; the median of an even number of
    values is the mean of the middle two. ``window <= 1`` returns ``x``.
    """
    if window <= 1:
        return x
    h = window // 2
    pad = np.full(x.shape[:-1] + (x.shape[-1] + 2 * h,), np.nan)
    pad[..., h:-h] = x
    win = np.sort(np.lib.stride_tricks.sliding_window_view(pad, 2 * h + 1, axis=-1), axis=-1)  # NaN last
    n = np.sum(np.isfinite(win), axis=-1)
    lo = np.take_along_axis(win, np.maximum((n - 1) // 2, 0)[..., None], -1)[..., 0]
    hi = np.take_along_axis(win, (n // 2)[..., None], -1)[..., 0]
    return np.where(n > 0, (lo + hi) / 2, np.nan)


def smooth_window(smooth_s: float, fps: float | None) -> int:
    """Odd window length (frames) closest to ``smooth_s`` seconds; 1 = no smoothing."""
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
    m = lambda a: running_median(a, window)  # noqa: E731
    return replace(features, distance={k: m(v) for k, v in features.distance.items()},
                   angle={k: m(v) for k, v in features.angle.items()},
                   **{k: m(getattr(features, k)) for k in (
                       "centre_distance", "body_angle", "agent_speed", "target_speed",
                       "motion_angle", "behind")})
