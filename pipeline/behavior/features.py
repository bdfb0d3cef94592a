"""Per-frame social features of every ordered pair of individuals.

All arrays are ``(pairs, time)``; pair ``p`` is ``pairs[p] = (agent, target)``
as individual indices, every ordered pair of distinct individuals in
row-major order ((0, 1), (0, 2), ..., (1, 0), ...). NaN wherever a keypoint a
feature needs is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .roles import Resolution, role_points

EXTRAS = ("centre_distance", "body_angle", "agent_speed", "target_speed", "motion_angle", "behind")

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
    fps : float or None
    n_individuals : int

    The six body-level features (:data:`EXTRAS`) are None when computed
    with ``extras=False``.
    """

    pairs: tuple
    distance: dict
    angle: dict
    centre_distance: np.ndarray | None = None
    body_angle: np.ndarray | None = None
    agent_speed: np.ndarray | None = None
    target_speed: np.ndarray | None = None
    motion_angle: np.ndarray | None = None
    behind: np.ndarray | None = None
    units: str = "mm"
    fps: float | None = None
    n_individuals: int = 2

    @property
    def n_frames(self) -> int:
        return next(iter(self.distance.values())).shape[1]


def ordered_pairs(n_individuals: int) -> tuple:
    """Every ordered pair of distinct individual indices, row-major."""
    return tuple((a, b) for a in range(n_individuals) for b in range(n_individuals) if a != b)


def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Dot product over the leading (space) axis, summed left to right."""
    out = u[0] * v[0]
    for k in range(1, len(u)):
        out += u[k] * v[k]
    return out


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(_dot(v, v))


def vector_angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle in degrees (0..180) between vectors along the *leading* axis (2 or 3)."""
    if len(u) == 2:
        cross = u[0] * v[1]
        cross -= u[1] * v[0]
        np.abs(cross, out=cross)
    else:
        cross = _norm(np.stack([u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2],
                                u[0] * v[1] - u[1] * v[0]]))
    out = np.arctan2(cross, _dot(u, v), out=cross)
    out *= 180.0 / np.pi
    return out


def _space_major(positions: np.ndarray, mm_per_unit: float | None) -> np.ndarray:
    """(time, individual, keypoint, space) -> scaled (individual, keypoint, space, time), in
    cache-sized blocks of frames (one pass over memory)."""
    n_t = positions.shape[0]
    flat = positions.reshape(n_t, int(np.prod(positions.shape[1:])))
    out = np.empty(flat.shape[::-1])
    scale = 1.0 if mm_per_unit is None else float(mm_per_unit)
    for s in range(0, n_t, 2048):
        np.multiply(flat[s:s + 2048].T, scale, out=out[:, s:s + 2048])
    return out.reshape(positions.shape[1:] + (n_t,))


def _take(x: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``x[:, index]``, as a view when the index is an arithmetic progression (two animals)."""
    step = np.diff(index)
    if len(index) > 1 and (step == step[0]).all() and step[0] != 0:
        stop = index[-1] + step[0]
        return x[:, index[0]:(None if stop < 0 else stop):step[0]]
    return x[:, index]


def social_features(positions: np.ndarray, roles: Resolution, *, keypoints: Sequence[str],
                    mm_per_unit: float | None, fps: float | None = None,
                    extras: bool = True) -> SocialFeatures:
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
        Frame rate, for speeds (NaN without it) and smoothing.
    extras : bool, keyword-only
        Also compute the body-level features of :data:`EXTRAS` (default True).

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
    if mm_per_unit is not None and not (np.isfinite(mm_per_unit) and mm_per_unit > 0):
        raise ValueError(f"mm_per_unit must be a positive number, got {mm_per_unit}")
    n_ind = positions.shape[1]
    pairs = ordered_pairs(n_ind)
    ai = np.array([p[0] for p in pairs], dtype=np.intp)
    ti = np.array([p[1] for p in pairs], dtype=np.intp)
    pts = role_points(_space_major(positions, mm_per_unit), keypoints, roles, layout="space-major")
    nose_a, neck_a = _take(pts["nose"], ai), _take(pts["neck"], ai)
    heading = nose_a - neck_a
    distance, angle = {}, {}
    for name in TARGET_POINTS:
        tp = _take(pts[name], ti)
        distance[name] = _norm(tp - nose_a)
        angle[name] = vector_angle(heading, tp - neck_a)
    out = {}
    if extras:
        centre = 0.5 * (pts["neck"] + pts["tail_base"])  # (space, individual, time)
        axis = pts["neck"] - pts["tail_base"]
        if fps and centre.shape[-1] > 1:
            vel = np.gradient(centre, axis=-1) * float(fps)
        else:
            vel = np.full_like(centre, np.nan)
        speed = _norm(vel)
        t_axis = axis[:, ti]
        with np.errstate(invalid="ignore", divide="ignore"):
            behind = _dot(nose_a - pts["tail_base"][:, ti], t_axis) / _norm(t_axis)
        out = dict(centre_distance=_norm(centre[:, ti] - centre[:, ai]),
                   body_angle=vector_angle(axis[:, ai], t_axis),
                   agent_speed=speed[ai], target_speed=speed[ti],
                   motion_angle=vector_angle(vel[:, ai], vel[:, ti]), behind=behind)
    return SocialFeatures(pairs=pairs, distance=distance, angle=angle, **out,
                          units="px" if mm_per_unit is None else "mm",
                          fps=None if fps is None else float(fps), n_individuals=n_ind)
