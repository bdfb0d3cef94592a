"""One scored recording as table rows: roles for the scorer, the fixed or document scorer, bouts and summaries.

Pure computation for :class:`schemas.behavior.SocialBouts` (and its 3D
twin): plain dictionaries in, plain rows out, no database.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .. import provenance
from ..errors import InputError, NotScorableError
from ..pose import PoseData
from . import RuleSet, find_bouts, score_session, summarise_bouts
from .roles import ROLES as FIXED_ROLES
from .roles import resolve_roles

KINDS = ("fixed", "document")  # how a rule set's params read: RuleSet parameters, or a rule document


def _role_arg(role: str, spec) -> str | None:
    """One ``ROLE=...`` argument of ``ethojoint skeleton roles`` (None: not expressible there)."""
    if isinstance(spec, str):
        return f"{role}={spec}"
    if isinstance(spec, (list, tuple)) and all(isinstance(k, str) for k in spec):
        return f"{role}={','.join(spec)}"
    if isinstance(spec, Mapping) and list(spec) == ["centroid"]:
        return f"{role}={'+'.join(spec['centroid'])}"
    return None


def _how_to_set(skeleton, missing, suggested: Mapping | None = None) -> str:
    """The command that sets the missing roles (with suggested values where known)."""
    args = [(_role_arg(r, suggested[r]) if suggested and r in suggested else None) or f"{r}=<keypoint>"
            for r in missing]
    return f"set them with `ethojoint skeleton roles {skeleton} {' '.join(args)}`"


def fixed_role_map(skeleton_roles: Mapping, legacy: Mapping | None, *, source: str, skeleton) -> dict:
    """The fixed scorer's ``role_map`` from a skeleton's roles, overridden by a rule set's legacy ``role_map``.

    A keypoint name stays; a one-element list or centroid becomes that
    keypoint; ``{"centroid": [a, b]}`` for ``neck`` becomes
    ``("midpoint", a, b)``; roles the fixed scorer does not know are dropped.

    Raises
    ------
    NotScorableError
        A role of the fixed scorer mapped to a form it cannot use.
    """
    out, legacy = {}, dict(legacy or {})
    for role, spec in (skeleton_roles or {}).items():
        if role not in FIXED_ROLES or role in legacy:
            continue
        points = spec
        if isinstance(spec, Mapping) and len(spec) == 1:
            (kind, points), = spec.items()
            if kind == "centroid" and role == "neck" and isinstance(points, (list, tuple)) and len(points) == 2:
                out[role] = ("midpoint", str(points[0]), str(points[1]))
                continue
        if isinstance(points, (list, tuple)) and len(points) == 1:
            points = points[0]
        if not isinstance(points, str):
            raise NotScorableError(source, f"skeleton {skeleton!r} maps role {role!r} to {spec!r}, which the fixed "
                                           "rule set cannot use (it needs one keypoint, or for neck a centroid of "
                                           f"two); {_how_to_set(skeleton, [role])}")
        out[role] = points
    for role, spec in legacy.items():
        out[role] = tuple(spec) if isinstance(spec, list) else spec
    return out


def _fixed_roles(data: PoseData, params, skeleton, roles, source) -> dict:
    merged = fixed_role_map(roles, params.get("role_map"), source=source, skeleton=skeleton)
    try:
        return resolve_roles(data.keypoints, merged, source=source)
    except InputError as err:
        missing = [r for r in ("nose", "neck", "tail_base") if r not in merged]
        raise NotScorableError(source, f"{err.problem}. The fixed rule set needs "
                                       f"roles nose, neck (or left_ear and right_ear) and tail_base; skeleton "
                                       f"{skeleton!r} sets {sorted(roles or {})}; "
                                       f"{_how_to_set(skeleton, missing or ['nose'])}") from None


def _document_hint(doc, keypoints, skeleton, missing) -> str:
    """How to set the missing roles, with the document's ``known_skeletons`` map when one fits the keypoints."""
    known = doc.to_dict().get("known_skeletons") or {}

    def names(spec):
        if isinstance(spec, Mapping):
            spec = next(iter(spec.values()))
        return [spec] if isinstance(spec, str) else list(spec)

    fits = [s for s, m in known.items() if all(r in m for r in missing)
            and all(k in keypoints for r in missing for k in names(m[r]))]
    if fits:
        return (_how_to_set(skeleton, missing, known[fits[0]])
                + f" (rule set {doc.name!r} suggests these for its known skeleton {fits[0]!r})")
    hint = f"; rule set {doc.name!r} knows the role maps of skeleton(s) {sorted(known)}" if known else ""
    return _how_to_set(skeleton, missing) + hint


