"""One entry point: score a recording's social behaviour into tidy tables."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from ..pose import PoseData
from .bouts import find_bouts, summarise_bouts
from .features import SocialFeatures, social_features
from .roles import resolve_roles
from .rules import DIRECTED, MUTUAL, RuleSet, score_frames

BOUT_TABLE_COLUMNS = ("behavior", "agent", "target", "start_frame", "end_frame", "start_s",
                      "duration_s", "mean_distance")


@dataclass(frozen=True)
class ScoreResult:
    """Scored social behaviour of one recording.

    Attributes
    ----------
    bouts : DataFrame
        One row per bout: ``behavior, agent, target`` (individual names;
        mutual behaviours list the pair once, agent = lower-index individual),
        ``start_frame, end_frame`` (exclusive), ``start_s, duration_s`` and
        ``mean_distance`` (the behaviour's distance averaged over the bout's
        frames where it is known, in ``units``).
    summary : DataFrame
        Per behaviour and (agent, target): ``mutual, bout_count,
        total_duration_s, mean_bout_s, median_bout_s, latency_s,
        frames_in_contact, scorable_fraction`` (see
        :func:`~pipeline.behavior.bouts.summarise_bouts`).
    units : str
        ``"mm"`` or ``"px"``: units of the rules and of ``mean_distance``.
    fps, n_frames : float, int
    roles : dict
        The role resolution used.
    rules : RuleSet
    frames : dict
        ``behaviour -> (in_contact, scorable)`` per-frame arrays (pairs, time).
    features : SocialFeatures
    """

    bouts: pd.DataFrame
    summary: pd.DataFrame
    units: str
    fps: float
    n_frames: int
    roles: dict
    rules: RuleSet
    frames: dict = field(repr=False)
    features: SocialFeatures = field(repr=False)

    @property
    def scorable(self) -> pd.DataFrame:
        """Per behaviour and pair, the fraction of frames that could be scored."""
        return self.summary[["behavior", "agent", "target", "scorable_fraction"]]


def behavior_distance(features: SocialFeatures, behavior: str) -> np.ndarray:
    """The ``(pairs, time)`` distance that characterises a behaviour."""
    if behavior == "side_by_side":
        return features.centre_distance
    point = "nose" if behavior == "nose2nose" else DIRECTED.get(behavior, "tail_base")
    return features.distance[point]


def _scale(pose: PoseData, rules: RuleSet, mm_per_px, source: str):
    """mm per coordinate unit to apply (None = raw px)."""
    if pose.n_space == 3:
        if rules.units != "mm":
            raise InputError(source, "3D poses are in mm; use a rule set in mm")
        if mm_per_px is not None and float(mm_per_px) != 1.0:
            raise InputError(source, f"3D poses are in mm; mm_per_px={mm_per_px} does not apply")
        return 1.0
    if rules.units == "px":
        return None
    if mm_per_px is None or not np.isfinite(float(mm_per_px)) or float(mm_per_px) <= 0:
        raise InputError(source, "recording has no mm-per-pixel scale; use a rule set in px "
                                 f"(got mm_per_px={mm_per_px!r})")
    return float(mm_per_px)


def _bout_means(dist: np.ndarray, bouts: pd.DataFrame) -> np.ndarray:
    """nanmean of ``dist[pair, start:end]`` per bout (NaN when none is known)."""
    p, s, e = (bouts[c].to_numpy(np.int64) for c in ("pair", "start_frame", "end_frame"))
    if not len(p):
        return np.zeros(0)
    n = e - s
    first = np.cumsum(n) - n  # where each bout's frames begin in the gathered vector
    frames = np.repeat(p * dist.shape[1] + s - first, n) + np.arange(n.sum())
    v = dist.ravel()[frames]
    ok = np.isfinite(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.add.reduceat(np.where(ok, v, 0.0), first) / np.add.reduceat(ok.astype(np.int64), first)


def score_session(pose: PoseData, rules: RuleSet | None = None, *, mm_per_px: float | None = None,
                  fps: float | None = None, role_map: dict | None = None, windows=None,
                  source: str = "pose") -> ScoreResult:
    """Score the social behaviour of every pair of individuals in a recording.

    Parameters
    ----------
    pose : PoseData
        2D poses in pixels or 3D poses in mm (``space == 3``).
    rules : RuleSet, optional
        Default ``RuleSet()`` (mm).
    mm_per_px : float, keyword-only, optional
        Scale of a 2D recording; required for mm rules (not used with px
        rules; must be None or 1 for 3D).
    fps : float, keyword-only, optional
        Overrides ``pose.fps``; one of them is required.
    role_map : dict, keyword-only, optional
        Passed to :func:`~pipeline.behavior.roles.resolve_roles`.
    windows : keyword-only, optional
        Passed to :func:`~pipeline.behavior.bouts.summarise_bouts`.
    source : str, keyword-only
        Names the recording in error messages.

    Returns
    -------
    ScoreResult

    Raises
    ------
    InputError
        mm rules for a 2D recording without ``mm_per_px``; px rules for 3D;
        no frame rate; a skeleton whose roles cannot be resolved.
    """
    rules = RuleSet() if rules is None else rules
    fps = fps if fps is not None else pose.fps
    if fps is None or not np.isfinite(fps) or fps <= 0:
        raise InputError(source, f"recording has no frame rate (fps={fps!r}); pass fps=")
    fps = float(fps)
    scale = _scale(pose, rules, mm_per_px, source)
    roles = resolve_roles(pose.keypoints, role_map, source=source)
    feats = social_features(pose.positions, roles, keypoints=pose.keypoints, mm_per_unit=scale, fps=fps,
                            extras=rules.following is not None or rules.side_by_side is not None)
    frames = score_frames(feats, rules)
    names = pose.individuals
    agents = np.array([names[a] for a, _ in feats.pairs], dtype=object)
    targets = np.array([names[b] for _, b in feats.pairs], dtype=object)
    lower = np.array([a < b for a, b in feats.pairs])
    tables, summaries = [], []
    for beh in rules.behaviors:
        contact, ok = frames[beh]
        b = find_bouts(contact, ok, fps=fps, min_bout_s=rules.min_bout_s, max_gap_s=rules.max_gap_s)
        p = b["pair"].to_numpy()
        tables.append(pd.DataFrame({
            "behavior": beh, "agent": agents[p], "target": targets[p],
            "start_frame": b["start_frame"].to_numpy(), "end_frame": b["end_frame"].to_numpy(),
            "start_s": b["start_frame"].to_numpy() / fps,
            "duration_s": (b["end_frame"] - b["start_frame"]).to_numpy() / fps,
            "mean_distance": _bout_means(behavior_distance(feats, beh), b)}))
        s = summarise_bouts(b, fps=fps, n_frames=pose.n_frames, scorable=ok, windows=windows)
        sp = s["pair"].to_numpy()
        mutual = beh in MUTUAL
        s.insert(0, "behavior", beh)
        s.insert(1, "agent", agents[sp])
        s.insert(2, "target", targets[sp])
        s.insert(3, "mutual", mutual)
        summaries.append(s[lower[sp]] if mutual else s)
    bouts = pd.concat(tables, ignore_index=True)[list(BOUT_TABLE_COLUMNS)]
    bouts = bouts.astype({"start_frame": np.int64, "end_frame": np.int64})
    summary = pd.concat(summaries, ignore_index=True).drop(columns="pair")
    if windows is None:
        summary = summary.drop(columns=["window", "window_start_s", "window_end_s"])
    return ScoreResult(bouts=bouts, summary=summary, units=rules.units, fps=fps, n_frames=pose.n_frames,
                       roles=roles, rules=rules, frames=frames, features=feats)
