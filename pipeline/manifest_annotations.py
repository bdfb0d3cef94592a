"""The manifest's ethograms and per-recording ``annotations:`` entries, validated into plan rows.

::

    ethograms:
      - {ethogram: ethome, behaviors: [interact, "attack:directed"]}
    sessions:
      - session: s01
        recordings:
          - camera: top
            annotations:
              - {file: labels/s01.csv, format: boris, annotator: ann, ethogram: ethome,
                 label_set: main, subjects: {adult: m01}, behaviors: {Interact: interact},
                 options: {observation: obs1}}

Each file is read here, with the recording's fps and frame count, so a plan
that passes can be inserted whole (see :mod:`pipeline.annotation_rows` for
what is checked).
"""

from __future__ import annotations

from pathlib import Path

from .annotation_rows import bout_rows, check_subjects, check_targets, parse_behaviors, set_provenance
from .annotations import read_annotation
from .errors import InputError
from .io.checksum import file_checksum
from .manifest_values import entries, mapping, safe_id, text
from .paths import to_relative

ETHOGRAM_EXAMPLE = "ethogram: NAME, behaviors: [groom, attack:directed]"
ENTRY_EXAMPLE = "file: labels.csv, format: boris, annotator: ann, ethogram: NAME, subjects: {adult: m01}"


def plan_ethograms(plan, data: dict, source: str, known: dict) -> dict[str, dict[str, bool]]:
    """Ethogram rows of the manifest; returns every vocabulary (known ones and these) by name."""
    vocabularies = dict(known)
    for where, e in entries(data, "ethograms", source, ETHOGRAM_EXAMPLE, top=True):
        name = safe_id(e.get("ethogram") or "", where, "ethogram", "ethogram")
        behaviors = e.get("behaviors")
        if not isinstance(behaviors, list):
            raise InputError(where, f"behaviors must be a list ({ETHOGRAM_EXAMPLE})")
        parsed = parse_behaviors(name, behaviors)
        if name in vocabularies:
            if vocabularies[name] != parsed:
                raise InputError(where, f"ethogram {name!r} exists with other behaviours "
                                        f"({sorted(vocabularies[name])}); choose another name")
            continue
        vocabularies[name] = parsed
        plan.ethograms.append({"ethogram": name, "description": text(e.get("description"), where, "description",
                                                                      "session_notes")})
        plan.ethogram_behaviors.extend({"ethogram": name, "behavior": b, "directed": d} for b, d in parsed.items())
    return vocabularies


def plan_annotations(plan, r: dict, where: str, rec: dict, in_session: set, *, base: Path, roots: list[Path],
                     fps: float, n_frames: int | None) -> None:
    """The annotation files of one recording entry, read and checked, as rows of the plan."""
    for aw, a in entries(r, "annotations", where, ENTRY_EXAMPLE):
        if not a.get("file"):
            raise InputError(aw, f"annotation file missing ({ENTRY_EXAMPLE})")
        path = Path(str(a["file"])) if Path(str(a["file"])).is_absolute() else base / str(a["file"])
        relative = text(to_relative(path, roots), aw, "annotation file path", "annotation_path")
        ethogram = safe_id(a.get("ethogram") or "", aw, "ethogram", "ethogram")
        if ethogram not in plan.vocabularies:
            raise InputError(aw, f"ethogram {ethogram!r} is not defined (known: {sorted(plan.vocabularies) or 'none'});"
                                 " define it under ethograms:")
        vocabulary = plan.vocabularies[ethogram]
        key = {"session": rec["session"], "camera": rec["camera"],
               "annotator": safe_id(a.get("annotator") or "", aw, "annotator", "annotator"),
               "label_set": safe_id(a.get("label_set") or "main", aw, "label set", "label_set")}
        subjects = check_subjects(_names(a, "subjects", aw) or None, in_session, aw)
        behaviors = _names(a, "behaviors", aw) or {b: b for b in vocabulary}
        options = mapping(a.get("options"), f"{aw}.options", "options", "{observation: obs1}")
        annotation = _read(path, aw, fps=fps, fmt=a.get("format"), n_frames=n_frames, subjects=subjects,
                           behaviors=behaviors, options=options)
        check_targets(annotation, vocabulary, ethogram)
        plan.annotators.append({"annotator": key["annotator"]})
        plan.annotation_sets.append({
            **key, "ethogram": ethogram, "file_path": relative, "file_sha256": file_checksum(path),
            "file_format": annotation.fmt, "fps": fps, "n_bouts": len(annotation.bouts),
            "provenance": set_provenance(annotation, subjects=subjects, behaviors=behaviors, options=options,
                                         n_frames=n_frames)})
        plan.annotation_bouts.extend(bout_rows(key, annotation))


def _names(entry: dict, field: str, where: str) -> dict[str, str]:
    names = mapping(entry.get(field), f"{where}.{field}", field, "{name in the file: name here}")
    return {str(k) if k is not None else "": "" if v is None else str(v) for k, v in names.items()}


def _read(path: Path, where: str, *, options: dict, **kwargs):
    try:
        return read_annotation(path, **kwargs, **options)
    except TypeError as err:  # an option the reader does not take
        raise InputError(f"{where}.options", f"{err}") from None