def _document_scores(data: PoseData, doc, roles, mm_per_px, windows, skeleton, source):
    """Bouts and summaries (as ScoreResult's tables) of a rule document; roles as resolved."""
    from pipeline.behavior.ruleengine import score_document

    missing = [r for r in doc.used_roles if r not in (roles or {})]
    if missing:
        raise NotScorableError(source, f"rule set {doc.name!r} needs role(s) {missing} that skeleton {skeleton!r} "
                                       f"does not define (its roles: {sorted(roles or {})}; its keypoints: "
                                       f"{list(data.keypoints)}); "
                                       + _document_hint(doc, list(data.keypoints), skeleton, missing))
    res = score_document(data, doc, roles=roles, mm_per_px=mm_per_px, fps=data.fps)
    fps = float(res.fps)
    agents = np.array([res.individuals[a] for a, _ in res.pairs], dtype=object)
    targets = np.array([res.individuals[b] for _, b in res.pairs], dtype=object)
    lower = np.array([a < b for a, b in res.pairs])
    tables, summaries = [], []
    for beh in res.behaviors:
        contact, ok = res.contact[beh], res.scorable[beh]
        # the engine has already bridged gaps and dropped short runs: bouts are its runs of contact
        b = find_bouts(contact, ok, fps=fps, min_bout_s=0.0, max_gap_s=0.0)
        p, start, end = (b[c].to_numpy() for c in ("pair", "start_frame", "end_frame"))
        tables.append(pd.DataFrame({"behavior": beh, "agent": agents[p], "target": targets[p], "start_frame": start,
                                    "end_frame": end, "start_s": start / fps, "duration_s": (end - start) / fps,
                                    "mean_distance": np.full(len(p), np.nan)}))
        s = summarise_bouts(b, fps=fps, n_frames=data.n_frames, scorable=ok, windows=windows)
        sp = s["pair"].to_numpy()
        s.insert(0, "behavior", beh)
        s.insert(1, "agent", agents[sp])
        s.insert(2, "target", targets[sp])
        s.insert(3, "mutual", bool(res.mutual[beh]))
        summaries.append(s[lower[sp]] if res.mutual[beh] else s)
    bouts = pd.concat(tables, ignore_index=True).astype({"start_frame": np.int64, "end_frame": np.int64})
    summary = pd.concat(summaries, ignore_index=True).drop(columns="pair")
    resolved = {r: ((names[0] if len(names) == 1 else list(names)) if kind == "set" else {kind: list(names)})
                for r, (kind, names) in res.roles.items()}  # in SkeletonRole's spec form
    return bouts, summary, doc.units, resolved


