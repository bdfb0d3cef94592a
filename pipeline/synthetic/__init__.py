"""Deterministic synthetic two-mouse sessions and cohorts with ground truth.

Two mice roam a round arena (persistent random walk, wall avoidance, kept
apart) except for scripted social contacts -- ``nose2nose``,
``nose2anogenital``, ``nose2neck``, ``nose2left_ear``, ``nose2right_ear`` --
whose frames are the ground truth. The tracker's view (pixels, jitter,
dropped keypoints, confidences) is a :class:`~pipeline.pose.PoseData`.

>>> from pipeline.synthetic import simulate_session
>>> s = simulate_session(seed=0, duration_s=30)
>>> list(s.episodes.columns)
['behavior', 'agent', 'target', 'start_frame', 'end_frame', 'start_s', 'end_s']
"""

from .motion import BEHAVIORS, EDGES, KEYPOINTS
from .session import EPISODE_COLUMNS, ObservationNoise, SyntheticSession, simulate_session
from .cohort import CohortSession, SyntheticCohort, simulate_cohort
from .files import write_session_files

__all__ = [
    "BEHAVIORS", "EDGES", "EPISODE_COLUMNS", "KEYPOINTS", "ObservationNoise", "SyntheticSession",
    "simulate_session", "CohortSession", "SyntheticCohort", "simulate_cohort", "write_session_files",
]
