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

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import InputError
from .io import read_pose
from .manifest_checks import (
    check_frame_count,
    check_one_track_per_subject,
    describe_reading,
    frame_tolerance,
    read_options,
)
from .manifest_csv import from_csv
from .paths import to_relative
from .roles import check_role, describe_roles, skeleton_roles
from .video import probe_video

SEXES = ("F", "M", "U")
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}")  # ids reach output paths: no '/', no '..'


def safe_id(value, where: str, what: str) -> str:
    """An id (session, subject, camera, pose source) made of letters, digits, ``_ . -``; no ``..``.

    Raises
    ------
    InputError
        Naming the manifest entry, the id and the allowed characters.

    Examples
    --------
    >>> safe_id("s01", "m.yaml", "session")
    's01'
    """
    text = str(value or "")
    if not SAFE_ID.fullmatch(text) or ".." in text:
        raise InputError(where, f"{what} {text!r}: use 1-32 letters, digits, '_', '.', '-' "
                                "(starting with a letter or digit, no '..')")
    return text


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


def read_manifest(path: str | Path) -> dict:
    """Load a YAML or CSV manifest into the YAML structure."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "manifest not found")
    if path.suffix.lower() == ".csv":
        return from_csv(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise InputError(path, f"not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise InputError(path, "a manifest must be a mapping with subjects/sessions")
    return data


def plan_manifest(data: dict, *, base: Path, roots: list[Path], source: str = "manifest",
                  known_subjects: dict | None = None, known_skeletons: dict | None = None,
                  known_models: dict | None = None) -> Plan:
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
    known_models : dict
        Registered pose models by name (with their ``skeleton``): a pose
        entry ``{model: name, frames: [start, stop], max_tracks: n}`` runs
        one on the recording's video instead of loading a file.

    Notes
    -----
    A pose file entry may say ``zero_is_valid: true`` (points at exactly
    (0, 0) are real, not missing) and ``individual_prefixes:
    {B_: black, W_: white}`` or ``false`` (see :func:`pipeline.io.read_pose`).
    A pose file longer than its video is refused; one whose frame count
    differs from the video's by more than ``frame_count_tolerance`` frames
    (top level, default 0) gives a warning in ``Plan.warnings``.
    """
    plan = Plan()
    tolerance = frame_tolerance(data.get("frame_count_tolerance"), f"{source}: frame_count_tolerance")
    subjects = {**(known_subjects or {}), **_plan_subjects(plan, data, source)}
    skeletons = _plan_skeletons(plan, data, source, dict(known_skeletons or {}))
    session_ids = set()
    for i, s in enumerate(data.get("sessions") or []):
        where = f"{source}: sessions[{i}]"
        sid = _plan_session(plan, s, where, session_ids)
        in_session = _plan_animals(plan, s, where, sid, subjects)
        for j, r in enumerate(s.get("recordings") or []):
            _plan_recording(plan, r, f"{where}.recordings[{j}]", sid, in_session, base, roots, skeletons,
                            known_models or {}, tolerance)
    return plan


def _plan_subjects(plan, data, source) -> dict:
    """Subject rows of the manifest (the same subject twice must agree); returns them by id."""
    seen = {}
    for i, s in enumerate(data.get("subjects") or []):
        where = f"{source}: subjects[{i}]"
        row = _subject_row(s, where)
        other = seen.get(row["subject"])
        if other and other[0] != row:
            raise InputError(where, f"subject {row['subject']!r} listed twice with different attributes "
                                    f"(also at {other[1]}): {_diff(other[0], row)}")
        seen[row["subject"]] = (row, where)
    plan.subjects = [r for r, _ in seen.values()]
    return {k: r for k, (r, _) in seen.items()}


def _plan_skeletons(plan, data, source, skeletons: dict) -> dict:
    """Skeletons the manifest declares (with their roles); returns them with the known ones, by name."""
    for i, sk in enumerate(data.get("skeletons") or []):
        where = f"{source}: skeletons[{i}]"
        if not sk.get("skeleton") or not isinstance(sk.get("keypoints"), list) or not sk["keypoints"]:
            raise InputError(where, "a skeleton needs a name ('skeleton') and a list of keypoints")
        edges = [list(e) for e in sk.get("edges") or []]
        bad = [e for e in edges if len(e) != 2 or not set(e) <= set(sk["keypoints"])]
        if bad:
            raise InputError(where, f"edges {bad} name body parts not in its keypoints")
        row = {"skeleton": str(sk["skeleton"]), "keypoints": [str(k) for k in sk["keypoints"]], "edges": edges}
        row["roles"] = dict(skeletons.get(row["skeleton"], {}).get("roles") or {})
        skeletons[row["skeleton"]] = row
        plan.skeletons.append(row)
        _plan_roles(plan, row, sk.get("roles"), f"{where}.roles")
    return skeletons


