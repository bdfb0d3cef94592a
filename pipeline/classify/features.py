"""Pose features for behaviour classifiers: one row per frame, one column per feature.

Per animal (:func:`animal_features`) and per ordered pair of animals
(:func:`pair_features`, the agent's and the target's own features plus what
lies between them). The per-frame *base* features are

- distances between role keypoints within an animal (``within``) and from the
  agent to the target (``between``), in mm when ``mm_per_unit`` is given;
- angles in degrees (0..180): the agent's head direction (neck -> nose) to
  points of the partner, the partner's head direction to the agent's centre,
  and the angle between the two body axes (tail base -> neck);
- speeds and accelerations (magnitudes) of the body centre and the nose, from
  movement's kinematics, and the rate of change of the centre distance;
- the fraction of the animal's keypoints that are missing.

Each base feature (the missing fraction: its mean only) is then summarised over
centred windows of ``windows_s`` seconds by ``statistics`` (mean, std, min,
max) over the frames of the window that have a value; a window with fewer than
``min_valid`` of its frames present is NaN. The body centre is the midpoint of
the neck and the tail base. A frame where a needed point is missing is NaN (no
zero fill, no interpolation); a speed (central difference) is also NaN next to
a missing frame, an acceleration up to two frames away.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from ..behavior.features import vector_angle
from ..behavior.roles import resolve_roles, role_points
from ..pose import PoseData

POINTS = ("nose", "left_ear", "right_ear", "neck", "tail_base", "centre")
STATISTICS = ("mean", "std", "min", "max")
KINEMATICS = ("speed_centre", "speed_nose", "acceleration_centre", "acceleration_nose")


@dataclass(frozen=True)
class FeatureParams:
    """What :func:`pair_features` and :func:`animal_features` compute (JSON-able, hashable).

    Parameters
    ----------
    windows_s : tuple of float
        Centred window lengths in seconds (rounded to an odd number of frames, at least 3).
    statistics : tuple of str
        Window summaries, from :data:`STATISTICS`.
    min_valid : float
        Smallest fraction of a window's frames that must have a value, in (0, 1].
    within : tuple of (str, str)
        Role pairs measured within each animal (roles from :data:`POINTS`).
    between : tuple of (str, str)
        ``(agent role, target role)`` distances between the two animals.
    head_targets : tuple of str
        Target roles for the agent's head-direction angle.

    Examples
    --------
    >>> p = FeatureParams(windows_s=(0.5,))
    >>> FeatureParams.from_dict(p.to_dict()) == p
    True
    """

    windows_s: tuple[float, ...] = (0.2, 0.6, 1.5)
    statistics: tuple[str, ...] = STATISTICS
    min_valid: float = 0.5
    within: tuple[tuple[str, str], ...] = (("nose", "neck"), ("neck", "tail_base"), ("left_ear", "right_ear"))
    between: tuple[tuple[str, str], ...] = (
        ("nose", "nose"), ("nose", "left_ear"), ("nose", "right_ear"), ("nose", "neck"), ("nose", "tail_base"),
        ("nose", "centre"), ("neck", "nose"), ("tail_base", "nose"), ("centre", "nose"), ("centre", "centre"))
    head_targets: tuple[str, ...] = ("nose", "centre", "tail_base")

    def __post_init__(self):
        tup = lambda v: tuple(tuple(x) if isinstance(x, (list, tuple)) else x for x in v)  # noqa: E731
        for name in ("windows_s", "statistics", "within", "between", "head_targets"):
            object.__setattr__(self, name, tup(getattr(self, name)))
        object.__setattr__(self, "windows_s", tuple(float(w) for w in self.windows_s))
        bad = [s for s in self.statistics if s not in STATISTICS]
        roles = [r for pair in self.within + self.between for r in pair] + list(self.head_targets)
        if bad or any(r not in POINTS for r in roles):
            raise ValueError(f"unknown statistics {bad} or roles {sorted(set(roles) - set(POINTS))}")
        if not all(w > 0 for w in self.windows_s) or not 0 < self.min_valid <= 1:
            raise ValueError(f"windows_s must be > 0 and min_valid in (0, 1], got {self.windows_s}, "
                             f"{self.min_valid}")

    def to_dict(self) -> dict:
        """Plain lists and numbers, for JSON and content hashing."""
        return json_ready(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: Mapping) -> FeatureParams:
        """Inverse of :meth:`to_dict`."""
        return cls(**dict(d))


def json_ready(value):
    """Tuples as lists, recursively (what ``json.dumps`` then ``json.loads`` would give)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def window_frames(window_s: float, fps: float) -> int:
    """Odd number of frames (>= 3) closest to ``window_s`` seconds.

    Examples
    --------
    >>> window_frames(0.2, 30), window_frames(1.0, 30), window_frames(1.5, 30), window_frames(0.01, 30)
    (7, 31, 45, 3)
    """
    return max(3, 2 * int(math.floor((window_s * fps - 1.0) / 2.0 + 0.5)) + 1)


