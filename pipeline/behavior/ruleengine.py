"""Score a pose with a declarative rule set (:mod:`.ruledoc`), vectorised over frames and pairs.

Order of work, per recording:

1. **Presence** (optional, ``preprocessing.presence``): an animal is absent
   in a frame where the median confidence of its keypoints is not above the
   threshold (unknown confidence counts 1 for a present point, 0 for a
   missing one).  Computed on the file's confidences, before any filter.
2. **Filters** (``preprocessing.filters``): the steps of
   :mod:`pipeline.quality.filters`, plus :func:`deepof_outliers` and
   :func:`interpolate_limited` (DeepOF's own preprocessing).  Then the
   points of absent animals are set missing.
3. **Units**: positions times ``mm_per_px`` (``units: mm``), as read
   (``px``), or distances and speeds divided by the agent's body length
   (``body_lengths``: median over frames of the ``body_length`` roles' distance).
4. **Per behaviour**: features of every ordered pair; a ``median`` smoothing
   window runs over the features (worked out only on the frames where a
   numeric bound can hold: a median never leaves its window's range); the
   conditions are ANDed (strict ``<`` / ``>``); hysteresis extends runs over
   frames that pass with relaxed numeric bounds (``below x release_factor``,
   ``above / release_factor``, of the primitives in ``relax``); under the
   ``closest`` policy the behaviours it names are decided jointly here (see
   :class:`_Closest`); a ``majority`` window votes on the result.  ``missing: unscorable``
   makes a frame where a feature is NaN unscorable; ``no_contact`` scores
   it as no contact.  A ``mutual`` behaviour is credited to the pair's row
   whose agent comes first in the file (DeepOF's naming); the other row is
   all False and not scorable.
5. **Exclusivity** (``exclusive``): a frame of a pair claimed by a
   behaviour earlier in the priority list is not scored as a later one
   (a mutual behaviour claims the frame for both directions).  The result
   is :attr:`ScoredFrames.frame_contact`.
6. **Bouts**: gaps of at most ``max_gap`` are bridged (and become
   scorable), then runs shorter than ``min_bout`` are dropped.
7. Frames where the agent (``presence.mask: agent``, DeepOF) or either
   animal (``both``) is absent become unscorable.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..pose import PoseData
from ..quality._series import flat as _flat
from ..quality._series import new as _new
from .bouts import hysteresis
from .primitives import (
    axis_angle,
    axis_position,
    drop_short_runs,
    fill_gaps,
    gradient_speed,
    heading_angle,
    majority,
    motion_angle,
    point_speed,
    set_distance,
)
from .ruledoc import DISTANCE_PRIMITIVES, Behavior, Feature, RuleDocument, load_document
from .smoothing import dilate, median_at, running_median

__all__ = ["ScoredFrames", "deepof_outliers", "deepof_savgol", "document_roles", "interpolate_limited",
           "preprocess_pose", "resolve_document_roles", "score_document"]


# ---------------------------------------------------------------- filter steps (DeepOF preprocessing)

def deepof_savgol(pose: PoseData, *, window: int = 15, alpha: int = 1,
                  missing_as_zero: bool = True) -> tuple[PoseData, dict]:
    """DeepOF 0.9's ``smooth_mult_trajectory``: Savitzky-Golay of order ``window - alpha``.

    Unlike the ``savgol`` filter step (which bridges gaps for the filter),
    this runs on the table as DeepOF reads it: with ``missing_as_zero`` a
    missing point enters the filter as (0, 0), DeepOF's reading of an
    undetected DeepLabCut point.  Missing points stay missing.  DeepOF's
    default (window 15, alpha 1) fits a degree-14 polynomial through 15
    points, numerically close to the identity (changes of about 1e-5 relative).

    Parameters
    ----------
    pose : PoseData
    window : int
        Frames (``window_length``).
    alpha : int
        ``polyorder = window - alpha``.
    missing_as_zero : bool
        See above; False bridges gaps linearly as the ``savgol`` step does.
    """
    from scipy.signal import savgol_filter

    from ..quality._series import fill_all, smooth

    x = _flat(pose)
    if x.shape[0] < int(window):
        raise ValueError(f"savgol window {window} is longer than the recording ({x.shape[0]} frames)")
    x = np.nan_to_num(x) if missing_as_zero else np.nan_to_num(fill_all(x))
    return smooth(pose, savgol_filter(x, window_length=int(window), polyorder=int(window) - int(alpha), axis=0))


def deepof_outliers(pose: PoseData, *, likelihood_threshold: float, window: int = 5, n_std: float = 3.0,
                    missing_as_zero: bool = True) -> tuple[PoseData, dict]:
    """DeepOF 0.9's ``remove_outliers``: low confidence, or far from a moving average.

    A point is removed when its confidence is below ``likelihood_threshold``
    (unknown confidence is kept), or when its x or y deviates from the
    centred ``window``-frame moving average (zero-padded at the ends, as
    ``np.convolve(..., mode="same")``) by more than the mean plus ``n_std``
    standard deviations of that coordinate's deviations (frames ``window``
    to ``-window``).

    Parameters
    ----------
    pose : PoseData
    likelihood_threshold : float
    window : int
        Odd number of frames.
    n_std : float
    missing_as_zero : bool
        DeepOF reads an undetected DeepLabCut point as (0, 0): missing points
        enter the moving average as zeros (default).  False lets them
        propagate NaN, as DeepOF does for NaN cells.
    """
    w = int(window)
    if w < 1 or w % 2 == 0:
        raise ValueError(f"window must be a positive odd number of frames, got {window}")
    x = pose.positions
    xs = np.where(np.isnan(x), 0.0, x) if missing_as_zero else x
    h, n = w // 2, x.shape[0]
    padded = np.zeros((n + 2 * h,) + x.shape[1:])
    padded[h:h + n] = xs
    ma = sum(padded[k:k + n] for k in range(w)) / w
    resid = xs - ma
    core = resid[w:n - w] if n > 2 * w else resid
    with np.errstate(invalid="ignore"):
        limit = np.nanmean(core, axis=0) + n_std * np.nanstd(core, axis=0)
        far = (np.abs(resid) > limit).any(-1)
    low = pose.confidence < float(likelihood_threshold)
    pos = x.copy()
    pos[far | low] = np.nan
    return _new(pose, pos)


def _limited_fill(x: np.ndarray, limit: int) -> np.ndarray:
    """pandas ``interpolate(method="linear", limit=limit, limit_direction="both")`` per column."""
    n = x.shape[0]
    if n == 0:
        return x
    t = np.arange(n)[:, None]
    ok = ~np.isnan(x)
    prev = np.maximum.accumulate(np.where(ok, t, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(ok, t, n)[::-1], axis=0)[::-1]
    has_p, has_n = prev >= 0, nxt < n
    fill = ~ok & ((has_p & (t - prev <= limit)) | (has_n & (nxt - t <= limit)))
    cols = np.broadcast_to(np.arange(x.shape[1]), x.shape)
    x0 = x[np.clip(prev, 0, n - 1), cols]
    x1 = x[np.clip(nxt, 0, n - 1), cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        inner = x0 + (t - prev) * (x1 - x0) / (nxt - prev)
    value = np.where(~has_p, x1, np.where(~has_n, x0, inner))
    return np.where(fill, value, x)


def interpolate_limited(pose: PoseData, *, limit: int, presence: np.ndarray | None = None) -> tuple[PoseData, dict]:
    """Fill missing points within ``limit`` frames of a known one (DeepOF's "partial" imputation).

    As pandas ``interpolate(method="linear", limit=limit,
    limit_direction="both")``: a missing point is filled when a known point
    of its series lies at most ``limit`` frames before or after it; between
    two known points the value is on the line between them, before the first
    (after the last) it is the first (last) known value.  So a gap of up to
    ``2 * limit`` frames is filled completely, and the ``limit`` frames at each
    end of a longer gap are filled.  Filled points get NaN confidence.

    Parameters
    ----------
    pose : PoseData
    limit : int
    presence : ndarray of bool (time, individual), optional
        Set by the rule engine from ``preprocessing.presence``: each
        animal's frames where it is absent are left out first (and stay
        untouched), as DeepOF interpolates only the frames where the animal
        is present.
    """
    x = _flat(pose).reshape(pose.n_frames, pose.n_individuals, -1)
    out = x.copy()
    for i in range(pose.n_individuals):
        rows = np.ones(pose.n_frames, bool) if presence is None else np.asarray(presence[:, i], bool)
        sub = x[rows, i]
        gaps = np.flatnonzero(np.isnan(sub).any(0))  # only series with a gap
        if len(gaps):
            sub[:, gaps] = _limited_fill(sub[:, gaps], int(limit))
            out[rows, i] = sub
    positions = out.reshape(pose.positions.shape)
    conf = pose.confidence.copy()
    conf[np.isnan(pose.positions).any(-1) & ~np.isnan(positions).any(-1)] = np.nan
    return _new(pose, positions, conf)


_EXTRA = {"deepof_savgol": deepof_savgol, "deepof_outliers": deepof_outliers,
          "interpolate_limited": interpolate_limited}


# ---------------------------------------------------------------- roles

def resolve_document_roles(doc: RuleDocument, roles: Mapping, keypoints) -> dict:
    """Check a role map against a document and a skeleton.

    Parameters
    ----------
    doc : RuleDocument
    roles : mapping
        ``role -> keypoint name``, list of names (a set), ``{"centroid": [...]}``,
        ``{"median": [...]}``; ``"*"`` stands for all keypoints; ``None``: the
        skeleton lacks the role (its points are missing in every frame, so a
        behaviour that needs it is unscorable, or no contact).
    keypoints : sequence of str
        The pose's keypoints.

    Returns
    -------
    dict
        ``role -> (kind, keypoint indices)`` with kind ``"set"``, ``"centroid"``,
        ``"median"`` (a single keypoint is a one-point set) or ``"absent"``, for
        the roles the document uses.

    Raises
    ------
    InputError
        A role the document uses is not mapped, or a mapping names an
        unknown keypoint or has a bad form.
    """
    if not isinstance(roles, Mapping):
        raise InputError(doc.name, f"the role map must be a mapping role -> keypoint(s), got {roles!r}")
    keypoints = list(keypoints)
    missing = [r for r in doc.used_roles if r not in roles]
    if missing:
        raise InputError(doc.name, f"role map lacks role(s) {missing} that the rules use; "
                                   f"skeleton keypoints: {keypoints}")
    return {r: _resolve_one(doc.name, r, roles[r], keypoints) for r in doc.used_roles}


def _resolve_one(source: str, role: str, value, keypoints: list) -> tuple:
    if value is None:
        return "absent", []
    kind = "set"
    if isinstance(value, Mapping):
        if len(value) != 1 or next(iter(value)) not in ("centroid", "median"):
            raise InputError(source, f"role {role!r}: a mapping must be {{centroid: [...]}} or {{median: [...]}}, "
                                     f"got {value!r}")
        (kind, value), = value.items()
    names = keypoints if value == "*" else [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(k, str) for k in names):
        raise InputError(source, f"role {role!r}: expected a keypoint name or a list of names, got {value!r}")
    unknown = [k for k in names if k not in keypoints]
    if unknown:
        raise InputError(source, f"role {role!r} names keypoint(s) {unknown} not in the skeleton {keypoints}")
    return kind, [keypoints.index(k) for k in names]


def _space_major(positions: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``positions * scale``, still indexed ``(time, individual, points, space)`` but stored
    ``(points, space, individual, time)``: each coordinate's ``(individual, time)`` rows are
    contiguous, as the pair primitives read them.  Copied in cache-sized blocks of frames."""
    n_t = positions.shape[0]
    src = np.asarray(positions, dtype=np.float64).transpose(2, 3, 1, 0)
    out = np.empty(src.shape)
    for s in range(0, n_t, 2048):
        np.multiply(src[..., s:s + 2048], scale, out=out[..., s:s + 2048])
    return out.transpose(3, 2, 0, 1)