def _plan_session(plan, s, where, session_ids: set) -> str:
    if not s.get("session"):
        raise InputError(where, "session id missing")
    sid = safe_id(s["session"], where, "session id")
    if sid in session_ids:
        raise InputError(where, f"session {sid!r} listed twice")
    session_ids.add(sid)
    plan.sessions.append({
        "session": sid, "session_datetime": _datetime(s.get("datetime"), f"{where}.datetime"),
        "experimenter": str(s.get("experimenter") or ""), "arena": str(s.get("arena") or ""),
        "session_notes": str(s.get("notes") or "")})
    if s.get("rig"):
        rig = str(s["rig"])
        if len(rig) > 32:
            raise InputError(f"{where}.rig", f"rig name {rig!r} is longer than 32 characters")
        if {"rig": rig} not in plan.rigs:
            plan.rigs.append({"rig": rig})
        plan.session_rigs.append({"session": sid, "rig": rig})
    return sid


def _plan_animals(plan, s, where, sid, subjects) -> set:
    """The session's animals; a subject listed twice (two roles) is an error. Returns their ids."""
    animals = s.get("animals") or []
    if not animals:
        raise InputError(where, "a session needs at least one animal")
    in_session = {}
    for j, a in enumerate(animals):
        aw = f"{where}.animals[{j}]"
        subj = str(a.get("subject") or "")
        if subj not in subjects:
            raise InputError(aw, f"subject {subj!r} is neither in the manifest nor in the database")
        if subj in in_session:
            raise InputError(aw, f"subject {subj!r} is listed twice in session {sid!r} (also at "
                                 f"{in_session[subj]}); an animal takes part once, with one role")
        in_session[subj] = aw
        plan.animals.append({"session": sid, "subject": subj, "role": str(a.get("role") or ""),
                             "session_age_group": a.get("age_group")})
    return set(in_session)


def _plan_recording(plan, r, where, sid, in_session, base, roots, skeletons, models, tolerance):
    if not r.get("camera"):
        raise InputError(where, "camera name missing")
    camera = safe_id(r["camera"], where, "camera")
    row = {"session": sid, "camera": camera, "video_path": "", "declared_fps": None,
           "mm_per_px": None, "scale_source": "none"}
    fps = _positive(r.get("fps"), f"{where}.fps") if r.get("fps") not in (None, "") else None
    if r.get("video"):
        video = _path(r["video"], base)
        info = probe_video(video)
        row["video_path"] = to_relative(video, roots)
        if fps is not None and abs(fps - info.fps) > 1e-3:
            raise InputError(where, f"fps {fps} disagrees with the video's {info.fps}")
        fps = info.fps
    elif fps is None:
        raise InputError(where, "fps missing: give the video file or its frame rate (fps > 0)")
    row["declared_fps"] = fps
    video_frames = info.n_frames if r.get("video") else None
    if r.get("mm_per_px") not in (None, ""):
        row.update(mm_per_px=_positive(r["mm_per_px"], f"{where}.mm_per_px"), scale_source="given")
    elif r.get("arena"):
        arena = r["arena"]
        mm = _positive(arena.get("diameter_mm"), f"{where}.arena.diameter_mm")
        px = _positive(arena.get("diameter_px"), f"{where}.arena.diameter_px")
        row.update(mm_per_px=mm / px, scale_source="arena")
    plan.recordings.append(row)
    for k, p in enumerate(r.get("pose") or []):
        if p.get("model"):
            _plan_inference(plan, p, f"{where}.pose[{k}]", row, in_session, models)
        else:
            pose = _plan_pose(plan, p, f"{where}.pose[{k}]", row, in_session, base, roots, skeletons, fps)
            check_frame_count(plan, pose, video_frames, tolerance, f"{where}.pose[{k}]", row["video_path"])


