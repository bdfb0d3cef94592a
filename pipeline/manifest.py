"""Ingestion manifests: read, validate everything, then plan the rows.

A manifest (YAML, or a flat CSV with one row per pose-file or model-run track) lists
subjects, sessions with their animals, recordings and pose files. File
paths are relative to the manifest's folder (or absolute) and must lie
under a data root; they are planned relative to that root.

Validation reads every file, so that a plan that passes can be inserted
whole; the first problem raises one :class:`InputError` naming the
manifest entry (or file) and the problem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .io import FORMATS, read_pose
from .manifest_annotations import plan_annotations, plan_ethograms
from .manifest_checks import (
    check_cameras,
    check_frame_count,
    check_one_track_per_subject,
    describe_reading,
    frame_tolerance,
    read_options,
)
from .manifest_known import unchanged
from .manifest_load import read_manifest, utf8_path
from .manifest_rois import plan_rois
from .manifest_values import datetime, entries, mapping, positive, safe_id, subject_row, text
from .paths import to_relative
from .roles import check_role, describe_roles, skeleton_roles
from .video import probe_video

__all__ = ["Plan", "plan_manifest", "read_manifest", "safe_id"]
TRACKS = "{track_0: m01, track_1: m02}"


@dataclass
class Plan:
    """Rows to insert, per table, with paths relative to the data roots."""

    subjects: list[dict] = field(default_factory=list)
    sessions: list[dict] = field(default_factory=list)
    animals: list[dict] = field(default_factory=list)
    recordings: list[dict] = field(default_factory=list)
    skeletons: list[dict] = field(default_factory=list)
    tasks: list[dict] = field(default_factory=list)
    tracks: list[dict] = field(default_factory=list)
    inferences: list[dict] = field(default_factory=list)  # model runs (tasks in mode 'trigger')
    rigs: list[dict] = field(default_factory=list)         # camera rigs named by sessions
    session_rigs: list[dict] = field(default_factory=list)
    roles: list[dict] = field(default_factory=list)        # body-part roles of skeletons (SkeletonRole rows)
    warnings: list[str] = field(default_factory=list)      # printed by ingest; nothing stops
    readings: list[str] = field(default_factory=list)      # what reading each pose file decided, one line each
    ethograms: list[dict] = field(default_factory=list)    # annotation vocabularies (and their behaviours)
    ethogram_behaviors: list[dict] = field(default_factory=list)
    annotators: list[dict] = field(default_factory=list)
    annotation_sets: list[dict] = field(default_factory=list)  # annotation files, read and checked
    annotation_bouts: list[dict] = field(default_factory=list)
    vocabularies: dict = field(default_factory=dict)       # every ethogram by name: {behaviour: directed}
    roi_sets: list[dict] = field(default_factory=list)     # regions of interest (motion energy), content-hashed
    roi_parts: list[dict] = field(default_factory=list)
    recording_roi_sets: list[dict] = field(default_factory=list)
    motion_param_sets: list[dict] = field(default_factory=list)


def plan_manifest(data: dict, *, base: Path, roots: list[Path], source: str = "manifest",
                  known_subjects: dict | None = None, known_skeletons: dict | None = None,
                  known_models: dict | None = None, known_poses: dict | None = None,
                  known_ethograms: dict | None = None) -> Plan:
    """Validate a manifest completely and return the rows to insert.

    Parameters
    ----------
    data : dict
        The manifest structure (see :func:`read_manifest`).
    base : Path
        Folder that relative paths in the manifest start from.
    roots : list of Path
        Data roots; planned paths are relative to them.
    known_subjects, known_skeletons : dict
        Rows already in the database, by id (for sessions that reuse them).
    known_ethograms : dict
        Ethograms in the database: name -> {behaviour: directed}.
    known_models : dict
        Registered pose models by name (with their ``skeleton``): a pose
        entry ``{model: name, frames: [start, stop], max_tracks: n}`` runs
        one on the recording's video instead of loading a file.
    known_poses : dict
        (session, camera, pose_source) -> :func:`~pipeline.manifest_known.known_pose` of the pose rows in
        the database: a pose file unchanged since it was read is not read again.

    Notes
    -----
    A pose file entry may say ``zero_is_valid: true`` (points at exactly
    (0, 0) are real, not missing) and ``individual_prefixes:
    {B_: black, W_: white}`` or ``false`` (see :func:`pipeline.io.read_pose`).
    A pose file longer than its video is refused; one whose frame count
    differs from the video's by more than ``frame_count_tolerance`` frames
    (top level, default 0) gives a warning in ``Plan.warnings``, as do the
    cameras of one session whose lengths differ by more than that.
    Entries of the wrong kind, numbers that are not finite and > 0, and
    texts longer than their database column are refused.
    """
    plan = Plan()
    tolerance = frame_tolerance(data.get("frame_count_tolerance"), f"{source}: frame_count_tolerance")
    subjects = {**(known_subjects or {}), **_plan_subjects(plan, data, source)}
    skeletons = _plan_skeletons(plan, data, source, dict(known_skeletons or {}))
    plan.vocabularies = plan_ethograms(plan, data, source, known_ethograms or {})
    session_ids = set()
    for where, s in entries(data, "sessions", source, "session: s01, datetime: ..., animals: [...]", top=True):
        sid = _plan_session(plan, s, where, session_ids)
        in_session = _plan_animals(plan, s, where, sid, subjects)
        lengths = {}
        for rw, r in entries(s, "recordings", where, "camera: top, video: ..., pose: [...]"):
            camera, frames = _plan_recording(plan, r, rw, sid, in_session, base, roots, skeletons,
                                             known_models or {}, tolerance, known_poses or {})
            lengths[camera] = frames
        check_cameras(plan, lengths, where, tolerance)
    return plan


def _plan_subjects(plan, data, source) -> dict:
    """Subject rows of the manifest (the same subject twice must agree); returns them by id."""
    seen = {}
    for where, s in entries(data, "subjects", source, "subject: m01, sex: F, age_group: young", top=True):
        row = subject_row(s, where)
        other = seen.get(row["subject"])
        if other and other[0] != row:
            raise InputError(where, f"subject {row['subject']!r} listed twice with different attributes "
                                    f"(also at {other[1]}): {_diff(other[0], row)}")
        seen[row["subject"]] = (row, where)
    plan.subjects = [r for r, _ in seen.values()]
    return {k: r for k, (r, _) in seen.items()}


def _plan_skeletons(plan, data, source, skeletons: dict) -> dict:
    """Skeletons the manifest declares (with their roles); returns them with the known ones, by name."""
    for where, sk in entries(data, "skeletons", source, "skeleton: mouse6, keypoints: [...]", top=True):
        if not sk.get("skeleton") or not isinstance(sk.get("keypoints"), list) or not sk["keypoints"]:
            raise InputError(where, "a skeleton needs a name ('skeleton') and a list of keypoints")
        edges, keypoints = sk.get("edges") or [], {str(k) for k in sk["keypoints"]}
        bad = edges if not isinstance(edges, list) else \
            [e for e in edges if not (isinstance(e, list) and len(e) == 2 and {str(k) for k in e} <= keypoints)]
        if bad:
            raise InputError(where, f"edges {bad!r}: each edge must be a pair of body parts in its keypoints")
        row = {"skeleton": text(sk["skeleton"], where, "skeleton name", "skeleton"),
               "keypoints": [str(k) for k in sk["keypoints"]], "edges": [list(e) for e in edges]}
        row["roles"] = dict(skeletons.get(row["skeleton"], {}).get("roles") or {})
        skeletons[row["skeleton"]] = row
        plan.skeletons.append(row)
        _plan_roles(plan, row, sk.get("roles"), f"{where}.roles")
    return skeletons


def _plan_session(plan, s, where, session_ids: set) -> str:
    if not s.get("session"):
        raise InputError(where, "session id missing")
    sid = safe_id(s["session"], where, "session id", "session")
    if sid in session_ids:
        raise InputError(where, f"session {sid!r} listed twice")
    session_ids.add(sid)
    plan.sessions.append({
        "session": sid, "session_datetime": datetime(s.get("datetime"), f"{where}.datetime"),
        "experimenter": text(s.get("experimenter") or "", where, "experimenter", "experimenter"),
        "arena": text(s.get("arena") or "", where, "arena", "arena"),
        "session_notes": text(s.get("notes") or "", where, "notes", "session_notes")})
    if s.get("rig"):
        rig = text(s["rig"], f"{where}.rig", "rig name", "rig")
        if {"rig": rig} not in plan.rigs:
            plan.rigs.append({"rig": rig})
        plan.session_rigs.append({"session": sid, "rig": rig})
    return sid


def _plan_animals(plan, s, where, sid, subjects) -> set:
    """The session's animals; a subject listed twice (two roles) is an error. Returns their ids."""
    animals = entries(s, "animals", where, "subject: m01, role: resident")
    if not animals:
        raise InputError(where, "a session needs at least one animal")
    in_session = {}
    for aw, a in animals:
        subj = str(a.get("subject") or "")
        if subj not in subjects:
            raise InputError(aw, f"subject {subj!r} is neither in the manifest nor in the database")
        if subj in in_session:
            raise InputError(aw, f"subject {subj!r} is listed twice in session {sid!r} (also at "
                                 f"{in_session[subj]}); an animal takes part once, with one role")
        in_session[subj] = aw
        age = a.get("age_group")
        plan.animals.append({"session": sid, "subject": subj, "role": text(a.get("role") or "", aw, "role", "role"),
                             "session_age_group": None if age is None else text(age, aw, "age_group", "age_group")})
    return set(in_session)