def rolling(x: np.ndarray, width: int, *, statistics=STATISTICS, min_valid: float = 0.5) -> dict:
    """Centred window statistics of each column over the frames that have a value.

    Parameters
    ----------
    x : ndarray, shape (frames, columns)
        NaN = missing.
    width : int
        Odd window length in frames; windows are cut at the ends.
    statistics : sequence of str, keyword-only
        From :data:`STATISTICS` (``std`` is the population standard deviation).
    min_valid : float, keyword-only
        A window with fewer than ``ceil(min_valid * width)`` values is NaN.

    Returns
    -------
    dict of str to ndarray (frames, columns)

    Examples
    --------
    >>> x = np.array([[1.0], [np.nan], [3.0], [5.0]])
    >>> r = rolling(x, 3, statistics=("mean", "max"), min_valid=0.6)
    >>> r["mean"].ravel().tolist(), r["max"].ravel().tolist()
    ([nan, 2.0, 4.0, 4.0], [nan, 3.0, 5.0, 5.0])
    """
    windows = _Windows(np.asarray(x, dtype=np.float64).T)
    return {k: v.T for k, v in windows.stats(width, statistics=statistics, min_valid=min_valid).items()}


class _Windows:
    """Window statistics of the rows of a (columns, frames) array; cumulative sums made once."""

    def __init__(self, x: np.ndarray):
        self.x = np.ascontiguousarray(x, dtype=np.float64)
        self.valid = np.isfinite(self.x)
        # sums are centred on each column's mean, for exact sums of squares
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column
            shift = np.nanmean(np.where(self.valid, self.x, np.nan), axis=1, keepdims=True)
        self.shift = np.nan_to_num(shift)
        d = np.where(self.valid, self.x - self.shift, 0.0)
        self.cums = [_cumsum(self.valid.astype(np.float64)), _cumsum(d), _cumsum(d * d)]

    def stats(self, width: int, *, statistics, min_valid: float) -> dict:
        if width < 1 or width % 2 == 0:
            raise ValueError(f"window width must be odd and >= 1, got {width}")
        count, total, squares = (_window_sum(c, width) for c in self.cums)
        low = count < max(1, math.ceil(min_valid * width - 1e-9))
        out = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            m = total / count
        if "mean" in statistics:
            out["mean"] = m + self.shift
        if "std" in statistics:
            with np.errstate(invalid="ignore", divide="ignore"):
                out["std"] = np.sqrt(np.maximum(squares / count - m * m, 0.0))
        if "min" in statistics:
            out["min"] = minimum_filter1d(np.where(self.valid, self.x, np.inf), width, mode="constant", cval=np.inf)
        if "max" in statistics:
            out["max"] = maximum_filter1d(np.where(self.valid, self.x, -np.inf), width, mode="constant",
                                          cval=-np.inf)
        for v in out.values():
            v[low] = np.nan
        return {s: out[s] for s in statistics}


def _cumsum(x: np.ndarray) -> np.ndarray:
    """Cumulative sums along the last axis with a leading 0."""
    c = np.zeros(x.shape[:-1] + (x.shape[-1] + 1,))
    np.cumsum(x, axis=-1, out=c[..., 1:])
    return c


def _window_sum(c: np.ndarray, width: int) -> np.ndarray:
    """Sums over centred windows (cut at the ends) from the cumulative sums ``c``."""
    h, n = width // 2, c.shape[-1] - 1
    padded = np.concatenate([np.zeros(c.shape[:-1] + (h,)), c, np.repeat(c[..., -1:], h, axis=-1)], axis=-1)
    return padded[..., 2 * h + 1:2 * h + 1 + n] - padded[..., :n]