def _plan_inference(plan, p, where, rec, in_session, models):
    """A pose entry that runs a registered model on the recording's video (a worker does it later)."""
    name = str(p["model"])
    if name not in models:
        raise InputError(where, f"pose model {name!r} is not registered (known: {sorted(models) or 'none'}); "
                                "add it with models.PoseModel.import_model or PoseModel.from_training")
    if not rec["video_path"]:
        raise InputError(where, f"pose model {name!r} needs the recording's video file")
    frames = p.get("frames") or [0, None]
    if not isinstance(frames, list) or len(frames) != 2 or int(frames[0]) < 0 or \
            (frames[1] is not None and int(frames[1]) <= int(frames[0])):
        raise InputError(where, f"frames must be [start, stop) with 0 <= start < stop, got {frames!r}")
    tracks = {str(t): str(s) for t, s in (p.get("tracks") or {}).items()}
    outside = sorted(set(tracks.values()) - in_session)
    if outside:
        raise InputError(where, f"tracks are mapped to {outside}, who are not in session {rec['session']!r}")
    source = safe_id(p.get("source") or name[:32], where, "pose source")
    key = {"session": rec["session"], "camera": rec["camera"], "pose_source": source}
    plan.tasks.append(dict(key, skeleton=models[name]["skeleton"], task_mode="trigger", pose_path="",
                           pose_format=""))
    plan.tracks.extend(dict(key, track=t, subject=s) for t, s in tracks.items())
    plan.inferences.append(dict(key, pose_model=name, frame_start=int(frames[0]),
                                frame_stop=None if frames[1] is None else int(frames[1]),
                                max_tracks=None if p.get("max_tracks") is None else int(p["max_tracks"])))


def _plan_pose(plan, p, where, rec, in_session, base, roots, skeletons, fps):
    if not p.get("file"):
        raise InputError(where, "pose file missing")
    path = _path(p["file"], base)
    options = read_options(p, where)
    pose = read_pose(path, fmt=p.get("format") or None, fps=fps, **options)
    plan.readings.append(f"{to_relative(path, roots)}: {describe_reading(pose)}")
    name = str(p.get("skeleton") or "")
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
    tracks = {str(t): str(s) for t, s in (p.get("tracks") or {}).items()}
    if not tracks and len(pose.individuals) == 1 and len(in_session) == 1:
        tracks = {pose.individuals[0]: next(iter(in_session))}
    for track, subj in tracks.items():
        if track not in pose.individuals:
            raise InputError(where, f"track {track!r} is not in {path.name} (its tracks: {list(pose.individuals)})")
        if subj not in in_session:
            raise InputError(where, f"track {track!r} is mapped to subject {subj!r}, who is not in session "
                                    f"{rec['session']!r} (animals: {sorted(in_session)})")
    check_one_track_per_subject(tracks, where, path)
    source = safe_id(p.get("source") or "pose", where, "pose source")
    key = {"session": rec["session"], "camera": rec["camera"], "pose_source": source}
    plan.tasks.append(dict(key, skeleton=name, task_mode="load", pose_path=to_relative(path, roots),
                           pose_format=str(p.get("format") or ""), read_options=options))
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


def _subject_row(s, where) -> dict:
    if not isinstance(s, dict) or not s.get("subject"):
        raise InputError(where, "subject id missing")
    safe_id(s["subject"], where, "subject id")
    sex = str(s.get("sex") or "").upper()
    if sex not in SEXES:
        raise InputError(where, f"sex must be one of {SEXES}, got {s.get('sex')!r}")
    if not s.get("age_group"):
        raise InputError(where, "age_group missing")
    dob = s.get("date_of_birth")
    if dob not in (None, ""):
        try:
            dob = dob if isinstance(dob, dt.date) else dt.date.fromisoformat(str(dob))
        except ValueError as err:
            raise InputError(where, f"date_of_birth {dob!r} is not YYYY-MM-DD") from err
    return {"subject": str(s["subject"]), "sex": sex, "age_group": str(s["age_group"]),
            "strain": str(s.get("strain") or ""), "genotype": str(s.get("genotype") or ""),
            "date_of_birth": dob or None, "subject_notes": str(s.get("notes") or "")}


def _diff(a: dict, b: dict) -> str:
    return ", ".join(f"{k} {a[k]!r} vs {b[k]!r}" for k in a if a[k] != b.get(k))


def _datetime(value, where):
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError as err:
        raise InputError(where, f"{value!r} is not an ISO date-time (YYYY-MM-DD HH:MM:SS)") from err


def _positive(value, where) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise InputError(where, f"{value!r} is not a number") from err
    if not number > 0:
        raise InputError(where, f"must be > 0, got {value!r}")
    return number


def _path(value, base: Path) -> Path:
    path = Path(str(value)).expanduser()
    path = Path(os.path.normpath(path if path.is_absolute() else Path(base).absolute() / path))
    if not path.exists():
        raise InputError(path, "file not found")
    return path
