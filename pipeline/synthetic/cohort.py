"""A synthetic cohort: subjects in sex x age groups, one two-mouse session per pair.

The groups differ on purpose, so that group statistics have an effect to find:
each group has its own contact rate (episodes per minute per animal as agent)
and episode-duration range, males favour anogenital sniffing, and residents
initiate more than intruders. Counts are Poisson, so sessions of one group
still vary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .motion import BEHAVIORS
from .session import ObservationNoise, SyntheticSession, simulate_session

GROUPS = (("F", "young"), ("F", "old"), ("M", "young"), ("M", "old"))
# (sex, age group) -> (episodes per minute per animal as agent, episode duration range s)
GROUP_RATES = {("F", "young"): (2.4, (0.5, 2.5)), ("F", "old"): (1.2, (0.5, 1.8)),
               ("M", "young"): (3.6, (0.6, 3.0)), ("M", "old"): (1.8, (0.5, 2.2))}
BEHAVIOR_WEIGHTS = {"F": (0.30, 0.25, 0.20, 0.125, 0.125), "M": (0.20, 0.40, 0.20, 0.10, 0.10)}
ROLE_FACTOR = {"resident": 1.2, "intruder": 0.8}
_SLOTS = ((9, 0), (10, 30), (13, 0), (14, 30))  # session start times, four a day


@dataclass(frozen=True)
class CohortSession:
    """One session of the cohort: its metadata and its simulation.

    ``subjects[k]`` has ``roles[k]`` and is track ``simulation.individuals[k]``.
    """

    session_id: str
    datetime: dt.datetime
    experimenter: str
    arena: str
    subjects: tuple[str, str]
    roles: tuple[str, str]
    group: tuple[str, str]
    simulation: SyntheticSession


@dataclass(frozen=True)
class SyntheticCohort:
    """Subjects (manifest-ready dicts: subject, sex, age_group, strain,
    genotype, date_of_birth) and sessions in chronological order."""

    subjects: list[dict]
    sessions: list[CohortSession]
    seed: int

    def subject_table(self) -> pd.DataFrame:
        """One row per subject."""
        return pd.DataFrame(self.subjects)

    def session_table(self) -> pd.DataFrame:
        """One row per session: metadata, group, resident/intruder, episode count."""
        return pd.DataFrame([{
            "session": s.session_id, "session_datetime": s.datetime, "experimenter": s.experimenter,
            "arena": s.arena, "sex": s.group[0], "age_group": s.group[1],
            **{role: subj for role, subj in zip(s.roles, s.subjects)},
            "n_episodes": len(s.simulation.episodes)} for s in self.sessions])

    def episodes(self) -> pd.DataFrame:
        """All ground-truth episodes with session, group and the agent's and target's subject."""
        frames = []
        for s in self.sessions:
            to_subject = dict(zip(s.simulation.individuals, s.subjects))
            to_role = dict(zip(s.simulation.individuals, s.roles))
            df = s.simulation.episodes.copy()
            df.insert(0, "session", s.session_id)
            df["agent_subject"] = df["agent"].map(to_subject)
            df["target_subject"] = df["target"].map(to_subject)
            df["agent_role"] = df["agent"].map(to_role)
            df["sex"], df["age_group"] = s.group
            frames.append(df)
        return pd.concat(frames, ignore_index=True)


DEFAULT_NOISE = ObservationNoise()  # frozen: safe as a default


def simulate_cohort(*, seed: int, groups=GROUPS, sessions_per_group: int = 4, duration_s: float = 300.0,
                    fps: float = 30.0, group_rates=None, noise: ObservationNoise | None = DEFAULT_NOISE,
                    start_date: dt.date = dt.date(2026, 3, 2),
                    experimenters=("experimenter_a", "experimenter_b"),
                    arenas=("arena_1", "arena_2")) -> SyntheticCohort:
    """Simulate ``sessions_per_group`` resident-intruder sessions per (sex, age group).

    Each session pairs two new subjects of the same group (C57BL/6J, WT).
    Sessions run four a day on consecutive days, groups interleaved in a
    seeded random order; experimenter and arena are drawn per session.

    Parameters
    ----------
    seed : int
        Everything follows from it (session seeds via ``numpy.random.SeedSequence``).
    groups : sequence of (sex, age_group)
        Sex "F"/"M"; age group "young"/"old" (others get the mean rate).
    sessions_per_group : int
        Sessions (pairs of subjects) per group.
    duration_s, fps : float
        Per session.
    group_rates : mapping, optional
        (sex, age_group) -> (episodes per minute per animal, (min, max) duration s);
        defaults to :data:`GROUP_RATES`.
    noise : ObservationNoise or None
        Observation model of every session.
    start_date : datetime.date
        Day of the first session.
    experimenters, arenas : sequence of str
        Drawn from per session.

    Returns
    -------
    SyntheticCohort

    Examples
    --------
    >>> c = simulate_cohort(seed=0, sessions_per_group=1, duration_s=30)
    >>> len(c.subjects), len(c.sessions)
    (8, 4)
    """
    rates = {**GROUP_RATES, **(group_rates or {})}
    mean_rate = float(np.mean([r for r, _ in GROUP_RATES.values()]))
    rng = np.random.default_rng(seed)
    order = [groups[i] for i in rng.permutation(np.repeat(np.arange(len(groups)), sessions_per_group))]
    child_seeds = np.random.SeedSequence(seed).spawn(len(order))
    subjects, sessions = [], []
    for k, (sex, age) in enumerate(order):
        day, (hour, minute) = start_date + dt.timedelta(days=k // len(_SLOTS)), _SLOTS[k % len(_SLOTS)]
        when = dt.datetime.combine(day, dt.time(hour, minute))
        pair = (f"sub-{2 * k + 1:03d}", f"sub-{2 * k + 2:03d}")
        for subject in pair:
            weeks = rng.uniform(8, 11) if age == "young" else rng.uniform(78, 90) if age == "old" else 26.0
            subjects.append({"subject": subject, "sex": sex, "age_group": age, "strain": "C57BL/6J",
                             "genotype": "WT", "date_of_birth": day - dt.timedelta(days=int(7 * weeks))})
        rate, durations = rates.get((sex, age), (mean_rate, (0.5, 2.5)))
        weights = BEHAVIOR_WEIGHTS.get(sex, np.full(len(BEHAVIORS), 1 / len(BEHAVIORS)))
        names = ("mouse1", "mouse2")
        mean = np.outer([ROLE_FACTOR["resident"], ROLE_FACTOR["intruder"]], weights) * rate * duration_s / 60
        counts = rng.poisson(mean)
        episode_counts = {n: dict(zip(BEHAVIORS, map(int, c))) for n, c in zip(names, counts)}
        session_id = f"ses-{k + 1:03d}"
        sim = simulate_session(seed=int(child_seeds[k].generate_state(1)[0]), duration_s=duration_s, fps=fps,
                               individuals=names, episode_counts=episode_counts, episode_duration_s=durations,
                               noise=noise, name=session_id)
        sessions.append(CohortSession(session_id=session_id, datetime=when,
                                      experimenter=str(experimenters[rng.integers(len(experimenters))]),
                                      arena=str(arenas[rng.integers(len(arenas))]), subjects=pair,
                                      roles=("resident", "intruder"), group=(sex, age), simulation=sim))
    return SyntheticCohort(subjects=subjects, sessions=sessions, seed=int(seed))
