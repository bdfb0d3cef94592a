"""Rule sets and frame-by-frame (vectorised) scoring of social contacts.

Behaviours and the target point of the partner that the agent's nose touches:

* nose2nose (nose; mutual, no head-direction condition);
* nose2anogenital (tail_base), nose2neck (neck), nose2left_ear (left_ear),
  nose2right_ear (right_ear): directed, within the head-direction limit;
* optional: following (directed, DeepOF-style) and side_by_side (mutual).

Exclusivity of the contact behaviours (not of the optional ones):

* **nose2nose first.** A frame where the two noses are closer than the
  nose2nose threshold is nose2nose for the pair and is *not* scored as any
  directed contact for either animal.
* **Closest point wins.** Otherwise, of the directed behaviours whose target
  point is within its threshold *and* within the head-direction limit, the
  frame goes to the one with the smallest nose distance (ties: in the order listed above).
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

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import numpy as np

from .bouts import hysteresis_sparse
from .features import SocialFeatures
from .smoothing import dilate, median_at, smooth_features, smooth_window

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


def _full_thresholds(thresholds: Mapping | None, units: str) -> dict:
    """Every contact behaviour's threshold (float), mm defaults filling the gaps.

    Raises ValueError for unknown behaviours and, in px, for any missing one.
    """
    given = dict(thresholds or {})
    unknown = set(given) - set(CONTACTS)
    if unknown:
        raise ValueError(f"thresholds for unknown behaviour(s) {sorted(unknown)}; known: {CONTACTS}")
    if units == "px":
        missing = [b for b in CONTACTS if b not in given]
        if missing:
            raise ValueError(f"a px rule set must give every threshold; missing {missing} "
                             "(RuleSet().to_px(mm_per_px) converts the mm defaults)")
    return {b: float(given.get(b, DEFAULT_THRESHOLDS_MM[b])) for b in CONTACTS}


def _optional_rule(name: str, cls: type, value, units: str):
    """An optional rule given as ``cls``, mapping, True (mm defaults) or None -> ``cls`` instance or None."""
    if value is True:
        if units != "mm":
            raise ValueError(f"{name}=True takes mm defaults; give a {cls.__name__} in px")
        return cls()
    if isinstance(value, Mapping):
        return cls(**value)
    if value is not None and not isinstance(value, cls):
        raise ValueError(f"{name} must be a {cls.__name__}, True or None, got {value!r}")
    return value


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
        object.__setattr__(self, "thresholds", _full_thresholds(self.thresholds, self.units))
        for name, cls in (("following", FollowingRule), ("side_by_side", SideBySideRule)):
            object.__setattr__(self, name, _optional_rule(name, cls, getattr(self, name), self.units))
        for k, least in (("head_angle_deg", 0), ("min_bout_s", 0), ("max_gap_s", 0), ("smooth_s", 0),
                         ("release_factor", 1)):
            if not float(getattr(self, k)) >= least:
                raise ValueError(f"{k} must be >= {least}, got {getattr(self, k)}")

    @property
    def behaviors(self) -> tuple:
        """Behaviours this rule set scores, in output order."""
        return CONTACTS + tuple(b for b in OPTIONAL if getattr(self, b) is not None)

    def __hash__(self):
        return hash(json.dumps(self.to_dict(), sort_keys=True))

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


def _finite(*arrays) -> np.ndarray:
    ok = np.isfinite(arrays[0])
    for a in arrays[1:]:
        ok &= np.isfinite(a)
    return ok


def _directed(D, A, th, head, factor, exclude):
    """Per directed behaviour: its point is the closest of those qualifying at ``factor`` x threshold."""
    best_d = np.full(exclude.shape, np.inf)
    best = np.full(exclude.shape, -1, dtype=np.int8)
    for k, (beh, p) in enumerate(DIRECTED.items()):
        d = np.where((D[p] < factor * th[beh]) & (A[p] < head), D[p], np.inf)
        closer = d < best_d
        best_d = np.where(closer, d, best_d)
        best[closer] = k
    best[exclude] = -1
    return {beh: best == k for k, beh in enumerate(DIRECTED)}


def _full(idx: np.ndarray, values: np.ndarray, shape) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    out.ravel()[idx] = values
    return out


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

    Notes
    -----
    The decisions are only worked out on the frames where they can go either
    way: a (smoothed) distance cannot be under its release threshold unless
    some raw distance within the median window is, since a median is never
    below the window's minimum; and an angle only matters where its distance
    qualifies. Elsewhere only whether the smoothed values exist (some valid
    value in the window) is needed, for the scorable masks.
    """
    if features.units != rules.units:
        raise ValueError(f"features are in {features.units} but the rule set is in {rules.units}")
    extras = rules.following is not None or rules.side_by_side is not None
    if extras and features.centre_distance is None:
        raise ValueError("following / side_by_side need the body-level features (social_features(extras=True))")
    w = smooth_window(rules.smooth_s, features.fps)
    h = w // 2
    th, head, rf = rules.thresholds, rules.head_angle_deg, max(1.0, rules.release_factor)
    pairs, shape = features.pairs, features.distance["nose"].shape
    n_t = shape[1]
    lower = np.array([a < b for a, b in pairs], dtype=bool)[:, None]
    rev = np.array([pairs.index((b, a)) for a, b in pairs], dtype=np.intp)
    limit = {"nose": rf * th["nose2nose"], **{p: rf * th[b] for b, p in DIRECTED.items()}}
    near = {p: dilate(features.distance[p] < v, h) for p, v in limit.items()}
    idx = np.flatnonzero(np.logical_or.reduce(list(near.values())))
    link = np.diff(idx) == 1
    link &= idx[1:] % n_t != 0  # not across pairs

    def smoothed(x, sel):  # smoothed x at idx[sel], +inf elsewhere (cannot qualify)
        out = np.full(len(idx), np.inf)
        out[sel] = median_at(x, idx[sel], w) if h else x.ravel()[idx[sel]]
        return out

    D = {p: smoothed(features.distance[p], near[p].ravel()[idx]) for p in limit}
    A = {p: smoothed(features.angle[p], D[p] < limit[p]) for p in DIRECTED.values()}
    # strict pass: nose2nose first (symmetric), then the closest directed point
    nn = D["nose"] < th["nose2nose"]
    strict = _directed(D, A, th, head, 1.0, nn)
    if rf > 1:  # release pass: extend strict runs over frames under rf x threshold
        any_dir = _full(idx, np.logical_or.reduce(list(strict.values())), shape).ravel()
        busy = any_dir[idx] | any_dir[rev[idx // n_t] * n_t + idx % n_t]
        nn = hysteresis_sparse(nn, (D["nose"] < limit["nose"]) & ~busy, link)
        loose = _directed(D, A, th, head, rf, nn)
        final = {}
        for beh in DIRECTED:
            others = np.logical_or.reduce([strict[b] for b in DIRECTED if b != beh])
            final[beh] = hysteresis_sparse(strict[beh], loose[beh] & ~others, link) & ~nn
        strict = final
    known = lambda x: dilate(np.isfinite(x), h)  # noqa: E731 - the smoothed value exists
    out = {"nose2nose": (_full(idx, nn, shape) & lower, known(features.distance["nose"]) & lower)}
    for beh, p in DIRECTED.items():
        ok = known(features.distance[p]) & known(features.angle[p])
        out[beh] = (_full(idx, strict[beh], shape) & ok, ok)
    if extras:
        f = smooth_features(features, w)
        D = {"tail_base": f.distance["tail_base"]}
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
