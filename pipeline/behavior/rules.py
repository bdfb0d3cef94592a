"""Rule sets and frame-by-frame (vectorised) scoring of social contacts.

Behaviours and the target point of the partner that the agent's nose touches:

=================  ==============  ===========================================
behaviour          target point    notes
=================  ==============  ===========================================
nose2nose          nose            mutual; no head-direction condition
nose2anogenital    tail_base       directed; head-direction limit applies
nose2neck          neck            directed; head-direction limit applies
nose2left_ear      left_ear        directed; head-direction limit applies
nose2right_ear     right_ear       directed; head-direction limit applies
following          tail_base       optional, directed (DeepOF-style)
side_by_side       body centres    optional, mutual
=================  ==============  ===========================================

Exclusivity of the contact behaviours (not of the optional ones):

* **nose2nose first.** A frame where the two noses are closer than the
  nose2nose threshold is nose2nose for the pair and is *not* scored as any
  directed contact for either animal.
* **Closest point wins.** Otherwise, of the directed behaviours whose target
  point is within its threshold *and* within the head-direction limit, the
  frame goes to the one with the smallest nose distance (ties: table order).
  A target point that is missing (NaN) does not compete.
* **Hysteresis** (``release_factor``). A contact begins on frames decided as
  above; it then extends over adjacent frames where the same decision, made
  with every threshold multiplied by ``release_factor``, gives the same
  behaviour -- never over a frame that is a (strict) contact of another
  behaviour, and directed contacts never over nose2nose frames.

Before all this the features are median-filtered over ``smooth_s`` (see
:class:`RuleSet`).

Mutual behaviours are credited once per unordered pair, to the row whose
agent has the lower individual index; the reverse row is all False and not
scorable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import numpy as np

from .bouts import hysteresis
from .features import SocialFeatures, smooth_features, smooth_window

CONTACTS = ("nose2nose", "nose2anogenital", "nose2neck", "nose2left_ear", "nose2right_ear")
DIRECTED = {"nose2anogenital": "tail_base", "nose2neck": "neck",
            "nose2left_ear": "left_ear", "nose2right_ear": "right_ear"}
MUTUAL = ("nose2nose", "side_by_side")
OPTIONAL = ("following", "side_by_side")
BEHAVIORS = CONTACTS + OPTIONAL
DEFAULT_THRESHOLDS_MM = {"nose2nose": 12.0, "nose2anogenital": 12.0, "nose2neck": 12.0,
                         "nose2left_ear": 10.0, "nose2right_ear": 10.0}
UNITS = ("mm", "px")


@dataclass(frozen=True)
class FollowingRule:
    """Agent's nose within ``max_distance`` of the target's tail base and not in
    front of it, both animals faster than ``min_speed`` (units/s), their
    body-centre velocities within ``max_direction_deg`` of each other."""

    max_distance: float = 30.0
    min_speed: float = 50.0
    max_direction_deg: float = 45.0


@dataclass(frozen=True)
class SideBySideRule:
    """Body axes within ``max_angle_deg`` of parallel and body centres (midpoint of
    neck and tail base) closer than ``max_distance``."""

    max_distance: float = 40.0
    max_angle_deg: float = 30.0


@dataclass(frozen=True)
class RuleSet:
    """Thresholds for scoring social behaviour; JSON-able via :meth:`to_dict`.

    Parameters
    ----------
    units : {"mm", "px"}
        Units of every distance (and speed, per second) in the rule set.
    thresholds : mapping, optional
        Nose-distance threshold per contact behaviour. For mm rules missing
        entries take :data:`DEFAULT_THRESHOLDS_MM`; px rules must give all.
    head_angle_deg : float
        Head-direction limit for the directed behaviours (default 60).
    min_bout_s : float
        Bouts shorter than this are dropped after merging (default 0.2).
    max_gap_s : float
        Gaps (non-contact and/or unscorable frames) up to this long are merged
        (default 0.2).
    smooth_s : float
        Every feature goes through a centred running median of about this
        many seconds (odd number of frames, 5 at 30 fps) before thresholding,
        missing values ignored, so an isolated dropped keypoint takes its
        neighbours' value and one-frame jitter cannot flip a frame; 0 = off
        (default 0.15).
    release_factor : float
        Hysteresis of the contact behaviours: a contact starts where the
        distance is under its threshold and extends over the adjacent frames
        (same behaviour, same exclusivity) where it stays under
        ``release_factor`` x threshold; 1 = off (default 2.0).
    following, side_by_side : rule, True or None
        Optional extra behaviours, off (None) by default; ``True`` takes the
        default rule (mm only).

    Examples
    --------
    >>> r = RuleSet()
    >>> r.thresholds["nose2left_ear"], r.head_angle_deg
    (10.0, 60.0)
    >>> RuleSet.from_dict(r.to_dict()) == r
    True
    >>> r.to_px(0.5).thresholds["nose2nose"]
    24.0
    """

    units: str = "mm"
    thresholds: Mapping | None = None
    head_angle_deg: float = 60.0
    min_bout_s: float = 0.2
    max_gap_s: float = 0.2
    smooth_s: float = 0.15
    release_factor: float = 2.0
    following: FollowingRule | None = None
    side_by_side: SideBySideRule | None = None

    def __post_init__(self):
        if self.units not in UNITS:
            raise ValueError(f"units must be one of {UNITS}, got {self.units!r}")
        given = dict(self.thresholds or {})
        unknown = set(given) - set(CONTACTS)
        if unknown:
            raise ValueError(f"thresholds for unknown behaviour(s) {sorted(unknown)}; known: {CONTACTS}")
        if self.units == "px":
            missing = [b for b in CONTACTS if b not in given]
            if missing:
                raise ValueError(f"a px rule set must give every threshold; missing {missing} "
                                 "(RuleSet().to_px(mm_per_px) converts the mm defaults)")
        th = {b: float(given.get(b, DEFAULT_THRESHOLDS_MM[b])) for b in CONTACTS}
        object.__setattr__(self, "thresholds", th)
        for name, cls in (("following", FollowingRule), ("side_by_side", SideBySideRule)):
            v = getattr(self, name)
            if v is True:
                if self.units != "mm":
                    raise ValueError(f"{name}=True takes mm defaults; give a {cls.__name__} in px")
                v = cls()
            elif isinstance(v, Mapping):
                v = cls(**v)
            elif v is not None and not isinstance(v, cls):
                raise ValueError(f"{name} must be a {cls.__name__}, True or None, got {v!r}")
            object.__setattr__(self, name, v)
        if not float(self.release_factor) >= 1:
            raise ValueError(f"release_factor must be >= 1, got {self.release_factor}")
        for k in ("head_angle_deg", "min_bout_s", "max_gap_s", "smooth_s"):
            if not float(getattr(self, k)) >= 0:
                raise ValueError(f"{k} must be >= 0, got {getattr(self, k)}")

    @property
    def behaviors(self) -> tuple:
        """Behaviours this rule set scores, in output order."""
        return CONTACTS + tuple(b for b in OPTIONAL if getattr(self, b) is not None)

    def to_dict(self) -> dict:
        """Plain JSON-able dict."""
        d = asdict(self)
        d["thresholds"] = dict(self.thresholds)
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> RuleSet:
        """Inverse of :meth:`to_dict`."""
        return cls(**dict(d))

    def to_px(self, mm_per_px: float) -> RuleSet:
        """The same rules expressed in pixels for a recording of this scale."""
        if self.units == "px":
            return self
        f = 1.0 / float(mm_per_px)
        fol = self.following and replace(self.following, max_distance=self.following.max_distance * f,
                                         min_speed=self.following.min_speed * f)
        sbs = self.side_by_side and replace(self.side_by_side, max_distance=self.side_by_side.max_distance * f)
        return replace(self, units="px", thresholds={b: v * f for b, v in self.thresholds.items()},
                       following=fol or None, side_by_side=sbs or None)


def behavior_distance(features: SocialFeatures, behavior: str) -> np.ndarray:
    """The ``(pairs, time)`` distance that characterises a behaviour."""
    if behavior == "side_by_side":
        return features.centre_distance
    point = "nose" if behavior == "nose2nose" else DIRECTED.get(behavior, "tail_base")
    return features.distance[point]


def _finite(*arrays) -> np.ndarray:
    ok = np.isfinite(arrays[0])
    for a in arrays[1:]:
        ok &= np.isfinite(a)
    return ok


def _directed(D, A, th, head, factor, exclude):
    """Per directed behaviour: its point is the closest of those qualifying at ``factor`` x threshold."""
    names = list(DIRECTED)
    dq = np.empty((len(names),) + exclude.shape)
    for k, beh in enumerate(names):
        p = DIRECTED[beh]
        dq[k] = np.where((D[p] < factor * th[beh]) & (A[p] < head), D[p], np.inf)
    best = np.argmin(dq, axis=0)
    hit = np.isfinite(np.min(dq, axis=0)) & ~exclude
    return {beh: hit & (best == k) for k, beh in enumerate(names)}


def score_frames(features: SocialFeatures, rules: RuleSet) -> dict:
    """Score every frame of every ordered pair.

    Parameters
    ----------
    features : SocialFeatures
        In the same units as ``rules`` (and with ``fps`` when ``rules.smooth_s``).
    rules : RuleSet

    Returns
    -------
    dict of str to (ndarray, ndarray)
        ``behaviour -> (in_contact, scorable)``, bool arrays ``(pairs, time)``;
        ``in_contact`` implies ``scorable``. See the module notes for
        exclusivity, hysteresis and the crediting of mutual behaviours.
    """
    if features.units != rules.units:
        raise ValueError(f"features are in {features.units} but the rule set is in {rules.units}")
    f = smooth_features(features, smooth_window(rules.smooth_s, features.fps))
    th, D, A, head, rf = rules.thresholds, f.distance, f.angle, rules.head_angle_deg, rules.release_factor
    pairs = f.pairs
    lower = np.array([a < b for a, b in pairs], dtype=bool)[:, None]
    rev = np.array([pairs.index((b, a)) for a, b in pairs], dtype=np.intp)
    # strict pass: nose2nose first (symmetric), then the closest directed point
    nn = D["nose"] < th["nose2nose"]
    strict = _directed(D, A, th, head, 1.0, nn)
    if rf > 1:  # release pass: extend strict runs over frames under rf x threshold
        any_dir = np.logical_or.reduce(list(strict.values()))
        nn = hysteresis(nn, (D["nose"] < rf * th["nose2nose"]) & ~(any_dir | any_dir[rev]))
        loose = _directed(D, A, th, head, rf, nn)
        final = {}
        for beh in DIRECTED:
            others = np.logical_or.reduce([strict[b] for b in DIRECTED if b != beh])
            final[beh] = hysteresis(strict[beh], loose[beh] & ~others) & ~nn
        strict = final
    out = {"nose2nose": (nn & lower, np.isfinite(D["nose"]) & lower)}
    for beh, p in DIRECTED.items():
        ok = _finite(D[p], A[p])
        out[beh] = (strict[beh] & ok, ok)
    if rules.following is not None:
        fr = rules.following
        ok = _finite(D["tail_base"], f.behind, f.agent_speed, f.target_speed, f.motion_angle)
        c = ((D["tail_base"] < fr.max_distance) & (f.behind <= 0) & (f.agent_speed > fr.min_speed)
             & (f.target_speed > fr.min_speed) & (f.motion_angle < fr.max_direction_deg))
        out["following"] = (c & ok, ok)
    if rules.side_by_side is not None:
        sr = rules.side_by_side
        ok = _finite(f.centre_distance, f.body_angle) & lower
        c = (f.centre_distance < sr.max_distance) & (f.body_angle < sr.max_angle_deg)
        out["side_by_side"] = (c & ok, ok)
    return out
