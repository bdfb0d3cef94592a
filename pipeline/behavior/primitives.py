"""Vectorised building blocks of declarative rule sets (see :mod:`.ruledoc`).

Two families, both pure numpy:

*Features* of every pair of individuals, computed from role points. A
*role point* array has shape ``(time, individual, points, space)``: one point
for a single keypoint, a centroid or a median, several for a *set* role
(e.g. DeepOF's nine-point ``body``).  A pair feature has shape
``(pairs, time)`` for the pairs ``(agent, target)`` given as individual
indices; it is NaN where a point it needs is missing.

* :func:`set_distance` -- smallest distance between an agent point set and a
  target point set (optionally against the target's positions up to
  ``window - 1`` frames earlier: DeepOF's "path" of the followed animal);
* :func:`heading_angle` -- angle between the agent's heading and the direction
  to a target point;
* :func:`point_speed` -- speed of a role point of either animal;
* :func:`axis_angle` -- angle between two body axes;
* :func:`gradient_speed`, :func:`motion_angle` -- speed of a point from central
  differences, and the angle between the two animals' velocities;
* :func:`axis_position` -- signed position of an agent point along the target's body axis.

*Per-frame boolean operations* on ``(pairs, time)`` masks: :func:`majority`
(binary median), :func:`fill_gaps`, :func:`drop_short_runs`; the
hysteresis of :func:`pipeline.behavior.bouts.hysteresis` is reused as is.
"""

from __future__ import annotations

import numpy as np

__all__ = ["axis_angle", "axis_position", "drop_short_runs", "fill_gaps", "gradient_speed", "heading_angle",
           "majority", "motion_angle", "point_speed", "set_distance"]


