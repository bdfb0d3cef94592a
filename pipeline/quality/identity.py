"""Identity swaps: detect them, and fix them by frame-to-frame assignment.

Both work on a robust per-individual *centroid*: the median of the valid
keypoints of an individual in a frame (:func:`centroids`).  An individual's
*last known* position is carried across frames where it is missing.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..pose import PoseData
from .gate import _last_known, body_size, centroids, reject_implausible

SWAP_COLUMNS = ("frame", "individual_a", "individual_b", "confidence", "kind")
__all__ = ["SWAP_COLUMNS", "body_size", "centroids", "correct_identities", "detect_swaps", "reject_implausible"]


def detect_swaps(pose: PoseData, *, min_confidence: float = 0.5, min_gain: float | None = None,
                 spike_speed: float | None = None) -> pd.DataFrame:
    """Probable identity swaps and track fragments.

    Three kinds of rows (columns :data:`SWAP_COLUMNS`):

    ``"exchange"``
        Individuals a and b are both present at ``frame``, and assigning their
        centroids crosswise to their last known positions moves them less than
        keeping their identities.  ``confidence = 1 - crossed / kept`` (total
        movement); reported when ``>= min_confidence`` and the saving
        ``kept - crossed >= min_gain``.
    ``"velocity_spike"``
        a and b both move faster than ``spike_speed`` (per frame since last
        seen) at the same frame, without an exchange row for that pair and frame.
        ``confidence = 1 - spike_speed / slower speed``.
    ``"fragment"``
        A track starts (``individual_b``, at its first frame) or ends
        (``individual_a``, at the frame after its last) mid-recording.  For a
        start, ``individual_a`` is the nearest track that ended before it (the
        likely same animal, "" if none) and ``confidence = 1 / (1 + d / (s (g + 1)))``
        for distance ``d``, gap ``g`` frames and median step ``s``; an end
        that no start continues has ``individual_b = ""`` and confidence NaN.

    Parameters
    ----------
    pose : PoseData
    min_confidence : float
        Smallest exchange confidence reported.
    min_gain : float, optional
        Smallest movement saving of an exchange (default: 5 median centroid steps).
    spike_speed : float, optional
        Velocity-spike threshold per frame (default: the larger of 10 median
        steps and the 99.9th percentile of centroid steps).

    Returns
    -------
    DataFrame
        Sorted by frame.
    """
    c = centroids(pose)
    last, gap = _last_known(c)
    step = np.linalg.norm(c - last, axis=-1)                       # (time, individual)
    speed = step / np.maximum(gap, 1)
    valid_speed = speed[np.isfinite(speed)]
    med = float(np.median(valid_speed)) if valid_speed.size else 0.0
    min_gain = 5.0 * med if min_gain is None else float(min_gain)
    if spike_speed is None:
        spike_speed = max(10.0 * med, float(np.percentile(valid_speed, 99.9))) if valid_speed.size else np.inf
    names = pose.individuals
    frames_all = np.arange(pose.n_frames)
    rows = []
    for a in range(pose.n_individuals):
        for b in range(a + 1, pose.n_individuals):
            kept = step[:, a] + step[:, b]
            crossed = np.linalg.norm(c[:, a] - last[:, b], axis=-1) + np.linalg.norm(c[:, b] - last[:, a], axis=-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                conf = 1.0 - crossed / kept
            ex = np.isfinite(conf) & (conf >= min_confidence) & (kept - crossed >= min_gain)
            for t in frames_all[ex]:
                rows.append((int(t), names[a], names[b], float(conf[t]), "exchange"))
            sp = (speed[:, a] > spike_speed) & (speed[:, b] > spike_speed) & ~ex
            slow = np.minimum(speed[:, a], speed[:, b])
            for t in frames_all[sp]:
                rows.append((int(t), names[a], names[b], float(1.0 - spike_speed / slow[t]), "velocity_spike"))
    rows += _fragments(c, names, med)
    out = pd.DataFrame(rows, columns=list(SWAP_COLUMNS))
    return out.sort_values(["frame", "kind", "individual_a", "individual_b"], ignore_index=True)


def _fragments(c: np.ndarray, names, med_step: float) -> list[tuple]:
    n = c.shape[0]
    ok = ~np.isnan(c).any(-1)
    has = ok.any(0)
    first = np.where(has, ok.argmax(0), n)
    last = np.where(has, n - 1 - ok[::-1].argmax(0), -1)
    rows, continued = [], set()
    for b in np.argsort(first, kind="stable"):
        if not has[b] or first[b] == 0:
            continue
        ended = [a for a in range(len(names)) if has[a] and last[a] < first[b] and a not in continued]
        if not ended:
            rows.append((int(first[b]), "", names[b], np.nan, "fragment"))
            continue
        d = [np.linalg.norm(c[first[b], b] - c[last[a], a]) for a in ended]
        a = ended[int(np.argmin(d))]
        continued.add(a)
        g = first[b] - last[a] - 1
        rows.append((int(first[b]), names[a], names[b], float(1.0 / (1.0 + min(d) / (max(med_step, 1e-9) * (g + 1)))),
                     "fragment"))
    for a in range(len(names)):
        if has[a] and last[a] < n - 1 and a not in continued:
            rows.append((int(last[a] + 1), names[a], "", np.nan, "fragment"))
    return rows


def correct_identities(pose: PoseData, *, max_individuals: int | None = None, min_confidence: float = 0.5,
                       min_gain: float | None = None, max_jump: float | None = 1.0,
                       max_speed: float = 8.0) -> tuple[PoseData, dict]:
    """Stitch track fragments and undo swaps by frame-to-frame Hungarian assignment.

    Each identity carries its last known centroid across gaps.  Frame by
    frame, a track keeps the identity it had (tracker continuity) and a new
    track takes the free identity nearest to it (Hungarian,
    :func:`scipy.optimize.linear_sum_assignment`; identities never seen yet
    come last, so fragments are stitched onto known animals).  That
    assignment is replaced by the one that minimises the total movement from
    the identities' last known centroids when it is a clear exchange: it
    saves at least ``min_gain`` and ``1 - optimal / kept >= min_confidence``
    (the test of :func:`detect_swaps`), so jitter or a transiently bad
    detection does not flip identities, while a swap (which saves about twice
    the animals' separation) does.  Surplus tracks in a frame are dropped.
    Each identity is named after the input track that gives it most frames
    (best one-to-one match), else ``"identity<j>"``; named identities come
    first, in the input's order.

    Parameters
    ----------
    pose : PoseData
        Not modified.
    max_individuals : int, optional
        Number of identities (default: the most tracks present together in at
        least 10 % of the frames with any track, so rare spurious extra
        detections do not add identities).
    min_confidence, min_gain : float
        Exchange test; ``min_gain`` defaults to 5 median per-frame centroid steps.
    max_jump, max_speed : float
        After the assignment, :func:`reject_implausible` blanks detections an
        identity cannot have reached (``max_jump=None``: keep everything; also
        skipped when the skeleton gives no body size).

    Returns
    -------
    (PoseData, dict)
        The corrected pose and a report: ``n_input_tracks``, ``n_identities``,
        ``source_track`` (time, identity) input track index (-1 = none),
        ``switches`` (times an identity changes source track), ``exchanges``
        (frames where the movement-minimising assignment overrode continuity),
        ``frames_changed`` (frames where some identity is not its named track)
        and ``gate`` (the report of :func:`reject_implausible`, or None).
    """
    c = centroids(pose)
    present = ~np.isnan(c).any(-1)
    n_t = pose.n_frames
    m = _n_identities(present, max_individuals)
    if min_gain is None:
        min_gain = _default_min_gain(c)
    src, exchanges = _assign_identities(c, present, m, n_tracks=pose.n_individuals, min_gain=min_gain,
                                        min_confidence=min_confidence)
    src, named, names = _name_identities(src, pose.individuals)
    safe = np.maximum(src, 0)
    tt = np.arange(n_t)[:, None]
    positions = np.where((src >= 0)[..., None, None], pose.positions[tt, safe], np.nan)
    confidence = np.where((src >= 0)[..., None], pose.confidence[tt, safe], np.nan)
    out = dataclasses.replace(pose, positions=positions, confidence=confidence, individuals=tuple(names))
    valid = src >= 0
    switches = 0
    for j in range(m):
        s = src[valid[:, j], j]
        switches += int((s[1:] != s[:-1]).sum())
    report = {"n_input_tracks": pose.n_individuals, "n_identities": m, "source_track": src,
              "switches": switches, "exchanges": exchanges,
              "frames_changed": int((valid & (src != named)).any(1).sum()), "gate": None}
    if max_jump is not None and np.isfinite(body_size(out)):
        out, report["gate"] = reject_implausible(out, max_jump=max_jump, max_speed=max_speed)
    return out, report


def _n_identities(present: np.ndarray, max_individuals: int | None) -> int:
    """``max_individuals``, or by default the most tracks present together in >= 10 % of the frames with any."""
    if max_individuals is None:
        n_present = np.bincount(present.sum(1), minlength=2)[1:]
        common = np.flatnonzero(n_present[::-1].cumsum()[::-1] >= 0.1 * max(n_present.sum(), 1))
        m = int(common[-1] + 1) if len(common) else 1
    else:
        m = int(max_individuals)
    if m < 1:
        raise ValueError(f"max_individuals must be >= 1, got {m}")
    return m


def _default_min_gain(c: np.ndarray) -> float:
    """5 median per-frame centroid steps (steps across a gap divided by its length); 0 without any step."""
    last_c, gap = _last_known(c)
    steps = (np.linalg.norm(c - last_c, axis=-1) / np.maximum(gap, 1))
    steps = steps[np.isfinite(steps)]
    return 5.0 * float(np.median(steps)) if steps.size else 0.0


def _assign_identities(c: np.ndarray, present: np.ndarray, m: int, *, n_tracks: int, min_gain: float,
                       min_confidence: float) -> tuple[np.ndarray, int]:
    """Frame-by-frame assignment of tracks to ``m`` identities (see :func:`correct_identities`).

    Parameters
    ----------
    c : ndarray, shape (time, track, space)
        Track centroids.
    present : ndarray of bool, shape (time, track)
        Where a track has a centroid.
    m : int
        Number of identities.
    n_tracks : int
        Number of input tracks.
    min_gain, min_confidence : float
        The exchange test.

    Returns
    -------
    (ndarray, int)
        Source track per (time, identity), -1 = none; and the number of exchanges.
    """
    n_t = c.shape[0]
    finite = c[present]
    big = 10.0 * (float(np.ptp(finite, axis=0).max()) + 1.0) if finite.size else 1.0
    src = np.full((n_t, m), -1)
    identity_of = np.full(n_tracks, -1)     # track -> identity it had last
    last = np.full((m, c.shape[2]), np.nan)
    known = np.zeros(m, bool)
    exchanges = 0
    # Easy frames: same tracks as the frame before (all of them assigned) and too little movement
    # for any exchange to save min_gain -> the assignment simply carries on (no per-frame work).
    step_sum = np.nansum(np.linalg.norm(np.diff(c, axis=0), axis=-1), axis=1)
    easy = np.r_[False, (present[1:] == present[:-1]).all(1) & (present[1:].sum(1) <= m) & (step_sum < min_gain)]
    hard = np.flatnonzero(~easy)
    for h, t in enumerate(hard):
        if t and easy[t - 1]:
            src[hard[h - 1] + 1:t] = src[hard[h - 1]]
        if t:
            on = src[t - 1] >= 0
            last[on] = c[t - 1, src[t - 1, on]]
        tracks = np.flatnonzero(present[t])
        if not len(tracks):
            continue
        pts = c[t, tracks]
        cost = np.where(known, np.sqrt(((pts[:, None, :] - last[None]) ** 2).sum(-1)), big)
        cost[:, ~known] += np.arange((~known).sum())  # deterministic: fill new identities in order
        keep = _continued_assignment(cost, identity_of[tracks].copy())
        exchanged = _exchange_assignment(cost, keep, min_gain=min_gain, min_confidence=min_confidence)
        if exchanged is not None:
            keep = exchanged
            exchanges += 1
        ok = keep >= 0
        src[t, keep[ok]] = tracks[ok]
        identity_of[np.isin(identity_of, keep[ok])] = -1
        identity_of[tracks[ok]] = keep[ok]
        last[keep[ok]] = pts[ok]
        known[keep[ok]] = True
    if len(hard) and hard[-1] < n_t - 1:
        src[hard[-1] + 1:] = src[hard[-1]]
    return src, exchanges


def _continued_assignment(cost: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Identity per track in one frame: the one it had (``keep``, -1 = none; modified), first come first served;
    the other tracks take the nearest free identities (Hungarian on ``cost``, shape (track, identity))."""
    taken = np.zeros(cost.shape[1], bool)
    for n, j in enumerate(keep.tolist()):
        if j >= 0:
            if taken[j]:
                keep[n] = -1
            taken[j] = True
    new = np.flatnonzero(keep < 0)
    if len(new) and not taken.all():
        free = np.flatnonzero(~taken)
        r, j = _assignment(cost[np.ix_(new, free)])
        keep[new[r]] = free[j]
    return keep


def _exchange_assignment(cost: np.ndarray, keep: np.ndarray, *, min_gain: float,
                         min_confidence: float) -> np.ndarray | None:
    """The movement-minimising assignment when it is a clear exchange over ``keep``, else None."""
    ok = keep >= 0
    if not (len(keep) > 1 or not ok.all()):
        return None
    r, j = _assignment(cost)
    kept_cost = cost[ok, keep[ok]].sum()
    best_cost = cost[r, j].sum()
    if (len(r) == ok.sum() and (keep[r] != j).any() and kept_cost - best_cost >= min_gain
            and best_cost <= (1.0 - min_confidence) * kept_cost):
        best = np.full_like(keep, -1)
        best[r] = j
        return best
    return None


def _name_identities(src: np.ndarray, individuals) -> tuple[np.ndarray, np.ndarray, list]:
    """Name each identity after the input track giving it most frames (one-to-one), else ``identity<j>``.

    Returns ``src``, the named track per identity (-1 = none) and the names, reordered so that named
    identities come first, in the order of ``individuals``.
    """
    m = src.shape[1]
    counts = np.stack([(src == i).sum(0) for i in range(len(individuals))], axis=1)  # (identity, track)
    rows, cols = _assignment(-counts)
    names = [f"identity{j}" for j in range(m)]
    named = np.full(m, -1)
    for j, i in zip(rows, cols):
        if counts[j, i] > 0:
            names[j], named[j] = individuals[i], i
    for j in range(m):  # avoid clashes between generated and real names
        while names.count(names[j]) > 1:
            names[j] += "_"
    order = np.argsort(np.where(named >= 0, named, len(individuals) + np.arange(m)), kind="stable")
    return src[:, order], named[order], [names[j] for j in order]  # input's order first


def _assignment(cost: np.ndarray):
    """``scipy.optimize.linear_sum_assignment``, imported when first needed (scipy is slow to import)."""
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(cost)
