"""Insert a validated manifest: all rows or none, idempotent on re-run."""

from __future__ import annotations

from pathlib import Path

import datajoint as dj

from pipeline.errors import InputError
from pipeline.manifest import plan_manifest, read_manifest

from . import pose, recording, session, subject
from .config import data_roots

# (plan attribute, table, its label, attributes that must agree with an existing row)
_TARGETS = (
    ("subjects", subject.Subject, "Subject", ("sex", "age_group", "strain", "genotype")),
    ("skeletons", pose.Skeleton, "Skeleton", ("keypoints", "edges")),
    ("sessions", session.Session, "Session", ("session_datetime",)),
    ("animals", session.Session.Animal, "Session.Animal", ("role",)),
    ("recordings", recording.VideoRecording, "VideoRecording", ("video_path", "mm_per_px")),
    ("tasks", pose.PoseEstimationTask, "PoseEstimationTask", ("pose_path", "skeleton")),
    ("tracks", pose.PoseEstimationTask.Track, "PoseEstimationTask.Track", ("subject",)),
)


def ingest(manifest: str | Path, *, populate: bool = True, progress: bool = False) -> dict:
    """Validate the whole manifest, insert it in one transaction, then import.

    Returns the number of new rows per table. Raises :class:`InputError`
    (nothing inserted) on the first problem.
    """
    manifest = Path(manifest)
    data = read_manifest(manifest)
    known_subjects = {r["subject"]: r for r in subject.Subject.to_dicts()}
    known_skeletons = {r["skeleton"]: r for r in pose.Skeleton.to_dicts()}
    plan = plan_manifest(data, base=manifest.parent.absolute(), roots=data_roots(), source=str(manifest),
                         known_subjects=known_subjects, known_skeletons=known_skeletons)
    counts = {label: sum(not _existing_agrees(table, r, compared, manifest) for r in getattr(plan, attr))
              for attr, table, label, compared in _TARGETS}
    with dj.conn().transaction:
        for attr, table, _, _ in _TARGETS:
            table.insert(getattr(plan, attr), skip_duplicates=True)
    if populate:
        sessions = [{"session": s["session"]} for s in plan.sessions]
        for table in (recording.RecordingInfo, pose.PoseEstimation):
            if sessions:
                table.populate(sessions, display_progress=progress)
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
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    return value