def _norm(v: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last axis."""
    return np.sqrt(np.sum(v * v, axis=-1))


_BLOCK = 8192  # frames per block: keeps the (time, pairs, Ma, Mb) temporaries small


def _rows(pts: np.ndarray, who: np.ndarray) -> list:
    """Per space component, the ``(pairs, time)`` coordinates of the single point of ``pts`` for individuals ``who``."""
    return [np.ascontiguousarray(pts[:, :, 0, k].T)[who] for k in range(pts.shape[-1])]


def _point_distance(agent_pts: np.ndarray, target_pts: np.ndarray, ai: np.ndarray, ti: np.ndarray) -> np.ndarray:
    """Distance between single points, ``(pairs, time)``, summed over space in order (as :func:`_sq_min`)."""
    d2 = None
    for a, b in zip(_rows(agent_pts, ai), _rows(target_pts, ti)):
        a -= b
        a *= a
        d2 = a if d2 is None else np.add(d2, a, out=d2)
    return np.sqrt(d2, out=d2)


def _sq_min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NaN-ignoring minimum squared distance over all point combinations, ``(time, pairs)``."""
    d2 = None
    for k in range(a.shape[-1]):
        diff = a[..., k] - b[..., k]
        diff *= diff
        d2 = diff if d2 is None else np.add(d2, diff, out=d2)
    return np.fmin.reduce(d2.reshape(d2.shape[0], d2.shape[1], -1), axis=-1)


def set_distance(agent_pts: np.ndarray, target_pts: np.ndarray, ai: np.ndarray, ti: np.ndarray, *,
                 window: int = 1) -> np.ndarray:
    """Smallest distance between the agent's and the target's points, per pair and frame.

    Parameters
    ----------
    agent_pts, target_pts : ndarray, shape (time, individual, points, space)
        Role points (NaN = missing).
    ai, ti : ndarray of int, shape (pairs,)
        Agent and target individual of each pair.
    window : int, keyword-only
        ``1``: distance at the same frame.  ``n > 1``: the smallest distance
        between the agent at frame ``t`` and the target at frames
        ``t - n + 1 .. t`` (frames before the recording are missing).

    Returns
    -------
    ndarray, shape (pairs, time)
        NaN only where every point combination is missing.

    Examples
    --------
    >>> pts = np.zeros((2, 2, 1, 2)); pts[:, 1, 0, 0] = [3.0, 5.0]
    >>> set_distance(pts, pts, np.array([0]), np.array([1])).tolist()
    [[3.0, 5.0]]
    >>> set_distance(pts, pts, np.array([0]), np.array([1]), window=2).tolist()
    [[3.0, 3.0]]
    """
    n_t = agent_pts.shape[0]
    if int(window) == 1 and agent_pts.shape[2] == 1 and target_pts.shape[2] == 1:
        return _point_distance(agent_pts, target_pts, ai, ti)
    a_all, b_all = agent_pts[:, ai], target_pts[:, ti]  # (time, pairs, M, space)
    best = np.full((n_t, len(ai)), np.nan)
    for s in range(0, n_t, _BLOCK):
        e = min(s + _BLOCK, n_t)
        a = a_all[s:e, :, :, None]
        for lag in range(min(int(window), e)):  # target lag frames earlier
            lo = max(s, lag)
            b = b_all[lo - lag:e - lag, :, None]
            best[lo:e] = np.fmin(best[lo:e], _sq_min(a[lo - s:], b))
    return np.sqrt(best).T


def heading_angle(tail: np.ndarray, head: np.ndarray, origin: np.ndarray, target: np.ndarray,
                  ai: np.ndarray, ti: np.ndarray, *, convention: str = "unsigned") -> np.ndarray:
    """Angle (degrees) between the agent's heading and the direction from its origin to a target point.

    Parameters
    ----------
    tail, head, origin : ndarray, shape (time, individual, 1, space)
        Agent points: the heading is ``head - tail`` (e.g. neck -> nose), the
        direction to the target is ``target - origin``.
    target : ndarray, shape (time, individual, 1, space)
        The target's point.
    ai, ti : ndarray of int
        Pairs.
    convention : {"unsigned", "ccw360"}, keyword-only
        ``"unsigned"``: 0..180, 0 = straight ahead.  ``"ccw360"``: 0..360,
        measured from the heading towards its +90 degree normal ``(-hy, hx)``
        (AmadeusGPT's ``relative_head_angle``); 2D only.

    Returns
    -------
    ndarray, shape (pairs, time)

    Examples
    --------
    >>> z = np.zeros((1, 2, 1, 2)); head = z.copy(); head[0, 0, 0] = [1, 0]
    >>> tgt = z.copy(); tgt[0, 1, 0] = [0, 2]
    >>> heading_angle(z, head, z, tgt, np.array([0]), np.array([1])).round(6).tolist()
    [[90.0]]
    """
    if head.shape[-1] != 2:
        h = (head - tail)[:, ai, 0]
        v = (target[:, ti, 0] - origin[:, ai, 0])
        dot = np.sum(h * v, axis=-1)
        return np.degrees(np.arctan2(_norm(np.cross(h, v)), dot)).T
    hx, hy = (a - b for a, b in zip(_rows(head, ai), _rows(tail, ai)))
    vx, vy = (a - b for a, b in zip(_rows(target, ti), _rows(origin, ai)))
    if convention == "ccw360":
        dot = hx * vx
        dot += hy * vy
        cross = hx * vy
        cross -= hy * vx
        return np.degrees(np.arctan2(cross, dot)) % 360.0
    return _angle_2d(hx, hy, vx, vy)


def axis_angle(tail: np.ndarray, head: np.ndarray, ai: np.ndarray, ti: np.ndarray) -> np.ndarray:
    """Angle (degrees, 0..180) between the body axes ``head - tail`` of agent and target.

    Returns
    -------
    ndarray, shape (pairs, time)
    """
    u = (head - tail)[:, ai, 0]
    v = (head - tail)[:, ti, 0]
    cross = np.abs(u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]) if u.shape[-1] == 2 else _norm(np.cross(u, v))
    return np.degrees(np.arctan2(cross, np.sum(u * v, axis=-1))).T


def _angle_2d(ux, uy, vx, vy) -> np.ndarray:
    """Degrees (0..180) between 2D vectors given by components: ``atan2(|u x v|, u . v)``."""
    dot = ux * vx
    dot += uy * vy
    cross = ux * vy
    cross -= uy * vx
    out = np.arctan2(np.abs(cross, out=cross), dot, out=dot)
    return np.degrees(out, out=out)


def _angle(u: list, v: list) -> np.ndarray:
    """Degrees (0..180) between vectors given as lists of components (2 or 3)."""
    if len(u) == 2:
        return _angle_2d(*u, *v)
    cross = np.sqrt(sum(c * c for c in (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2],
                                           u[0] * v[1] - u[1] * v[0])))
    dot = u[0] * v[0]
    for k in range(1, len(u)):
        dot += u[k] * v[k]
    return np.degrees(np.arctan2(cross, dot))


def _velocity(pts: np.ndarray, fps: float | None) -> list:
    """Per space component, the ``(individual, time)`` central-difference velocity of a single-point role
    (``numpy.gradient``: one-sided at the ends; NaN for a one-frame recording), per second with ``fps``."""
    comps = [np.ascontiguousarray(pts[:, :, 0, k].T) for k in range(pts.shape[-1])]
    if pts.shape[0] < 2:
        return [np.full_like(c, np.nan) for c in comps]
    vel = [np.gradient(c, axis=-1) for c in comps]
    return [v * float(fps) for v in vel] if fps else vel