def _role_points(positions: np.ndarray, kind: str, index: list) -> np.ndarray:
    """``(time, individual, points, space)`` positions of one role (stored as :func:`_space_major`)."""
    if kind == "absent":
        return _space_major(np.full(positions.shape[:2] + (1,) + positions.shape[3:], np.nan))
    pts = positions[:, :, index[0]:index[0] + 1] if len(index) == 1 else positions[:, :, index]
    if kind == "centroid":
        return _space_major(pts.mean(axis=2, keepdims=True))
    if kind == "median":  # NaN-ignoring, as AmadeusGPT's body centre
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
            return _space_major(np.nanmedian(pts, axis=2, keepdims=True))
    return pts


def document_roles(resolution: Mapping) -> dict:
    """A role map for :func:`score_document` from :func:`pipeline.behavior.roles.resolve_roles`.

    Parameters
    ----------
    resolution : mapping
        ``role -> keypoint name``, ``("midpoint", a, b)`` or None (absent).

    Returns
    -------
    dict
        ``("midpoint", a, b)`` becomes ``{"centroid": [a, b]}``; the rest is
        kept as is.

    Examples
    --------
    >>> document_roles({"nose": "snout", "neck": ("midpoint", "ear_l", "ear_r"), "left_ear": None})
    {'nose': 'snout', 'neck': {'centroid': ['ear_l', 'ear_r']}, 'left_ear': None}
    """
    return {r: {"centroid": list(v[1:])} if isinstance(v, tuple) else v for r, v in resolution.items()}


