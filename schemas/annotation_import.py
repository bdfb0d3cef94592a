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

from pipeline.annotation_rows import bout_rows, check_subjects, check_targets, set_provenance
from pipeline.annotations import Annotation, Bout, read_annotation, write_annotation
from pipeline.errors import InputError
from pipeline.io.checksum import file_checksum
from pipeline.manifest_values import safe_id
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
    where = f"{session}/{camera}"
    key = {"session": session, "camera": camera, "annotator": safe_id(annotator, where, "annotator", "annotator"),
           "label_set": safe_id(label_set, where, "label set", "label_set")}
    fps, n_frames = recording_frames(key)
    vocabulary = _vocabulary(ethogram)
    subject_map = check_subjects(subjects, (Session.Animal & {"session": session}).to_arrays("subject"), where)
    behavior_map = dict(behaviors) if behaviors is not None else {b: b for b in vocabulary}
    annotation = read_annotation(path, fps=fps, fmt=fmt, n_frames=n_frames, subjects=subject_map,
                                 behaviors=behavior_map, **dict(options or {}))
    check_targets(annotation, vocabulary, ethogram)
    row = {**key, "ethogram": ethogram, "file_path": to_relative(Path(path).absolute(), data_roots()),
           "file_sha256": file_checksum(Path(path)), "file_format": annotation.fmt, "fps": fps,
           "n_bouts": len(annotation.bouts),
           "provenance": set_provenance(annotation, subjects=subject_map, behaviors=behavior_map, options=options,
                                        n_frames=n_frames)}
    if AnnotationSet & key:
        return {**key, "new": _same_file(key, row)}
    with AnnotationSet.connection.transaction:
        Annotator.insert1({"annotator": key["annotator"]}, skip_duplicates=True)
        AnnotationSet.insert1(row)
        AnnotationSet.Bout.insert(bout_rows(key, annotation))
    return {**key, "new": True}


def _vocabulary(ethogram: str) -> dict[str, bool]:
    rows = (Ethogram.Behavior & {"ethogram": ethogram}).to_dicts()
    if not rows:
        known = sorted(Ethogram.to_arrays("ethogram"))
        raise InputError(f"ethogram {ethogram!r}", f"not defined (known: {', '.join(known) or 'none'}); "
                                                   "add it with `ethojoint annotations ethogram`")
    return {r["behavior"]: bool(r["directed"]) for r in rows}


def _same_file(key: Mapping, row: Mapping) -> bool:
    have = (AnnotationSet & dict(key)).fetch1("file_sha256")
    if have != row["file_sha256"]:
        raise InputError(row["file_path"], f"annotation set {dict(key)} was imported from other content "
                                           f"(sha256 {have[:12]}...); delete it first or use another --label-set")
    return False


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
