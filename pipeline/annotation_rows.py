"""Rows of an imported annotation file (``annotation.AnnotationSet`` and its bouts), without a database.

Shared by ``ethojoint annotations import`` and the manifest's ``annotations:``
entries, so both check the same things and store the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .annotations import Annotation, at
from .errors import InputError
from .manifest_values import safe_id

TIMES_TO_FRAMES = "nearest frame start: floor((t - time_offset) * fps + 0.5)"


def parse_behaviors(name: str, behaviors: Iterable[str]) -> dict[str, bool]:
    """``["groom", "attack:directed"]`` -> ``{behaviour: directed}`` (ids checked).

    Examples
    --------
    >>> parse_behaviors("e", ["groom", "attack:directed"])
    {'groom': False, 'attack': True}
    """
    out = {}
    for text in behaviors:
        behavior, _, kind = str(text).partition(":")
        if kind not in ("", "solo", "directed") or not behavior:
            raise InputError(f"ethogram {name!r}", f"behaviour {text!r}: write NAME, NAME:solo or NAME:directed")
        out[safe_id(behavior, f"ethogram {name!r}", "behaviour", "behavior")] = kind == "directed"
    if not out:
        raise InputError(f"ethogram {name!r}", "no behaviours given")
    return out


def check_subjects(subject_map: Mapping[str, str], animals: Iterable[str], where: str) -> dict[str, str]:
    """The file-name -> session-animal mapping (default: each animal as itself; ``""`` = no subject), checked."""
    animals = set(animals)
    mapped = dict(subject_map) if subject_map is not None else {a: a for a in animals}
    mapped.setdefault("", "")
    wrong = sorted(v for v in mapped.values() if v and v not in animals)
    if wrong:
        raise InputError(where, f"subject(s) {wrong} are not animals of the session (animals: {sorted(animals)})")
    return mapped


def check_targets(annotation: Annotation, vocabulary: Mapping[str, bool], ethogram: str) -> None:
    """Only a directed behaviour of the ethogram may have a target."""
    for b in annotation.bouts:
        if b.target and not vocabulary[b.behavior]:
            raise InputError(at(annotation.source, b.line, annotation.unit),
                             f"{b.behavior!r} has a target ({b.target!r}) but is solo in ethogram {ethogram!r}")


def set_provenance(annotation: Annotation, *, subjects, behaviors, options, n_frames) -> dict:
    """What the import decided and what the file declared."""
    return {"reader": annotation.fmt, "options": dict(options or {}), "subjects": dict(subjects),
            "behaviors": dict(behaviors), "file_fps": annotation.file_fps, "media_seconds": annotation.media_seconds,
            "time_offset": annotation.time_offset, "media_file": annotation.media_file,
            "file_frames": annotation.n_frames, "recording_frames": n_frames, "times_to_frames": TIMES_TO_FRAMES}


def bout_rows(key: Mapping, annotation: Annotation) -> list[dict]:
    """``AnnotationSet.Bout`` rows: video frames, end exclusive; no subject or target -> None."""
    fps = annotation.fps
    return [{**key, "bout_index": i, "behavior": b.behavior, "agent": b.subject or None, "target": b.target or None,
             "start_frame": b.start_frame, "end_frame": b.stop_frame, "is_point": b.point,
             "start_s": b.start_frame / fps, "duration_s": (b.stop_frame - b.start_frame) / fps, "line": b.line}
            for i, b in enumerate(annotation.bouts)]