def score_recording(row, positions, confidence, tracks, mm_per_px, params, *, kind: str = "fixed",
                    skeleton: str | None = None, roles: Mapping | None = None, rule_set_name: str = "") -> dict:
    """Score the subject-mapped tracks of one pose row; plain rows to insert (no database access).

    Parameters
    ----------
    row : dict
        The pose row's attributes (``session, camera, pose_source,
        keypoints, fps, n_frames, frame_offset, space_units``).
    positions, confidence : ndarray
        Its arrays (time, individual, keypoint[, space]).
    tracks : list of dict
        ``individual_index, subject`` of the tracks mapped to subjects, in order.
    mm_per_px : float or None
    params : dict
        The rule set's ``params``.
    kind : {"fixed", "document"}, keyword-only
    skeleton : str, keyword-only
        Named in messages.
    roles : mapping, keyword-only
        The skeleton's roles (role -> keypoint, list, centroid, median).
    rule_set_name : str, keyword-only

    Returns
    -------
    dict
        ``units, bouts, summary, bins`` (rows) and ``roles`` (role -> keypoint(s) used).

    Raises
    ------
    NotScorableError
        Fewer than two tracks mapped to subjects, or a role the rules need is missing.
    InputError
        Any other problem (e.g. mm rules without a scale).
    """
    source = f"PoseEstimation {row['session']}/{row['camera']}/{row['pose_source']}"
    if len(tracks) < 2:
        mapped = [t.get("track", t["subject"]) + " -> " + t["subject"] for t in tracks]
        raise NotScorableError(source, f"needs ≥ 2 tracks mapped to subjects for social scoring, has {len(tracks)} "
                                       f"({mapped or 'none'}); map the tracks in the manifest's pose 'tracks'")
    index = [t["individual_index"] for t in tracks]
    data = PoseData(positions[:, index], confidence[:, index], individuals=[t["subject"] for t in tracks],
                    keypoints=row["keypoints"], fps=row["fps"])
    scale = 1.0 if row["space_units"] == "mm" and data.n_space == 3 else mm_per_px
    n_bins, bin_s = int(params["n_bins"]), float(params["bin_s"])
    windows = {"all": (0.0, None), **{k: (k * bin_s, (k + 1) * bin_s) for k in range(n_bins)}}
    if kind == "document":
        from pipeline.behavior.ruledoc import parse_document

        doc = parse_document(params["document"], source=rule_set_name or "rule set")
        bouts, summary, units, used = _document_scores(data, doc, roles, scale, windows, skeleton, source)
    elif kind == "fixed":
        rules = RuleSet.from_dict(params["rules"])
        role_map = _fixed_roles(data, params, skeleton, roles, source)
        result = score_session(data, rules, mm_per_px=scale if data.n_space == 2 else None, role_map=role_map,
                               windows=windows, source=source)
        bouts, summary, units = result.bouts, result.summary, result.units
        used = {r: (list(v[1:]) if isinstance(v, tuple) else v) for r, v in result.roles.items()}
        used = {r: ({"centroid": v} if isinstance(v, list) else v) for r, v in used.items()}
    else:
        raise InputError(f"rule set {rule_set_name!r}", f"unknown kind {kind!r}; known: {list(KINDS)}")
    return dict(_rows(row, bouts, summary), units=units, roles=used)


def _rows(row, bouts: pd.DataFrame, summary: pd.DataFrame) -> dict:
    """Bout, Summary and TimeBin rows in video frames (bins and latencies from the covered start)."""
    offset = int(row.get("frame_offset") or 0)
    table = bouts.assign(start_frame=bouts["start_frame"] + offset, end_frame=bouts["end_frame"] + offset,
                         start_s=(bouts["start_frame"] + offset) / float(row["fps"]))
    out_bouts = [provenance.jsonable(b) for b in table.to_dict("records")]
    out_summary, bins = [], []
    for s in summary.to_dict("records"):
        s = provenance.jsonable(s)
        window = s.pop("window")
        base = {k: s[k] for k in ("behavior", "agent", "target")}
        base.update(covered_s=s["window_end_s"] - s["window_start_s"], scorable_fraction=s["scorable_fraction"],
                    bout_count=s["bout_count"], total_duration_s=s["total_duration_s"], latency_s=s["latency_s"])
        if window == "all":
            out_summary.append(dict(base, mutual=bool(s["mutual"]), mean_bout_s=s["mean_bout_s"],
                                    median_bout_s=s["median_bout_s"], frames_in_contact=s["frames_in_contact"]))
        else:
            bins.append(dict(base, time_bin=int(window), bin_start_s=s["window_start_s"],
                             bin_end_s=s["window_end_s"]))
    return {"bouts": out_bouts, "summary": out_summary, "bins": bins}