def _norm(v: np.ndarray) -> np.ndarray:
    """Length along the last axis; NaN when a coordinate is NaN."""
    return np.sqrt(np.sum(v * v, axis=-1))


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle in degrees (0..180) between (..., space) vectors."""
    return vector_angle(np.moveaxis(u, -1, 0), np.moveaxis(v, -1, 0))


def _points(pose: PoseData, role_map, mm_per_unit) -> dict:
    """Role -> (time, individual, space) positions, scaled, with the body centre."""
    if mm_per_unit is not None and not (np.isfinite(mm_per_unit) and mm_per_unit > 0):
        raise ValueError(f"mm_per_unit must be a positive number, got {mm_per_unit}")
    if not pose.fps or pose.fps <= 0:
        raise ValueError("the pose needs an fps: speeds and windows are in seconds")
    roles = resolve_roles(pose.keypoints, role_map)
    scale = 1.0 if mm_per_unit is None else float(mm_per_unit)
    pts = role_points(pose.positions * scale, pose.keypoints, roles)
    pts["centre"] = 0.5 * (pts["neck"] + pts["tail_base"])
    return pts


def _kinematics(pts: dict, fps: float) -> dict:
    """Speeds and acceleration magnitudes of centre and nose, (time, individual), via movement."""
    import xarray as xr
    from movement.kinematics import compute_acceleration, compute_velocity

    stacked = np.stack([pts["centre"], pts["nose"]], axis=2)  # (time, individual, 2 points, space)
    n = stacked.shape[0]
    data = xr.DataArray(stacked, dims=("time", "individuals", "keypoints", "space"),
                        coords={"time": np.arange(n) / fps, "space": ["x", "y", "z"][:stacked.shape[-1]]})
    missing = np.isnan(stacked).any(axis=-1)
    out = {}
    if n < 3:  # too short for central differences
        nan = np.full(missing.shape, np.nan)
        return {"speed": nan, "acceleration": nan}
    for name, fn in (("speed", compute_velocity), ("acceleration", compute_acceleration)):
        mag = _norm(fn(data).values)
        mag[missing] = np.nan
        out[name] = mag
    return out


def _animal_base(pts: dict, kin: dict, i: int, params: FeatureParams) -> dict:
    cols = {f"{a}-{b}": _norm(pts[a][:, i] - pts[b][:, i]) for a, b in params.within}
    for j, point in enumerate(("centre", "nose")):
        cols[f"speed_{point}"] = kin["speed"][:, i, j]
        cols[f"acceleration_{point}"] = kin["acceleration"][:, i, j]
    return cols


def _between_base(pts: dict, a: int, t: int, params: FeatureParams, fps: float) -> dict:
    cols = {f"{p}>{q}": _norm(pts[q][:, t] - pts[p][:, a]) for p, q in params.between}
    heading = pts["nose"][:, a] - pts["neck"][:, a]
    for q in params.head_targets:
        cols[f"head_angle>{q}"] = _angle(heading, pts[q][:, t] - pts["neck"][:, a])
    back = pts["nose"][:, t] - pts["neck"][:, t]
    cols["target_head_angle>centre"] = _angle(back, pts["centre"][:, a] - pts["neck"][:, t])
    cols["body_angle"] = _angle(pts["neck"][:, a] - pts["tail_base"][:, a], pts["neck"][:, t] - pts["tail_base"][:, t])
    d = _norm(pts["centre"][:, t] - pts["centre"][:, a])
    rate = np.gradient(d) * fps if len(d) > 1 else np.full_like(d, np.nan)
    rate[np.isnan(d)] = np.nan
    cols["centre_distance_rate"] = rate
    return cols


def _missing(pose: PoseData, i: int) -> np.ndarray:
    return np.isnan(pose.positions[:, i]).any(axis=-1).mean(axis=-1)


def _summarise(base: dict, missing: dict, fps: float, params: FeatureParams, dtype):
    """Base columns, missing fractions, then each window's statistics; float ``dtype``."""
    names = list(base) + list(missing)
    n = len(next(iter(base.values())))
    b, m = np.stack(list(base.values())), np.stack(list(missing.values()))  # (columns, frames)
    blocks = [b, m]
    wb, wm = _Windows(b), _Windows(m)
    for w_s in params.windows_s:
        w = window_frames(w_s, fps)
        for stat, v in wb.stats(w, statistics=params.statistics, min_valid=params.min_valid).items():
            blocks.append(v)
            names += [f"{c}@{w_s:g}s:{stat}" for c in base]
        # the fraction missing is known on every frame: its window mean never needs min_valid
        blocks.append(wm.stats(w, statistics=("mean",), min_valid=1e-9)["mean"])
        names += [f"{c}@{w_s:g}s:mean" for c in missing]
    out = np.empty((len(names), n), dtype=dtype)
    at = 0
    for v in blocks:
        out[at:at + len(v)] = v
        at += len(v)
    return out.T, tuple(names)


