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

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..pose import PoseData
from .docfeatures import _Features
from .docpolicy import _exclusive, _policy_contact
from .docprep import deepof_outliers, deepof_savgol, interpolate_limited, preprocess_pose
from .docroles import _space_major, document_roles, resolve_document_roles
from .primitives import (
    drop_short_runs,
    fill_gaps,
    majority,
)
from .ruledoc import Behavior, Feature, RuleDocument, load_document
from .smoothing import dilate, median_at

__all__ = ["ScoredFrames", "deepof_outliers", "deepof_savgol", "document_roles", "interpolate_limited",
           "preprocess_pose", "resolve_document_roles", "score_document"]



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
