"""Import an annotation file into :class:`~schemas.annotation.AnnotationSet`, and export one back.

Everything is checked before anything is written: the recording exists and
has a frame rate; the file reads (its fps and media length agree with the
recording's, no bout runs past the video's end); every subject is an animal
of the session (or is mapped to one); every behaviour is in the ethogram (or
is mapped to one), and only a directed behaviour has a target. Then the set
and all its bouts go in one transaction. Importing the same file again is a
no-op; another file under the same annotator and label set is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pipeline.annotations import Annotation, Bout, read_annotation, write_annotation
from pipeline.errors import InputError
from pipeline.io.checksum import file_checksum
from pipeline.paths import to_relative

from .annotation import AnnotationSet, Annotator, Ethogram
from .config import data_roots
from .pose import PoseEstimation
from .recording import RecordingInfo, VideoRecording
from .session import Session


def recording_frames(key: Mapping) -> tuple[float, int | None]:
    """(fps, frame count) of a recording: its video's, else the declared fps and the pose files' extent."""
    rec = {"session": key["session"], "camera": key["camera"]}
    if not VideoRecording & rec:
        raise InputError(f"{rec['session']}/{rec['camera']}", "no such recording (ingest its session first)")
    info = (RecordingInfo & rec).to_dicts()
    declared = (VideoRecording & rec).fetch1("declared_fps")
    fps = info[0]["fps"] if info else declared
    if not fps:
        raise InputError(f"{rec['session']}/{rec['camera']}", "frame rate unknown: populate RecordingInfo first")
    if info and info[0]["n_frames"]:
        return float(fps), int(info[0]["n_frames"])
    ends = [r["frame_offset"] + r["n_frames"] for r in (PoseEstimation & rec).proj("frame_offset", "n_frames")
            .to_dicts()]
    return float(fps), (max(ends) if ends else None)


def import_annotation(path, *, session: str, camera: str, annotator: str, ethogram: str, fmt: str | None = None,
                      label_set: str = "main", subjects: Mapping[str, str] | None = None,
                      behaviors: Mapping[str, str] | None = None, options: Mapping | None = None) -> dict:
    """Read, check and insert one annotation file; return its AnnotationSet key (with ``"new"``).

    Parameters
    ----------
    path : str or Path
        The file, under a configured data root.
    session, camera : str
        The recording it labels.
    annotator, ethogram : str
        Who labelled it (added if new) and the vocabulary it uses (must exist).
    fmt : str, optional
        Reader (see :data:`pipeline.annotations.READ_FORMATS`); needed for ``.csv``.
    label_set : str
        Name of this set of labels (another round by the same annotator gets another name).
    subjects : mapping, optional
        File subject name -> session subject. Default: names as they are,
        each one an animal of the session; ``""`` (no focal subject) is kept as none.
    behaviors : mapping, optional
        File behaviour name -> ethogram behaviour. Default: names as they are.
    options : mapping, optional
        Reader options (``observation``, ``channel``, ``units``, ``subject``,
        ``target_modifier``, ``classifiers``).
    """
    key = {"session": session, "camera": camera, "annotator": annotator, "label_set": label_set}
    fps, n_frames = recording_frames(key)
    vocabulary = _vocabulary(ethogram)
    animals = set((Session.Animal & {"session": session}).to_arrays("subject"))
    subject_map = dict(subjects) if subjects is not None else {a: a for a in animals}
    subject_map.setdefault("", "")
    _check_targets(subject_map, animals, f"{session}/{camera}")
    behavior_map = dict(behaviors) if behaviors is not None else {b: b for b in vocabulary}
    annotation = read_annotation(path, fps=fps, fmt=fmt, n_frames=n_frames, subjects=subject_map,
                                 behaviors=behavior_map, **dict(options or {}))
    _check_behaviors(annotation, vocabulary, ethogram)
    checksum = file_checksum(Path(path))
    row = {**key, "ethogram": ethogram, "file_path": to_relative(Path(path).absolute(), data_roots()),
           "file_sha256": checksum, "file_format": annotation.fmt, "fps": fps,
           "n_bouts": len(annotation.bouts), "provenance": _provenance(annotation, subject_map, behavior_map,
                                                                       options, n_frames)}
    if AnnotationSet & key:
        return {**key, "new": _same_file(key, row)}
    with AnnotationSet.connection.transaction:
        Annotator.insert1({"annotator": annotator}, skip_duplicates=True)
        AnnotationSet.insert1(row)
        AnnotationSet.Bout.insert([_bout_row(key, i, b, fps) for i, b in enumerate(annotation.bouts)])
    return {**key, "new": True}


def _vocabulary(ethogram: str) -> dict[str, bool]:
    rows = (Ethogram.Behavior & {"ethogram": ethogram}).to_dicts()
    if not rows:
        known = sorted(Ethogram.to_arrays("ethogram"))
        raise InputError(f"ethogram {ethogram!r}", f"not defined (known: {', '.join(known) or 'none'}); "
                                                   "add it with `ethojoint annotations ethogram`")
    return {r["behavior"]: bool(r["directed"]) for r in rows}


def _check_targets(subject_map: Mapping[str, str], animals: set, where: str) -> None:
    wrong = sorted(v for v in subject_map.values() if v and v not in animals)
    if wrong:
        raise InputError(where, f"subject(s) {wrong} are not animals of the session (animals: {sorted(animals)})")


def _check_behaviors(annotation: Annotation, vocabulary: Mapping[str, bool], ethogram: str) -> None:
    for b in annotation.bouts:
        if b.target is not None and b.target != "" and not vocabulary[b.behavior]:
            where = f"{annotation.source}, {annotation.unit} {b.line}" if b.line else annotation.source
            raise InputError(where, f"{b.behavior!r} has a target ({b.target!r}) but is solo in ethogram "
                                    f"{ethogram!r}")


def _provenance(annotation: Annotation, subject_map, behavior_map, options, n_frames) -> dict:
    return {"reader": annotation.fmt, "options": dict(options or {}), "subjects": subject_map,
            "behaviors": behavior_map, "file_fps": annotation.file_fps, "media_seconds": annotation.media_seconds,
            "time_offset": annotation.time_offset, "media_file": annotation.media_file,
            "file_frames": annotation.n_frames, "recording_frames": n_frames,
            "times_to_frames": "nearest frame start: floor((t - time_offset) * fps + 0.5)"}


def _same_file(key: Mapping, row: Mapping) -> bool:
    have = (AnnotationSet & dict(key)).fetch1("file_sha256")
    if have != row["file_sha256"]:
        raise InputError(row["file_path"], f"annotation set {dict(key)} was imported from other content "
                                           f"(sha256 {have[:12]}...); delete it first or use another --label-set")
    return False


def _bout_row(key: Mapping, index: int, b: Bout, fps: float) -> dict:
    return {**key, "bout_index": index, "behavior": b.behavior, "agent": b.subject or None,
            "target": b.target or None, "start_frame": b.start_frame, "end_frame": b.stop_frame,
            "is_point": b.point, "start_s": b.start_frame / fps, "duration_s": (b.stop_frame - b.start_frame) / fps,
            "line": b.line}


def export_annotation(key: Mapping, path, *, fmt: str) -> Path:
    """Write one annotation set as ``fmt`` (``boris``, ``deepethogram`` or ``csv``)."""
    found = (AnnotationSet & dict(key)).to_dicts()
    if len(found) != 1:
        raise InputError(str(dict(key)), f"{len(found)} annotation sets match; name one (annotator, label set)")
    row = found[0]
    bouts = tuple(Bout(r["behavior"], r["agent"] or "", r["target"], r["start_frame"], r["end_frame"],
                       point=bool(r["is_point"]))
                  for r in (AnnotationSet.Bout & row).to_dicts(order_by="bout_index"))
    _, n_frames = recording_frames(row)
    annotation = Annotation(bouts, fps=row["fps"], source=row["file_path"], fmt=fmt,
                            behaviors=tuple(sorted(_vocabulary(row["ethogram"]))))
    options = {"n_frames": n_frames} if fmt == "deepethogram" else {}
    return write_annotation(annotation, path, fmt=fmt, **options)
