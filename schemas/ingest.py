"""Insert a validated manifest: all rows or none, idempotent on re-run."""

from __future__ import annotations

import sys
from pathlib import Path

import datajoint as dj

from pipeline.errors import InputError
from pipeline.manifest import plan_manifest, read_manifest
from pipeline.manifest_known import known_pose
from pipeline.manifest_values import SAFE_ID

from . import annotation, calibration, models, motion, pose, recording, session, subject
from .config import current, data_roots
from .database import named_lock

# (plan attribute, table, its label, attributes that must agree with an existing row)
_TARGETS = (
    ("subjects", subject.Subject, "Subject", ("sex", "age_group", "strain", "genotype")),
    ("skeletons", pose.Skeleton, "Skeleton", ("keypoints", "edges")),
    ("roles", pose.SkeletonRole, "SkeletonRole", ("spec",)),
    ("sessions", session.Session, "Session", ("session_datetime",)),
    ("rigs", calibration.CameraRig, "CameraRig", ()),
    ("session_rigs", calibration.SessionRig, "SessionRig", ("rig",)),
    ("animals", session.Session.Animal, "Session.Animal", ("role",)),
    ("recordings", recording.VideoRecording, "VideoRecording", ("video_path", "mm_per_px")),
    ("tasks", pose.PoseEstimationTask, "PoseEstimationTask", ("pose_path", "skeleton", "read_options")),
    ("tracks", pose.PoseEstimationTask.Track, "PoseEstimationTask.Track", ("subject",)),
    ("inferences", models.PoseInference, "PoseInference", ("pose_model", "frame_start", "frame_stop")),
    ("ethograms", annotation.Ethogram, "Ethogram", ()),
    ("ethogram_behaviors", annotation.Ethogram.Behavior, "Ethogram.Behavior", ("directed",)),
    ("annotators", annotation.Annotator, "Annotator", ()),
    ("annotation_sets", annotation.AnnotationSet, "AnnotationSet", ("ethogram", "file_sha256")),
    ("motion_param_sets", motion.MotionParamSet, "MotionParamSet", ()),
    ("roi_sets", motion.ROISet, "ROISet", ()),
    ("roi_parts", motion.ROISet.ROI, "ROISet.ROI", ()),
    ("recording_roi_sets", motion.RecordingROISet, "RecordingROISet", ("roi_set",)),
)
_SET_KEY = ("session", "camera", "annotator", "label_set")


def ingest(manifest: str | Path, *, populate: bool = True, progress: bool = False) -> dict:
    """Validate the whole manifest, insert it in one transaction, then import the pose files.

    Pose entries that name a ``model`` become inference tasks for the pose
    workers (``ethojoint worker --stage pose``); they are not run here.

    Prints one line per pose file saying what reading it decided (points at
    (0, 0) turned missing, individuals split from body-part prefixes,
    frames covered) and every warning (a pose file shorter than its video,
    cameras of one session of different lengths; PoseEstimation stores them
    in ``provenance.params.warnings``).

    Returns the number of new rows per table. Raises :class:`InputError`
    (nothing inserted) on the first problem.
    """
    manifest = Path(manifest)
    data = read_manifest(manifest)
    with named_lock(dj.conn(), f"{current().prefix}ingest"):  # a second ingest waits, then finds it all there
        counts = _insert(plan_input(data, manifest), manifest, populate=populate, progress=progress)
    return counts


def plan_input(data: dict, manifest: Path):
    """The manifest's plan, checked against what the database holds now."""
    known_subjects = {r["subject"]: r for r in subject.Subject.to_dicts()}
    known_skeletons = {r["skeleton"]: dict(r, roles=pose.skeleton_roles(r["skeleton"]))
                       for r in pose.Skeleton.to_dicts()}
    known_models = {r["pose_model"]: r for r in models.PoseModel.proj("skeleton").to_dicts()}
    known_ethograms = {}
    for r in annotation.Ethogram.Behavior.to_dicts():
        known_ethograms.setdefault(r["ethogram"], {})[r["behavior"]] = bool(r["directed"])
    plan = plan_manifest(data, base=manifest.parent.absolute(), roots=data_roots(), source=str(manifest),
                         known_subjects=known_subjects, known_skeletons=known_skeletons, known_models=known_models,
                         known_poses=known_poses(data), known_ethograms=known_ethograms)
    plan.roles = [dict(r, spec=pose.encode_spec(r["spec"])) for r in plan.roles]
    return plan


def known_poses(data: dict) -> dict:
    """(session, camera, pose_source) -> the pose rows (loaded from files) of the manifest's sessions."""
    given = data.get("sessions") if isinstance(data.get("sessions"), list) else []
    ids = {str(s.get("session")) for s in given if isinstance(s, dict)}
    sessions = [{"session": i} for i in sorted(ids) if SAFE_ID.fullmatch(i) and ".." not in i]  # others: refused later
    if not sessions:
        return {}
    tasks = pose.PoseEstimationTask.proj("pose_path", "read_options", "task_mode") & "task_mode = 'load'"
    rows = (pose.PoseEstimation.proj("n_frames", "frame_offset", "individuals", "keypoints", "provenance")
            * tasks & sessions).to_dicts()
    return {(r["session"], r["camera"], r["pose_source"]): known_pose(r) for r in rows}


def _insert(plan, manifest: Path, *, populate: bool, progress: bool) -> dict:
    """Insert the plan in one transaction, then import its pose files; the new rows per table."""
    counts = {label: sum(not _existing_agrees(table, r, compared, manifest) for r in getattr(plan, attr))
              for attr, table, label, compared in _TARGETS}
    sessions = [{"session": s["session"]} for s in plan.sessions]
    stored = {tuple(k[a] for a in _SET_KEY) for k in (annotation.AnnotationSet & sessions).proj().to_dicts()} \
        if sessions else set()
    bouts = [b for b in plan.annotation_bouts if tuple(b[a] for a in _SET_KEY) not in stored]  # new sets only
    counts["AnnotationSet.Bout"] = len(bouts)
    for line in plan.readings:
        print(f"read {line}")
    for line in plan.warnings:
        print(f"WARNING {line}", file=sys.stderr)
    with dj.conn().transaction:
        for attr, table, _, _ in _TARGETS:
            table.insert(getattr(plan, attr), skip_duplicates=True, ignore_extra_fields=True)
        annotation.AnnotationSet.Bout.insert(bouts)
    if populate:  # file imports only: model runs (mode 'trigger') are left to the pose workers
        sessions = [{"session": s["session"]} for s in plan.sessions]
        if sessions:
            recording.RecordingInfo.populate(sessions, display_progress=progress)
            loads = pose.PoseEstimationTask & sessions & "task_mode = 'load'"
            pose.PoseEstimation.populate(loads.proj(), display_progress=progress)
    return counts


def _existing_agrees(table, row: dict, compared, manifest) -> bool:
    """True if the row already exists (and agrees); error if it disagrees."""
    key = {k: row[k] for k in table.primary_key}
    existing = (table & key).to_dicts()
    if not existing:
        return False
    old = existing[0]
    diffs = [f"{a}: database has {old[a]!r}, manifest says {row[a]!r}"
             for a in compared if a in row and _norm(old[a]) != _norm(row[a])]
    if diffs:
        raise InputError(manifest, f"{table.__name__} {key} already exists with different values ({'; '.join(diffs)})")
    return True


def _norm(value):
    if isinstance(value, dict):  # read options: absent = None = defaults
        kept = {k: _norm(v) for k, v in sorted(value.items())
                if v is not None and not (k == "zero_is_valid" and v is False)}
        return kept or None
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    return value
