"""Social-behaviour scoring from poses: pure, vectorised numpy (no database).

``score_session(pose, rules, mm_per_px=...)`` is the entry point; the steps are
:mod:`.roles` (keypoint names -> roles), :mod:`.features` (per-frame pair
features), :mod:`.rules` (thresholds -> per-frame contact), :mod:`.bouts`
(run-length bouts and summaries).
"""

from .bouts import find_bouts, summarise_bouts, time_binned
from .features import SocialFeatures, social_features
from .roles import ROLES, resolve_roles
from .rules import BEHAVIORS, CONTACTS, FollowingRule, RuleSet, SideBySideRule, score_frames
from .score import ScoreResult, score_session

__all__ = ["BEHAVIORS", "CONTACTS", "ROLES", "FollowingRule", "RuleSet", "ScoreResult", "SideBySideRule",
           "SocialFeatures", "find_bouts", "resolve_roles", "score_frames", "score_session",
           "social_features", "summarise_bouts", "time_binned"]