# ---------------------------------------------------------------- preprocessing

def _presence(pose: PoseData, threshold: float) -> np.ndarray:
    """(time, individual) True where the median keypoint confidence exceeds ``threshold``."""
    present = ~np.isnan(pose.positions).any(-1)
    conf = np.where(np.isnan(pose.confidence), present.astype(float), pose.confidence)
    return np.median(conf, axis=2) > threshold


def preprocess_pose(pose: PoseData, doc: RuleDocument) -> tuple[PoseData, np.ndarray | None]:
    """Run a rule set's preprocessing: presence, the filter chain, absent animals' points set missing.

    Parameters
    ----------
    pose : PoseData
    doc : RuleDocument

    Returns
    -------
    (PoseData, ndarray or None)
        The filtered pose (positions in the file's units) and the
        ``(time, individual)`` presence mask (None without ``presence``).

    Raises
    ------
    InputError
        A filter step refuses its options.
    """
    from ..quality.filters import STEPS

    presence = None if doc.presence is None else _presence(pose, doc.presence.min_median_confidence)
    for i, spec in enumerate(doc.filters):
        options = json.loads(spec)
        name = options.pop("step")
        try:
            if name in _EXTRA:
                extra = {"presence": presence} if name == "interpolate_limited" else {}
                pose, _ = _EXTRA[name](pose, **options, **extra)
            else:
                pose, _ = STEPS[name](pose, **options)
        except (TypeError, ValueError) as err:
            raise InputError(doc.name, f"preprocessing.filters[{i}] ({name}): {err}") from None
    if presence is not None:
        pos = pose.positions.copy()
        pos[~presence] = np.nan
        pose = dataclasses.replace(pose, positions=pos)
    return pose, presence