def _plan_recording(plan, r, where, sid, in_session, base, roots, skeletons, models, tolerance, known_poses):
    """One camera's recording and its pose entries; returns (camera, frames: the video's, else the pose files')."""
    if not r.get("camera"):
        raise InputError(where, "camera name missing")
    row = {"session": sid, "camera": safe_id(r["camera"], where, "camera", "camera"), "video_path": "",
           "declared_fps": None, "mm_per_px": None, "scale_source": "none"}
    fps, video_frames, size = _video(row, r, where, base, roots)
    row.update(declared_fps=fps, **_scale(r, where))
    plan.recordings.append(row)
    frames = video_frames
    for pw, p in entries(r, "pose", where, "source: sleap, file: pose/s01.h5, tracks: {...}"):
        if p.get("model"):
            _plan_inference(plan, p, pw, row, in_session, models)
            continue
        pose = _plan_pose(plan, p, pw, row, in_session, base, roots, skeletons, fps, known_poses)
        check_frame_count(plan, pose, video_frames, tolerance, pw, row["video_path"])
        if video_frames is None:
            frames = max(frames or 0, pose.frame_offset + pose.n_frames)
    plan_annotations(plan, r, where, row, in_session, base=base, roots=roots, fps=fps, n_frames=frames)
    plan_rois(plan, r, where, row, base=base, roots=roots, size=size)
    return row["camera"], frames


