"""Deterministic synthetic two-mouse sessions and cohorts with ground truth.

Two mice roam a round arena (persistent random walk, wall avoidance, kept
apart) except for scripted social contacts -- ``nose2nose``,
``nose2anogenital``, ``nose2neck``, ``nose2left_ear``, ``nose2right_ear`` --
whose frames are the ground truth. The tracker's view (pixels, jitter,
dropped keypoints, confidences) is a :class:`~pipeline.pose.PoseData`.

Modules: :mod:`.motion` (body model, movement, scripted contacts),
:mod:`.session` (one session, observation model), :mod:`.cohort` (subjects,
sessions, group effects), :mod:`.files` (SLEAP/DLC/CSV writers, video),
:mod:`.spikes` (tracking spikes of known frames).

>>> from pipeline.synthetic import simulate_session
>>> s = simulate_session(seed=0, duration_s=30)
>>> list(s.episodes.columns)
['behavior', 'agent', 'target', 'start_frame', 'end_frame', 'start_s', 'end_s']
"""

from .cohort import GROUP_RATES, CohortSession, SyntheticCohort, simulate_cohort
from .files import FORMATS, render_video, to_movement_dataset, write_camera_views, write_session_files
from .motion import BEHAVIORS, EDGES, KEYPOINTS, TARGET_KEYPOINT
from .session import EPISODE_COLUMNS, ObservationNoise, SyntheticSession, simulate_session
from .spikes import SPIKE_COLUMNS, inject_spikes

__all__ = [
    "BEHAVIORS", "EDGES", "EPISODE_COLUMNS", "FORMATS", "GROUP_RATES", "KEYPOINTS", "SPIKE_COLUMNS",
    "TARGET_KEYPOINT", "CohortSession", "ObservationNoise", "SyntheticCohort", "SyntheticSession", "render_video",
    "inject_spikes", "simulate_cohort", "simulate_session", "to_movement_dataset", "write_camera_views",
    "write_session_files",
]