# ---------------------------------------------------------------- features

class _Features:
    """Features of all ordered pairs of one recording, computed once each."""

    def __init__(self, positions, roles: dict, doc: RuleDocument, fps, source: str):
        n = positions.shape[1]
        self.pairs = tuple((a, b) for a in range(n) for b in range(n) if a != b)
        self.ai = np.array([p[0] for p in self.pairs], dtype=np.intp)
        self.ti = np.array([p[1] for p in self.pairs], dtype=np.intp)
        self.fps, self.doc, self.source = fps, doc, source
        self.roles = roles
        self.points = {r: _role_points(positions, *spec) for r, spec in roles.items()}
        self.n_frames = positions.shape[0]
        self.length = self._body_lengths() if doc.units == "body_lengths" else None
        self.cache: dict = {}

    def _body_lengths(self) -> np.ndarray:
        tail, head = (self._point(r, "body_length") for r in self.doc.body_length)
        d = np.sqrt(np.sum((head - tail)[:, :, 0] ** 2, axis=-1))  # (time, individual)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an animal never seen: NaN
            return np.nanmedian(d, axis=0)

    def _point(self, role: str, what: str) -> np.ndarray:
        pts = self.points[role]
        if pts.shape[2] != 1:
            raise InputError(self.source, f"{what} needs a single point for role {role!r}, which is a set of "
                                          f"{pts.shape[2]} keypoints; map it to one keypoint, a centroid or a median")
        return pts

    def get(self, feat: Feature, window: int = 1) -> np.ndarray:
        """``(pairs, time)`` values of a feature, median-smoothed over ``window`` frames."""
        key = (feat, window)
        if key not in self.cache:
            self.cache[key] = running_median(self.get(feat), window) if window > 1 else self._compute(feat)
        return self.cache[key]

    def _compute(self, f: Feature) -> np.ndarray:
        prim = f.primitive
        if prim in DISTANCE_PRIMITIVES:
            return self._distance(f)
        return {"head_angle": self._head_angle, "body_angle": self._body_angle, "speed": self._speed,
                "gradient_speed": self._speed, "motion_angle": self._motion_angle,
                "axis_position": self._axis_position}[prim](f)

    def _head_angle(self, f: Feature) -> np.ndarray:
        prim = f.primitive
        if f.get("convention") == "ccw360" and self.points[f.get("head")].shape[-1] != 2:
            raise InputError(self.source, "head_angle convention 'ccw360' is defined for 2D poses only")
        origin = f.get("origin") or f.get("tail")
        return heading_angle(self._point(f.get("tail"), prim), self._point(f.get("head"), prim),
                             self._point(origin, prim), self._point(f.get("target"), prim), self.ai, self.ti,
                             convention=f.get("convention"))

    def _body_angle(self, f: Feature) -> np.ndarray:
        return axis_angle(self._point(f.get("tail"), f.primitive), self._point(f.get("head"), f.primitive),
                          self.ai, self.ti)

    def _motion_angle(self, f: Feature) -> np.ndarray:
        return motion_angle(self._point(f.get("role"), f.primitive), self.ai, self.ti, fps=self.fps)

    def _axis_position(self, f: Feature) -> np.ndarray:
        pts = [self._point(f.get(k), f.primitive) for k in ("point", "tail", "head")]
        d = axis_position(*pts, self.ai, self.ti)
        return d if self.length is None else d / self.length[self.ai][:, None]

    def _distance(self, f: Feature) -> np.ndarray:
        if f.primitive == "centre_distance":
            a = b = self._point(f.get("role"), "centre_distance")
        else:
            a, b = self.points[f.get("agent")], self.points[f.get("target")]
        window = 1
        if f.primitive == "path_distance":
            window = max(1, f.get("window").to_frames(self.fps, self.doc.frame_rounding, where=self.source))
        d = set_distance(a, b, self.ai, self.ti, window=window)
        return d if self.length is None else d / self.length[self.ai][:, None]

    def _speed(self, f: Feature) -> np.ndarray:
        per_second = f.get("per") == "second"
        if per_second and not self.fps:
            raise InputError(self.source, "speed per second needs the frame rate (fps)")
        fps = self.fps if per_second else None
        if f.primitive == "gradient_speed":
            s = gradient_speed(self._point(f.get("role"), f.primitive), fps=fps)
        else:
            s = point_speed(self.points[f.get("role")], lag=f.get("lag"), mean_window=f.get("mean_window"),
                            decimals=f.get("decimals"), fps=fps)
        who = self.ai if f.get("of") == "agent" else self.ti
        s = s[who]
        return s if self.length is None else s / self.length[who][:, None]