def _video(row, r, where, base, roots) -> tuple[float, int | None, tuple[int, int] | None]:
    """(fps, frame count or None, (width, height) or None) of a recording entry; sets ``row["video_path"]``."""
    fps = positive(r.get("fps"), f"{where}.fps") if r.get("fps") not in (None, "") else None
    if not r.get("video"):
        if fps is None:
            raise InputError(where, "fps missing: give the video file or its frame rate (fps > 0)")
        return fps, None, None
    video = _path(r["video"], base)
    info = probe_video(video)
    row["video_path"] = text(to_relative(video, roots), where, "video path", "video_path")
    if fps is not None and abs(fps - info.fps) > 1e-3:
        raise InputError(where, f"fps {fps} disagrees with the video's {info.fps}")
    return info.fps, info.n_frames, (info.width, info.height)


def _scale(r, where) -> dict:
    """mm_per_px and scale_source of a recording entry (given, or from the arena's diameter)."""
    if r.get("mm_per_px") not in (None, ""):
        return {"mm_per_px": positive(r["mm_per_px"], f"{where}.mm_per_px"), "scale_source": "given"}
    if r.get("arena"):
        arena = mapping(r["arena"], f"{where}.arena", "arena", "{diameter_mm: 400, diameter_px: 800}")
        mm = positive(arena.get("diameter_mm"), f"{where}.arena.diameter_mm")
        px = positive(arena.get("diameter_px"), f"{where}.arena.diameter_px")
        return {"mm_per_px": mm / px, "scale_source": "arena"}
    return {}