def gradient_speed(pts: np.ndarray, *, fps: float | None = None) -> np.ndarray:
    """Speed of a single-point role from central differences, per individual.

    Parameters
    ----------
    pts : ndarray, shape (time, individual, 1, space)
    fps : float, optional, keyword-only
        Units per second; None keeps units per frame.

    Returns
    -------
    ndarray, shape (individual, time)

    Examples
    --------
    >>> p = np.zeros((4, 1, 1, 2)); p[:, 0, 0, 0] = [0, 1, 3, 6]
    >>> gradient_speed(p, fps=10).tolist()
    [[10.0, 15.0, 25.0, 30.0]]
    """
    vel = _velocity(pts, fps)
    d2 = vel[0] * vel[0]
    for v in vel[1:]:
        d2 += v * v
    return np.sqrt(d2, out=d2)


def motion_angle(pts: np.ndarray, ai: np.ndarray, ti: np.ndarray, *, fps: float | None = None) -> np.ndarray:
    """Degrees (0..180) between the agent's and the target's central-difference velocities of a role.

    Returns
    -------
    ndarray, shape (pairs, time)
    """
    vel = _velocity(pts, fps)
    return _angle([v[ai] for v in vel], [v[ti] for v in vel])


def axis_position(point: np.ndarray, tail: np.ndarray, head: np.ndarray, ai: np.ndarray,
                  ti: np.ndarray) -> np.ndarray:
    """Signed position of the agent's ``point`` along the target's ``tail -> head`` axis, from its tail.

    Negative = behind the target's tail.

    Returns
    -------
    ndarray, shape (pairs, time)

    Examples
    --------
    >>> z = np.zeros((1, 2, 1, 2)); head = z.copy(); head[0, :, 0] = [0, 2]
    >>> p = z.copy(); p[0, 0, 0] = [5, -3]
    >>> axis_position(p, z, head, np.array([0]), np.array([1])).tolist()
    [[-3.0]]
    """
    tl = _rows(tail, ti)
    axis = [h - t for h, t in zip(_rows(head, ti), tl)]
    rel = [p - t for p, t in zip(_rows(point, ai), tl)]
    dot = rel[0] * axis[0]
    sq = axis[0] * axis[0]
    for k in range(1, len(axis)):
        dot += rel[k] * axis[k]
        sq += axis[k] * axis[k]
    with np.errstate(invalid="ignore", divide="ignore"):
        return dot / np.sqrt(sq)


def point_speed(pts: np.ndarray, *, lag: int = 1, mean_window: int = 1, decimals: int | None = None,
                fps: float | None = None) -> np.ndarray:
    """Speed of role points, per individual: ``|p(t) - p(t - lag)| / lag`` then a trailing mean.

    Parameters
    ----------
    pts : ndarray, shape (time, individual, points, space)
    lag : int, keyword-only
        Backward difference over ``lag`` frames (the first ``lag`` frames are NaN).
    mean_window : int, keyword-only
        Trailing mean over this many frames (NaN unless all are known).
    decimals : int, optional, keyword-only
        Round the per-frame speed to this many decimals (DeepOF rounds to 3).
    fps : float, optional, keyword-only
        Convert to units per second; None keeps units per frame.

    Returns
    -------
    ndarray, shape (individual, time)
        For a set role, the NaN-ignoring mean speed of its points.

    Examples
    --------
    >>> p = np.zeros((4, 1, 1, 2)); p[:, 0, 0, 0] = [0, 1, 3, 6]
    >>> point_speed(p, lag=1, fps=10).tolist()
    [[nan, 10.0, 20.0, 30.0]]
    """
    lag = int(lag)
    step = np.full(pts.shape[:3], np.nan)
    step[lag:] = _norm(pts[lag:] - pts[:-lag]) / lag
    w = int(mean_window)
    if w > 1:
        csum = np.cumsum(np.nan_to_num(step), axis=0)
        cnan = np.cumsum(np.isnan(step), axis=0)
        tot = csum.copy()
        tot[w:] -= csum[:-w]
        bad = cnan.copy()
        bad[w:] -= cnan[:-w]
        step = np.where(bad > 0, np.nan, tot / w)
        step[:w - 1] = np.nan
    if decimals is not None:
        step = np.round(step, int(decimals))
    with np.errstate(invalid="ignore"):
        counts = np.sum(~np.isnan(step), axis=2)
        speed = np.where(counts > 0, np.nansum(step, axis=2) / np.maximum(counts, 1), np.nan)
    if fps is not None:
        speed = speed * float(fps)
    return speed.T


# per-frame boolean operations live in .masks (re-exported here)
from .masks import drop_short_runs, fill_gaps, majority  # noqa: E402