# ---------------------------------------------------------------- behaviours

def _factor(beh: Behavior, cond, factor: float) -> float:
    """The relaxation of one condition: ``factor`` if the hysteresis relaxes its primitive, else 1."""
    return factor if beh.relax is None or cond.feature.primitive in beh.relax else 1.0


def _evaluate(beh: Behavior, get, shape, factor: float = 1.0):
    """(contact, known) of the ANDed conditions; numeric bounds relaxed by ``factor``.

    ``get(feature)`` gives a feature's (smoothed) values, of ``shape``.  Only
    the conditions whose primitive is in ``beh.relax`` are relaxed (all when
    ``relax`` is None).
    """
    contact, known = np.ones(shape, bool), np.ones(shape, bool)
    with np.errstate(invalid="ignore"):
        for c in beh.conditions:
            x = get(c.feature)
            known &= np.isfinite(x)
            f = _factor(beh, c, factor)
            for bound, is_below in ((c.below, True), (c.above, False)):
                if bound is None:
                    continue
                if isinstance(bound, Feature):
                    b = get(bound)
                    known &= np.isfinite(b)
                else:
                    b = bound * f if is_below else bound / f
                contact &= _compare(x, b, is_below, c.inclusive)
    return contact, known


def _compare(x, b, is_below: bool, inclusive: bool) -> np.ndarray:
    """``x < b`` (``<=`` when inclusive), or ``x > b`` (``>=``)."""
    if is_below:
        return (x <= b) if inclusive else (x < b)
    return (x >= b) if inclusive else (x > b)


def _candidates(beh: Behavior, feats: _Features, half: int, factor: float):
    """Frames where the median-smoothed conditions can hold, or None when no bound narrows them.

    A running median never lies below its window's smallest valid value nor
    above its largest, so ``x < b`` after smoothing needs some raw ``x < b``
    within ``half`` frames (likewise ``>``).
    """
    cand = None
    with np.errstate(invalid="ignore"):
        for c in beh.conditions:
            x = feats.get(c.feature)
            f = _factor(beh, c, factor)
            for bound, is_below in ((c.below, True), (c.above, False)):
                if bound is None or isinstance(bound, Feature):
                    continue
                near = dilate(_compare(x, bound * f if is_below else bound / f, is_below, c.inclusive), half)
                cand = near if cand is None else cand & near
    return cand


def _known(beh: Behavior, feats: _Features, half: int) -> np.ndarray:
    """Frames where every smoothed feature of the behaviour exists (a valid raw value within ``half``)."""
    known = None
    for f in dict.fromkeys(beh.features):
        k = dilate(np.isfinite(feats.get(f)), half)
        known = k if known is None else known & k
    return known


def _frames(beh: Behavior, doc: RuleDocument, fps) -> tuple:
    """(median window, majority window, max gap, min bout) in frames.

    With ``frame_rounding: seconds`` a gap is bridged when it lasts at most
    ``max_gap`` seconds (floor) and a bout is kept when it lasts at least
    ``min_bout`` seconds (ceil), both with a 1e-9 tolerance; windows round.
    """
    where = f"{doc.name}: behaviour {beh.name!r}"
    sm, r = beh.smoothing, doc.frame_rounding
    w = sm.window_frames(fps, r, where=where)
    gap_r, bout_r = ("floor", "ceil") if r == "seconds" else (r, r)
    return (w if sm.method == "median" else 1, w if sm.method == "majority" else 1,
            beh.max_gap.to_frames(fps, gap_r, where=where), beh.min_bout.to_frames(fps, bout_r, where=where))