def _plan_inference(plan, p, where, rec, in_session, models):
    """A pose entry that runs a registered model on the recording's video (a worker does it later)."""
    name = text(p["model"], where, "pose model", "pose_model")
    if name not in models:
        raise InputError(where, f"pose model {name!r} is not registered (known: {sorted(models) or 'none'}); "
                                "add it with models.PoseModel.import_model or PoseModel.from_training")
    if not rec["video_path"]:
        raise InputError(where, f"pose model {name!r} needs the recording's video file")
    frames = _frames(p.get("frames") or [0, None], where)
    tracks = _tracks(p, where)
    outside = sorted(set(tracks.values()) - in_session)
    if outside:
        raise InputError(where, f"tracks are mapped to {outside}, who are not in session {rec['session']!r}")
    source = safe_id(p.get("source") or name[:32], where, "pose source", "pose_source")
    key = {"session": rec["session"], "camera": rec["camera"], "pose_source": source}
    plan.tasks.append(dict(key, skeleton=models[name]["skeleton"], task_mode="trigger", pose_path="",
                           pose_format=""))
    plan.tracks.extend(dict(key, track=t, subject=s) for t, s in tracks.items())
    plan.inferences.append(dict(key, pose_model=name, frame_start=frames[0], frame_stop=frames[1],
                                max_tracks=None if p.get("max_tracks") is None else _whole(p["max_tracks"], where)))


def _frames(frames, where) -> list:
    """``[start, stop)`` of a model run (stop None = to the end), as whole numbers."""
    if not isinstance(frames, list) or len(frames) != 2:
        raise InputError(where, f"frames must be [start, stop) with 0 <= start < stop, got {frames!r}")
    start, stop = _whole(frames[0], where), None if frames[1] is None else _whole(frames[1], where)
    if start < 0 or (stop is not None and stop <= start):
        raise InputError(where, f"frames must be [start, stop) with 0 <= start < stop, got {frames!r}")
    return [start, stop]


def _whole(value, where) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().lstrip("-").isdigit():
        raise InputError(where, f"{value!r} is not a whole number")
    return int(value)


def _tracks(p, where) -> dict:
    """The entry's track -> subject mapping (track names checked against the database column)."""
    tracks = mapping(p.get("tracks"), f"{where}.tracks", "tracks", TRACKS)
    return {text(t, f"{where}.tracks", "track name", "track"): str(s) for t, s in tracks.items()}