def _index(pose: PoseData, animal) -> int:
    if isinstance(animal, str):
        if animal not in pose.individuals:
            raise ValueError(f"no individual {animal!r} in {pose.individuals}")
        return pose.individuals.index(animal)
    if not 0 <= int(animal) < pose.n_individuals:
        raise ValueError(f"individual index {animal} out of range for {pose.n_individuals} individuals")
    return int(animal)


def animal_features(pose: PoseData, animal, *, params: FeatureParams = FeatureParams(), role_map=None,
                    mm_per_unit: float | None = None, dtype=np.float32) -> tuple[np.ndarray, tuple[str, ...]]:
    """Features of one animal, frames x features.

    Parameters
    ----------
    pose : PoseData
        Needs ``fps``.
    animal : str or int
        Individual name or index.
    params : FeatureParams, keyword-only
    role_map : mapping, optional, keyword-only
        Role -> keypoint overrides for :func:`~pipeline.behavior.roles.resolve_roles`.
    mm_per_unit : float, optional, keyword-only
        mm per coordinate unit; None keeps the pose's units.
    dtype : numpy dtype, keyword-only
        Of the returned array (float32 by default).

    Returns
    -------
    values : ndarray, shape (frames, features)
        Column-major (each feature contiguous).
    names : tuple of str
        Base names (``nose-neck``, ``speed_centre``, ``missing``), then
        ``NAME@WINDOWs:STAT`` per window.

    Examples
    --------
    >>> from pipeline.synthetic import simulate_session
    >>> pose = simulate_session(seed=0, duration_s=4, episode_counts=0).pose
    >>> x, names = animal_features(pose, "mouse1", params=FeatureParams(windows_s=(0.5,)))
    >>> x.shape, names[:2], names[-1]
    ((120, 37), ('nose-neck', 'neck-tail_base'), 'missing@0.5s:mean')
    """
    i = _index(pose, animal)
    pts = _points(pose, role_map, mm_per_unit)
    base = _animal_base(pts, _kinematics(pts, pose.fps), i, params)
    return _summarise(base, {"missing": _missing(pose, i)}, pose.fps, params, dtype)


def pair_features(pose: PoseData, agent, target, *, params: FeatureParams = FeatureParams(), role_map=None,
                  mm_per_unit: float | None = None, dtype=np.float32) -> tuple[np.ndarray, tuple[str, ...]]:
    """Features of one ordered pair (agent -> target), frames x features.

    Parameters
    ----------
    pose : PoseData
        Needs ``fps``.
    agent, target : str or int
        Individual names or indices (distinct).
    params, role_map, mm_per_unit, dtype : keyword-only
        As for :func:`animal_features`.

    Returns
    -------
    values : ndarray, shape (frames, features)
        Column-major (each feature contiguous).
    names : tuple of str
        ``agent.*`` and ``target.*`` (each animal's own features), then
        ``AGENT_ROLE>TARGET_ROLE`` distances, ``head_angle>ROLE``,
        ``target_head_angle>centre``, ``body_angle``, ``centre_distance_rate``,
        ``agent.missing``, ``target.missing``; then ``NAME@WINDOWs:STAT``.

    Examples
    --------
    >>> from pipeline.synthetic import simulate_session
    >>> pose = simulate_session(seed=0, duration_s=4, episode_counts=0).pose
    >>> x, names = pair_features(pose, "mouse1", "mouse2", mm_per_unit=0.8)
    >>> x.shape, names[14], bool(np.isfinite(x[:, 14]).mean() > 0.8)
    ((120, 398), 'nose>nose', True)
    """
    a, t = _index(pose, agent), _index(pose, target)
    if a == t:
        raise ValueError(f"agent and target must differ, got {agent!r} twice")
    pts = _points(pose, role_map, mm_per_unit)
    kin = _kinematics(pts, pose.fps)
    base = {f"agent.{k}": v for k, v in _animal_base(pts, kin, a, params).items()}
    base |= {f"target.{k}": v for k, v in _animal_base(pts, kin, t, params).items()}
    base |= _between_base(pts, a, t, params, pose.fps)
    missing = {"agent.missing": _missing(pose, a), "target.missing": _missing(pose, t)}
    return _summarise(base, missing, pose.fps, params, dtype)