@dataclass
class _Raw:
    """One behaviour's per-frame material before exclusivity (mutual rows: lower agent only)."""

    strict: np.ndarray  # conditions hold (and are known)
    loose: np.ndarray | None  # hold with relaxed bounds (None without hysteresis)
    scorable: np.ndarray
    rank: np.ndarray | None = None  # smoothed first feature, for policy "closest"


def _release(beh: Behavior) -> float | None:
    """The behaviour's release factor, None without hysteresis."""
    return beh.release_factor if beh.release_factor is not None and beh.release_factor > 1 else None


def _dense(beh: Behavior, feats: _Features, window: int, ranked: bool) -> tuple:
    """(strict, loose, known, rank) evaluated on every frame."""
    get = lambda f: feats.get(f, window)  # noqa: E731
    shape = (len(feats.pairs), feats.n_frames)
    strict, known = _evaluate(beh, get, shape)
    loose = None if _release(beh) is None else _evaluate(beh, get, shape, _release(beh))[0]
    return strict, loose, known, get(beh.conditions[0].feature) if ranked else None


def _sparse(beh: Behavior, feats: _Features, window: int, ranked: bool) -> tuple | None:
    """:func:`_dense`, with the running median only worked out where the bounds can hold.

    None when the bounds do not narrow the frames down (then :func:`_dense` is cheaper).
    """
    half = window // 2
    cand = _candidates(beh, feats, half, _release(beh) or 1.0)
    if cand is None:
        return None
    idx = np.flatnonzero(cand)
    if len(idx) > cand.size // 4:
        return None
    values = {f: median_at(feats.get(f), idx, window) for f in dict.fromkeys(beh.features)}

    def full(v, fill=False):
        out = np.full(cand.shape, fill, dtype=np.asarray(v).dtype)
        out.ravel()[idx] = v
        return out

    strict = full(_evaluate(beh, values.get, idx.shape)[0])
    loose = None if _release(beh) is None else full(_evaluate(beh, values.get, idx.shape, _release(beh))[0])
    rank = full(values[beh.conditions[0].feature], np.inf) if ranked else None
    return strict, loose, _known(beh, feats, half), rank


def _raw(beh: Behavior, feats: _Features, doc: RuleDocument, fps, lower: np.ndarray, ranked: bool) -> _Raw:
    """Evaluate one behaviour's conditions, strictly and (with hysteresis) relaxed."""
    median_w = _frames(beh, doc, fps)[0]
    got = _sparse(beh, feats, median_w, ranked) if median_w > 1 else None
    strict, loose, known, rank = got or _dense(beh, feats, median_w, ranked)
    strict &= known
    if loose is not None:
        loose &= known
    scorable = known if beh.missing == "unscorable" else np.ones_like(known)
    if beh.pairs == "mutual":
        strict &= lower[:, None]
        scorable = scorable & lower[:, None]
        loose = None if loose is None else loose & lower[:, None]
    return _Raw(strict, loose, scorable, rank)


def _vote(beh: Behavior, contact: np.ndarray, scorable: np.ndarray, doc: RuleDocument, fps) -> np.ndarray:
    """Contact limited to scorable frames, then the behaviour's majority window (if any)."""
    majority_w = _frames(beh, doc, fps)[1]
    contact = contact & scorable
    if majority_w > 1:
        contact = majority(contact, majority_w, edges=beh.smoothing.edges) & scorable
    return contact


def _exclusive(doc: RuleDocument, contact: dict, rev: np.ndarray) -> dict:
    """Drop frames claimed by a behaviour earlier in the priority list."""
    if doc.exclusivity != "exclusive":
        return contact
    mutual = {b.name: b.pairs == "mutual" for b in doc.behaviors}
    claimed = np.zeros_like(next(iter(contact.values())))
    out = dict(contact)
    for name in doc.priority:
        c = out[name] & ~claimed
        out[name] = c
        claimed |= (c | c[rev]) if mutual[name] else c
    return out


def _pick_closest(cand: dict, rank: dict) -> dict:
    """Per frame, only the candidate with the smallest rank (ties: the first listed) stays True."""
    best_d, best = None, None
    for k, name in enumerate(cand):
        d = np.where(cand[name], rank[name], np.inf)
        if best is None:
            best_d, best = d, np.where(cand[name], k, -1)
            continue
        closer = d < best_d
        best_d = np.where(closer, d, best_d)
        best[closer] = k
    return {name: best == k for k, name in enumerate(cand)}