def _plan_pose(plan, p, where, rec, in_session, base, roots, skeletons, fps, known_poses):
    if not p.get("file"):
        raise InputError(where, "pose file missing")
    path = _path(p["file"], base)
    relative = text(to_relative(path, roots), where, "pose file path", "pose_path")
    options = read_options(p, where)
    fmt = str(p.get("format") or "")
    if fmt and fmt not in FORMATS:
        raise InputError(f"{where}.format", f"format {fmt!r} is not one of {FORMATS}")
    source = safe_id(p.get("source") or "pose", where, "pose source", "pose_source")
    pose = unchanged(known_poses.get((rec["session"], rec["camera"], source)), path, relative, options)
    if pose is None:
        pose = read_pose(path, fmt=fmt or None, fps=fps, **options)
        plan.readings.append(f"{relative}: {describe_reading(pose)}")
    else:
        plan.readings.append(f"{relative}: unchanged since it was read (size and time as recorded): "
                             f"{describe_reading(pose)}")
    name = text(p.get("skeleton") or "", f"{where}.skeleton", "skeleton name", "skeleton")
    if name in skeletons:
        keypoints = skeletons[name]["keypoints"]
        unknown = [k for k in pose.keypoints if k not in keypoints]
        if unknown:
            raise InputError(path, f"body part(s) {unknown} not in skeleton {name!r} {keypoints}")
    else:
        name = name or f"{path.stem[:24]}"
        skeletons[name] = {"skeleton": name, "keypoints": list(pose.keypoints),
                           "edges": [list(e) for e in pose.edges], "roles": {}}
        plan.skeletons.append(skeletons[name])
    _plan_roles(plan, skeletons[name], p.get("roles"), f"{where}.roles (skeleton {name!r} of {path.name})")
    tracks = _tracks(p, where)
    if not tracks and len(pose.individuals) == 1 and len(in_session) == 1:
        tracks = {pose.individuals[0]: next(iter(in_session))}
    for track, subj in tracks.items():
        if track not in pose.individuals:
            raise InputError(where, f"track {track!r} is not in {path.name} (its tracks: {list(pose.individuals)})")
        if subj not in in_session:
            raise InputError(where, f"track {track!r} is mapped to subject {subj!r}, who is not in session "
                                    f"{rec['session']!r} (animals: {sorted(in_session)})")
    check_one_track_per_subject(tracks, where, path)
    key = {"session": rec["session"], "camera": rec["camera"], "pose_source": source}
    plan.tasks.append(dict(key, skeleton=name, task_mode="load", pose_path=relative, pose_format=fmt,
                           read_options=options))
    plan.tracks.extend(dict(key, track=t, subject=s) for t, s in tracks.items())
    return pose


def _plan_roles(plan, skeleton: dict, given, where: str) -> None:
    """Body-part roles of a skeleton: the given ones, then those its names resolve unambiguously.

    Roles the skeleton already has (in the database, or earlier in the
    manifest) stay; giving one of them another value is an error. An
    ambiguous standard role that nobody gave stops ingest (see
    :func:`pipeline.roles.skeleton_roles`).
    """
    if given is not None and not isinstance(given, dict):
        raise InputError(where, f"roles must be a mapping role -> keypoint(s), got {given!r}")
    have = skeleton.setdefault("roles", {})
    for role, spec in (given or {}).items():
        spec = check_role(role, spec, skeleton["keypoints"], source=where)
        if role in have and have[role] != spec:
            raise InputError(where, f"skeleton {skeleton['skeleton']!r} already has role {role!r} = "
                                    f"{have[role]!r}; the manifest says {spec!r}")
    roles = skeleton_roles(skeleton["keypoints"], {**have, **(given or {})}, source=where)
    new = {r: v for r, v in roles.items() if r not in have}
    given_names = set(given or {})
    plan.roles.extend({"skeleton": skeleton["skeleton"], "role": r, "spec": v["spec"],
                       "resolved": "given" if r in given_names else v["resolved"]} for r, v in new.items())
    have.update({r: v["spec"] for r, v in new.items()})
    if new:
        plan.readings.append(f"skeleton {skeleton['skeleton']!r} roles: " + describe_roles(
            {r: dict(v, resolved="given" if r in given_names else v["resolved"]) for r, v in new.items()}))


def _diff(a: dict, b: dict) -> str:
    return ", ".join(f"{k} {a[k]!r} vs {b[k]!r}" for k in a if a[k] != b.get(k))


def _path(value, base: Path) -> Path:
    path = Path(str(value)).expanduser()
    path = Path(os.path.normpath(path if path.is_absolute() else Path(base).absolute() / path))
    utf8_path(path, "the file's")
    if not path.exists():
        raise InputError(path, "file not found")
    return path
