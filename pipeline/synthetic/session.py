"""One synthetic two-mouse session: motion, scripted contacts, observation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ..pose import PoseData
from . import motion
from .motion import BEHAVIORS, EDGES, KEYPOINTS

EPISODE_COLUMNS = ("behavior", "agent", "target", "start_frame", "end_frame", "start_s", "end_s")


@dataclass(frozen=True)
class ObservationNoise:
    """How the simulated tracker sees the animals.

    Parameters
    ----------
    jitter_px : float
        Standard deviation of the Gaussian pixel jitter added to every coordinate.
    drop_fraction : float
        Fraction of keypoints (independently per frame, animal, keypoint)
        reported missing: NaN position, low confidence.
    confidence_visible : (float, float)
        Uniform range of the confidence of a visible keypoint.
    confidence_dropped : (float, float)
        Uniform range of the confidence of a dropped keypoint.
    """

    jitter_px: float = 1.0
    drop_fraction: float = 0.02
    confidence_visible: tuple[float, float] = (0.75, 1.0)
    confidence_dropped: tuple[float, float] = (0.05, 0.2)


@dataclass(frozen=True)
class SyntheticSession:
    """A simulated recording with its ground truth.

    Attributes
    ----------
    pose : PoseData
        What the tracker reports: pixels, NaN where dropped,
        ``source_software="synthetic"``, fps and skeleton edges set.
    true_positions_mm : ndarray, shape (time, individual, keypoint, 2)
        True keypoints in mm, origin at the arena centre, x right, y down.
    episodes : pandas.DataFrame
        Ground-truth contacts, one row each, columns :data:`EPISODE_COLUMNS`
        (frames end-exclusive, seconds = frame / fps); nose2nose once, agent = initiator.
    dropped : ndarray of bool, shape (time, individual, keypoint)
        Which observations were dropped.
    fps, mm_per_px, arena_radius_mm : float
        Frame rate, scale and arena radius.
    arena_center_px : (float, float)
        Arena centre in the image (x, y); ``px = arena_center_px + mm / mm_per_px``.
    frame_size_px : (int, int)
        Image width, height.
    body_scale : tuple of float
        Body size factor per individual (1 = 75 mm nose to tail base).
    seed : int
        The seed it was generated from.
    name : str
        File stem used by the writers.
    """

    pose: PoseData
    true_positions_mm: np.ndarray
    episodes: pd.DataFrame
    dropped: np.ndarray
    fps: float
    mm_per_px: float
    arena_radius_mm: float
    arena_center_px: tuple[float, float]
    frame_size_px: tuple[int, int]
    body_scale: tuple[float, ...]
    seed: int
    name: str = "session"

    @property
    def n_frames(self) -> int:
        return self.pose.n_frames

    @property
    def individuals(self) -> tuple[str, ...]:
        return self.pose.individuals

    def mm_to_px(self, xy_mm) -> np.ndarray:
        """Arena mm (origin at the centre) to image pixels."""
        return np.asarray(xy_mm, dtype=float) / self.mm_per_px + np.asarray(self.arena_center_px)

    def px_to_mm(self, xy_px) -> np.ndarray:
        """Image pixels to arena mm (origin at the centre)."""
        return (np.asarray(xy_px, dtype=float) - np.asarray(self.arena_center_px)) * self.mm_per_px

    @property
    def true_pose(self) -> PoseData:
        """The truth as a PoseData in mm (confidence 1, nothing missing)."""
        return PoseData(self.true_positions_mm, np.ones(self.true_positions_mm.shape[:3]),
                        individuals=self.individuals, keypoints=self.pose.keypoints, fps=self.fps,
                        source_software="synthetic", edges=self.pose.edges)

    def in_episode(self) -> np.ndarray:
        """Boolean (time,) mask of the frames inside any ground-truth episode."""
        mask = np.zeros(self.n_frames, bool)
        for s, e in zip(self.episodes["start_frame"], self.episodes["end_frame"]):
            mask[s:e] = True
        return mask


def simulate_session(*, seed: int, duration_s: float = 300.0, fps: float = 30.0,
                     arena_radius_mm: float = 240.0, mm_per_px: float = 0.8,
                     frame_size_px: tuple[int, int] = (640, 640),
                     individuals: tuple[str, str] = ("mouse1", "mouse2"),
                     episodes=None, episode_counts=3,
                     episode_duration_s: tuple[float, float] = (0.5, 3.0),
                     body_scale: tuple[float, float] | None = None,
                     noise: ObservationNoise | None = ObservationNoise(),
                     name: str = "session") -> SyntheticSession:
    """Simulate two mice in a round arena with scripted social contacts.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives bit-identical output.
    duration_s, fps : float
        Length and frame rate.
    arena_radius_mm, mm_per_px : float
        Arena size and image scale; the arena is centred in the frame.
    frame_size_px : (int, int)
        Image width and height; the arena must fit.
    individuals : (str, str)
        Track names.
    episodes : DataFrame or sequence of mappings, optional
        Explicit contacts with ``behavior, agent, target`` and either
        ``start_frame, end_frame`` (end exclusive) or ``start_s, end_s``.
        The agent approaches during up to 3 s of the free time before each
        and backs off for 0.27 s after; an episode must start >= ~0.4 s into
        the session and >= ~0.65 s after the previous one ends (give >= 2 s
        for a natural approach). When None, episodes are drawn at random
        (see ``episode_counts``): uniformly spread, >= 3.7 s apart.
    episode_counts : int or mapping
        For random episodes: per agent and behaviour (int), per behaviour
        (``{behavior: n}``, both agents) or per agent and behaviour
        (``{agent: {behavior: n}}``). Episodes that do not fit the session are dropped.
    episode_duration_s : (float, float)
        Uniform range of random episode durations.
    body_scale : (float, float), optional
        Body size factors in [0.8, 1.15] (1 = 75 mm nose to tail base);
        drawn from U(1.0, 1.1) when None.
    noise : ObservationNoise or None
        Observation model; None gives exact pixels, no drops, confidence 1.
        Its random numbers are drawn after the motion's, so the same seed with
        another noise model gives the same true positions and episodes.
    name : str
        File stem for :func:`write_session_files`.

    Returns
    -------
    SyntheticSession

    Examples
    --------
    >>> s = simulate_session(seed=1, duration_s=20, episode_counts=1)
    >>> s.pose.positions.shape, s.pose.keypoints[0]
    ((600, 2, 6, 2), 'nose')
    """
    n = int(round(duration_s * fps))
    width, height = frame_size_px
    if n < 2 or fps <= 0:
        raise ValueError(f"need at least 2 frames, got duration_s={duration_s}, fps={fps}")
    if len(individuals) != 2 or individuals[0] == individuals[1]:
        raise ValueError(f"need two distinct individual names, got {individuals!r}")
    if 2 * arena_radius_mm / mm_per_px > min(width, height):
        raise ValueError(f"an arena of radius {arena_radius_mm} mm at {mm_per_px} mm/px "
                         f"does not fit a {width}x{height} frame")
    rng = np.random.default_rng(seed)
    scale = rng.uniform(1.0, 1.1, 2) if body_scale is None else np.asarray(body_scale, float)
    if scale.shape != (2,) or not ((scale >= 0.8) & (scale <= 1.15)).all():
        raise ValueError(f"body_scale must be two factors in [0.8, 1.15], got {body_scale!r}")
    names = tuple(individuals)
    if episodes is None:
        table = _random_episodes(rng, n, fps, names, episode_counts, episode_duration_s)
    else:
        table = _explicit_episodes(episodes, n, fps, names)
    plan, eps = _plan(table, n, fps, names, rng)
    turn = motion.ou(rng, (2, n), tau_frames=0.5 * fps, sigma=1.5)
    z = motion.ou(rng, (2, n), tau_frames=2.0 * fps, sigma=1.0)
    speed = 140.0 * np.clip(0.5 + 0.45 * z, 0.0, 1.0)
    side = rng.choice([-1.0, 1.0])
    init = np.array([[side * 0.5 * arena_radius_mm, 0.0, 0.0], [-side * 0.5 * arena_radius_mm, 0.0, 0.0]])
    init[:, 1] = rng.uniform(-0.3, 0.3, 2) * arena_radius_mm
    init[:, 2] = rng.uniform(-np.pi, np.pi, 2)
    state = motion.run_motion(n_frames=n, fps=fps, radius=arena_radius_mm, scale=scale, init=init,
                              turn_noise=turn, speed_pref=speed, plan=plan, episodes=eps)
    true = motion.body_keypoints(state[0], state[1], state[2], state[3], scale[:, None])
    true = np.ascontiguousarray(true.transpose(1, 0, 2, 3))  # (time, individual, keypoint, 2)
    centre = (width / 2.0, height / 2.0)
    pos, conf, dropped = _observe(rng, true / mm_per_px + np.asarray(centre), noise)
    pose = PoseData(pos, conf, individuals=names, keypoints=KEYPOINTS, fps=float(fps),
                    source_software="synthetic", edges=EDGES)
    return SyntheticSession(pose=pose, true_positions_mm=true, episodes=table, dropped=dropped,
                            fps=float(fps), mm_per_px=float(mm_per_px),
                            arena_radius_mm=float(arena_radius_mm), arena_center_px=centre,
                            frame_size_px=(int(width), int(height)),
                            body_scale=tuple(float(s) for s in scale), seed=int(seed), name=name)


def _observe(rng, px, noise):
    """Jitter, drop and score the true pixel positions."""
    shape = px.shape[:3]
    if noise is None:
        return px.copy(), np.ones(shape), np.zeros(shape, bool)
    pos = px + rng.normal(0.0, noise.jitter_px, px.shape)
    dropped = rng.random(shape) < noise.drop_fraction
    conf = np.where(dropped, rng.uniform(*noise.confidence_dropped, shape),
                    rng.uniform(*noise.confidence_visible, shape))
    pos[dropped] = np.nan
    return pos, conf, dropped


def _counts(spec, names) -> dict:
    """Normalise ``episode_counts`` to {agent: {behavior: n}}."""
    if isinstance(spec, (int, np.integer)):
        return {a: dict.fromkeys(BEHAVIORS, int(spec)) for a in names}
    if not isinstance(spec, Mapping):
        raise ValueError(f"episode_counts must be an int or a mapping, got {type(spec).__name__}")
    if set(spec) <= set(names):
        return {a: {b: int(dict(spec.get(a, {})).get(b, 0)) for b in BEHAVIORS} for a in names}
    unknown = set(spec) - set(BEHAVIORS)
    if unknown:
        raise ValueError(f"episode_counts: unknown behaviours or individuals {sorted(unknown)}")
    return {a: {b: int(spec.get(b, 0)) for b in BEHAVIORS} for a in names}


def _random_episodes(rng, n, fps, names, counts, duration_s) -> pd.DataFrame:
    """Draw episodes at random times, each with its approach lead and rest after."""
    c = _counts(counts, names)
    items = [(b, a) for a in names for b in BEHAVIORS for _ in range(c[a][b])]
    items = [items[i] for i in rng.permutation(len(items))]
    lo, hi = duration_s
    dur = np.maximum(np.round(rng.uniform(lo, hi, len(items)) * fps).astype(int), 3)
    lead, _, undock = motion.phase_frames(fps)
    tail = undock + int(round(0.5 * fps))
    foot = lead + dur + tail
    margin = int(round(1.0 * fps))
    keep = np.cumsum(foot) <= n - margin  # drop whatever does not fit
    items, dur, foot = [x for x, k in zip(items, keep) if k], dur[keep], foot[keep]
    slack = n - margin - int(foot.sum())
    offset = np.sort(rng.integers(0, slack + 1, len(items)))
    start = margin + offset + np.concatenate([[0], np.cumsum(foot)[:-1]]).astype(int) + lead
    rows = [(b, a, names[1 - names.index(a)], int(s), int(s + d)) for (b, a), s, d in zip(items, start, dur)]
    return _frame_table(rows, fps)


def _frame_table(rows, fps) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(EPISODE_COLUMNS[:5]))
    df = df.astype({"start_frame": "int64", "end_frame": "int64"})
    df["start_s"] = df["start_frame"] / fps
    df["end_s"] = df["end_frame"] / fps
    return df.sort_values("start_frame", ignore_index=True)


def _explicit_episodes(episodes, n, fps, names) -> pd.DataFrame:
    """Validate user-given episodes and return them in frames."""
    df = pd.DataFrame(episodes if not isinstance(episodes, pd.DataFrame) else episodes.copy())
    if df.empty:
        return _frame_table([], fps)
    missing = {"behavior", "agent", "target"} - set(df.columns)
    if missing:
        raise InputError("episodes", f"missing columns {sorted(missing)}")
    start, end = _episode_frames(df, fps)
    _, dock, undock = motion.phase_frames(fps)
    first, need = dock + int(round(0.2 * fps)), dock + undock + int(round(0.2 * fps))
    rows = []
    for i, (b, a, g, s, e) in enumerate(zip(df["behavior"], df["agent"], df["target"], start, end)):
        _check_episode(f"episodes[{i}]", b, a, g, s, e, names=names, first=first, n=n)
        rows.append((b, a, g, int(s), int(e)))
    order = sorted(range(len(rows)), key=lambda i: rows[i][3])
    for prev, i in zip(order, order[1:]):
        if rows[i][3] - rows[prev][4] < need:
            raise InputError(f"episodes[{i}]", f"starts less than {need} frames after episodes[{prev}] ends")
    return _frame_table(rows, fps)


def _episode_frames(df: pd.DataFrame, fps) -> tuple[pd.Series, pd.Series]:
    """Start and end frame of each episode, from start_frame/end_frame or else start_s/end_s."""
    if {"start_frame", "end_frame"} <= set(df.columns):
        return df["start_frame"].astype(int), df["end_frame"].astype(int)
    if {"start_s", "end_s"} <= set(df.columns):
        start = (df["start_s"].astype(float) * fps).round().astype(int)
        end = (df["end_s"].astype(float) * fps).round().astype(int)
        return start, end
    raise InputError("episodes", "need start_frame/end_frame or start_s/end_s columns")


def _check_episode(where, b, a, g, s, e, *, names, first, n) -> None:
    """Raise InputError (at ``where``) unless behaviour ``b``, agent ``a``, target ``g`` and frames
    [s, e) make a valid episode: a known behaviour between the two individuals, in [first, n)."""
    if b not in BEHAVIORS:
        raise InputError(where, f"unknown behaviour {b!r}; expected one of {BEHAVIORS}")
    if a not in names or g not in names or a == g:
        raise InputError(where, f"agent {a!r} and target {g!r} must be the two individuals {names}")
    if not first <= s < e <= n:
        raise InputError(where, f"frames [{s}, {e}) must be non-empty, start at or after frame "
                                f"{first} and end by frame {n}")


def _plan(table, n, fps, names, rng):
    """Per-frame phase and episode index, and the per-episode motion parameters."""
    plan = np.zeros((2, n), np.int64)
    plan[1] = -1
    lead, dock, undock = motion.phase_frames(fps)
    free_from, eps = 0, []
    lo_hi = [motion._CONTACT[b][2] for b in table["behavior"]]
    draws = rng.random((len(table), 4))
    for i, row in enumerate(table.itertuples(index=False)):
        s, e = row.start_frame, row.end_frame
        a0 = max(free_from, s - lead)
        for p, lo, hi in ((motion.APPROACH, a0, s - dock), (motion.DOCKING, s - dock, s),
                          (motion.CONTACT, s, e), (motion.LEAVING, e, min(n, e + undock))):
            plan[0, lo:hi], plan[1, lo:hi] = p, i
        free_from = min(n, e + undock)
        (dlo, dhi), u = lo_hi[i], draws[i]
        amp = 0.5 * (dhi - dlo) * (0.3 + 0.7 * u[0])
        eps.append(dict(agent=names.index(row.agent), target=names.index(row.target), behavior=row.behavior,
                        start=s, end=e, dock=dock, undock=undock, d_mid=0.5 * (dlo + dhi), d_amp=amp,
                        period=0.4 + 0.8 * u[1], phase=2 * np.pi * u[2], wob=0.05 + 0.1 * u[3]))
    return plan, eps