class _Closest:
    """Policy ``closest``: ``priority`` behaviours first, then the ``closest`` group by distance.

    Strict frames are decided first (each priority behaviour takes its frames
    in turn, then of the group's behaviours that hold, the one with the
    smallest distance); hysteresis then extends each behaviour over adjacent
    frames where the same decision with its relaxed bounds gives it, never
    over a frame that another behaviour holds strictly.  A mutual behaviour
    claims a frame for both directions of the pair.
    """

    def __init__(self, doc: RuleDocument, raw: dict, rev: np.ndarray):
        self.raw, self.rev = raw, rev
        self.mutual = {b.name: b.pairs == "mutual" for b in doc.behaviors}
        self.items = [(n,) for n in doc.priority] + [tuple(doc.closest)]
        self.rank = {n: raw[n].rank for n in doc.closest}

    def _claims(self, name: str, c: np.ndarray) -> np.ndarray:
        return (c | c[self.rev]) if self.mutual[name] else c

    def _decide(self, masks: dict) -> dict:
        """Resolve one set of masks in priority order; the group by closest distance."""
        claimed = np.zeros_like(next(iter(masks.values())))
        out = {}
        for item in self.items:
            cand = {n: masks[n] & ~claimed for n in item}
            got = _pick_closest(cand, self.rank) if len(item) > 1 else cand
            for n, c in got.items():
                out[n] = c
                claimed |= self._claims(n, c)
        return out

    def _busy(self, strict: dict) -> dict:
        """Per behaviour, the frames that another behaviour holds strictly."""
        claims = {n: self._claims(n, c) for n, c in strict.items()}
        total = np.zeros_like(next(iter(strict.values())), dtype=np.int16)
        for c in claims.values():
            total += c
        busy = {n: (total - claims[n]) > 0 for n in strict}
        return {n: (b | b[self.rev]) if self.mutual[n] else b for n, b in busy.items()}

    def resolve(self) -> dict:
        """Final contact of every behaviour under the policy."""
        strict = self._decide({n: r.strict for n, r in self.raw.items()})
        busy = self._busy(strict)
        claimed = np.zeros_like(next(iter(strict.values())))
        out = {}
        for item in self.items:
            cand = {n: self._loose(n) & ~claimed for n in item}
            got = _pick_closest(cand, self.rank) if len(item) > 1 else cand
            for n in item:
                c = strict[n] & ~claimed
                if self.raw[n].loose is not None:
                    c = hysteresis(strict[n], got[n] & ~busy[n]) & ~claimed
                out[n] = c
            for n in item:
                claimed |= self._claims(n, out[n])
        return out

    def _loose(self, name: str) -> np.ndarray:
        r = self.raw[name]
        return r.strict if r.loose is None else r.loose


def _policy_contact(doc: RuleDocument, raw: dict, rev: np.ndarray) -> dict:
    """Per-frame contact of every behaviour after hysteresis and the exclusivity policy (before voting)."""
    joint = set(doc.priority) | set(doc.closest) if doc.exclusivity == "closest" else set()
    out = {n: r.strict if r.loose is None else hysteresis(r.strict, r.loose)
           for n, r in raw.items() if n not in joint}
    if joint:
        out.update(_Closest(doc, {n: raw[n] for n in raw if n in joint}, rev).resolve())
    return out


@dataclass(frozen=True)
class ScoredFrames:
    """Per-frame result of :func:`score_document`.

    Attributes
    ----------
    document : str
        Rule-set name.
    content_hash : str
        :meth:`RuleDocument.content_hash` of the rules used.
    individuals : tuple of str
    pairs : tuple of (int, int)
        ``(agent, target)`` individual indices of each row.
    behaviors : tuple of str
    mutual : dict of str to bool
    contact, scorable : dict of str to ndarray of bool, shape (pairs, time)
        ``contact`` implies ``scorable``.
    roles : dict
        ``role -> (kind, keypoint names)`` as resolved.
    fps : float or None
    frame_contact, frame_scorable : dict of str to ndarray of bool, shape (pairs, time), or None
        The per-frame decision *before* gaps are bridged and short bouts
        dropped (what the fixed scorer's ``ScoreResult.frames`` holds):
        ``frame_contact`` implies ``frame_scorable``.
    """

    document: str
    content_hash: str
    individuals: tuple
    pairs: tuple
    behaviors: tuple
    mutual: dict
    contact: dict
    scorable: dict
    roles: dict
    fps: float | None
    frame_contact: dict | None = field(default=None, repr=False)
    frame_scorable: dict | None = field(default=None, repr=False)

    def to_frame(self):
        """A per-frame DataFrame in DeepOF's naming: ``{agent}_{target}_{behaviour}``.

        Values are 1.0 (behaviour), 0.0 (not) and NaN (not scorable); a
        mutual behaviour has one column per unordered pair (agent first in
        the file).
        """
        import pandas as pd

        cols = {}
        for b in self.behaviors:
            for p, (a, t) in enumerate(self.pairs):
                if self.mutual[b] and a > t:
                    continue
                v = np.where(self.scorable[b][p], self.contact[b][p].astype(float), np.nan)
                cols[f"{self.individuals[a]}_{self.individuals[t]}_{b}"] = v
        return pd.DataFrame(cols)


