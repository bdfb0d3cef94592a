"""A synthetic cohort: subjects in sex × age groups, one two-mouse session per pair."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from .session import SyntheticSession, simulate_session

# Episodes per agent and behaviour by group: the groups differ on purpose, so
# that group statistics have something to find (more sniffing in young females).
GROUP_EPISODES = {("F", "young"): 4, ("F", "old"): 3, ("M", "young"): 3, ("M", "old"): 2}


@dataclass(frozen=True)
class CohortSession:
    """One session of the cohort: its metadata and its simulation."""

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
    """Subjects (dicts ready for a manifest) and sessions with ground truth."""

    subjects: list[dict]
    sessions: list[CohortSession]


def simulate_cohort(*, seed: int, groups=tuple(GROUP_EPISODES), sessions_per_group: int = 4,
                    duration_s: float = 200.0, fps: float = 30.0, episodes_per_behavior=None) -> SyntheticCohort:
    """Simulate ``sessions_per_group`` same-group pairs for each (sex, age group).

    Deterministic given ``seed``. Each session pairs two new subjects of the
    same group (resident and intruder).

    Examples
    --------
    >>> c = simulate_cohort(seed=0, sessions_per_group=1, duration_s=30)
    >>> len(c.subjects), len(c.sessions)
    (8, 4)
    """
    rng = np.random.default_rng(seed)
    subjects, sessions = [], []
    start = dt.datetime(2026, 3, 2, 9, 0)
    for g, (sex, age) in enumerate(groups):
        n_episodes = (episodes_per_behavior or GROUP_EPISODES).get((sex, age), 3) \
            if isinstance(episodes_per_behavior or GROUP_EPISODES, dict) else int(episodes_per_behavior)
        for k in range(sessions_per_group):
            sid = f"{sex}{age[0]}{k + 1:02d}"
            pair = (f"{sid}a", f"{sid}b")
            birth = dt.date(2026, 1, 5) - dt.timedelta(days=(0 if age == "young" else 300) + int(rng.integers(0, 14)))
            for subject in pair:
                subjects.append({"subject": subject, "sex": sex, "age_group": age, "strain": "C57BL/6J",
                                 "genotype": "WT", "date_of_birth": birth})
            sim = simulate_session(seed=int(rng.integers(2**31)), duration_s=duration_s, fps=fps,
                                   episode_counts=n_episodes, name=f"session_{sid}")
            when = start + dt.timedelta(days=g * sessions_per_group + k, minutes=int(rng.integers(0, 120)))
            sessions.append(CohortSession(session_id=f"session_{sid}", datetime=when, experimenter="synthetic",
                                          arena="round-480mm", subjects=pair, roles=("resident", "intruder"),
                                          group=(sex, age), simulation=sim))
    return SyntheticCohort(subjects=subjects, sessions=sessions)