def score_document(pose: PoseData, doc, *, roles: Mapping, mm_per_px: float | None = None,
                   fps: float | None = None) -> ScoredFrames:
    """Score every frame of every pair of a recording with a rule set.

    Parameters
    ----------
    pose : PoseData
    doc : RuleDocument, mapping, str or Path
        A rule set, or anything :func:`~pipeline.behavior.ruledoc.load_document` takes
        (e.g. the preset name ``"deepof-0.9"``).
    roles : mapping, keyword-only
        Role map for the pose's skeleton (see :func:`resolve_document_roles`).
    mm_per_px : float, optional, keyword-only
        mm per coordinate unit; required by ``units: mm``.
    fps : float, optional, keyword-only
        Frame rate; the pose's own rate wins when it has one.

    Returns
    -------
    ScoredFrames

    Raises
    ------
    InputError
        Bad document, role map, scale or frame rate.

    Examples
    --------
    >>> res = score_document(pose, "deepof-0.9", roles=roles, mm_per_px=1.0, fps=25)  # doctest: +SKIP
    >>> res.to_frame().filter(like="nose2tail").sum()                                # doctest: +SKIP
    """
    doc = load_document(doc)
    fps = pose.fps or fps
    resolved = resolve_document_roles(doc, roles, pose.keypoints)
    if pose.n_individuals < 2:
        raise InputError(doc.name, f"social rules need at least two individuals, the pose has {pose.individuals}")
    if doc.units == "mm" and not (mm_per_px and np.isfinite(mm_per_px) and mm_per_px > 0):
        raise InputError(doc.name, "units 'mm' need a positive mm_per_px (mm per coordinate unit)")
    pose, presence = preprocess_pose(pose, doc)
    scale = float(mm_per_px) if doc.units == "mm" else 1.0
    feats = _Features(_space_major(pose.positions, scale), resolved, doc, fps, doc.name)
    lower = feats.ai < feats.ti
    rev = np.array([feats.pairs.index((b, a)) for a, b in feats.pairs], dtype=np.intp)
    ranked = set(doc.closest)
    raw = {b.name: _raw(b, feats, doc, fps, lower, b.name in ranked) for b in doc.behaviors}
    contact = _policy_contact(doc, raw, rev)
    scorable = {n: r.scorable for n, r in raw.items()}
    contact = {b.name: _vote(b, contact[b.name], scorable[b.name], doc, fps) for b in doc.behaviors}
    frame_contact = _exclusive(doc, contact, rev)
    absent = _absent(doc, presence, feats)
    contact, frame_scorable = {}, {}
    for beh in doc.behaviors:
        _, _, gap, min_bout = _frames(beh, doc, fps)
        c = fill_gaps(frame_contact[beh.name], gap)
        s = scorable[beh.name] | c
        c = drop_short_runs(c, min_bout)
        if absent is not None:
            s = s & ~absent
            frame_contact[beh.name] = frame_contact[beh.name] & ~absent
        frame_scorable[beh.name] = scorable[beh.name] if absent is None else scorable[beh.name] & ~absent
        contact[beh.name], scorable[beh.name] = c & s, s
    names = {r: (kind, [pose.keypoints[i] for i in idx]) for r, (kind, idx) in resolved.items()}
    return ScoredFrames(document=doc.name, content_hash=doc.content_hash(), individuals=pose.individuals,
                        pairs=feats.pairs, behaviors=doc.behavior_names,
                        mutual={b.name: b.pairs == "mutual" for b in doc.behaviors},
                        contact=contact, scorable=scorable, roles=names, fps=fps,
                        frame_contact=frame_contact, frame_scorable=frame_scorable)


def _absent(doc: RuleDocument, presence: np.ndarray | None, feats: _Features) -> np.ndarray | None:
    """``(pairs, time)`` frames made unscorable by ``preprocessing.presence`` (None without it)."""
    if presence is None:
        return None
    absent = ~presence.T[feats.ai]
    if doc.presence.mask == "both":
        absent |= ~presence.T[feats.ti]
    return absent
