"""Flat CSV manifests: one row per pose-file (or model-run) track, read into the YAML structure.

See :mod:`pipeline.manifest` for the columns; every error names the file and line.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .errors import InputError


def from_csv(path: Path, content: str | None = None) -> dict:
    """Flat CSV (one row per pose-file track) → the YAML structure (``content``: the file's text, if read)."""
    rows = _rows(path, content)
    subjects, sessions = {}, {}
    for i, row in enumerate(rows, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        where = f"{path}: line {i}"
        if not row.get("session") or not row.get("subject"):
            raise InputError(where, "every row needs session and subject")
        subj = {k: row[k] for k in ("subject", "sex", "age_group", "strain", "genotype", "date_of_birth") if row.get(k)}
        subjects.setdefault((row["subject"], tuple(sorted(subj.items()))), (subj, where))
        sess = sessions.setdefault(row["session"], {
            "session": row["session"], "datetime": row.get("session_datetime", ""),
            "experimenter": row.get("experimenter", ""), "arena": row.get("arena", ""),
            "rig": row.get("rig", ""), "animals": [], "recordings": {}})
        _csv_animal(sess, row, where)
        if row.get("camera"):
            rec = sess["recordings"].setdefault(row["camera"], {
                "camera": row["camera"], "video": row.get("video", ""), "fps": row.get("fps") or None,
                "mm_per_px": row.get("mm_per_px") or None, "pose": {}})
            if row.get("pose_file") and row.get("pose_model"):
                raise InputError(where, "give pose_file (load a file) or pose_model (run a model), not both")
            pose = None
            if row.get("pose_file"):
                src = row.get("pose_source") or "pose"
                pose = rec["pose"].setdefault(src, {"source": src, "file": row["pose_file"],
                                                    "format": row.get("pose_format", ""),
                                                    "skeleton": row.get("skeleton", ""), "tracks": {},
                                                    **_csv_read_options(row, where)})
            elif row.get("pose_model"):
                src = row.get("pose_source") or row["pose_model"]
                start, stop, tracks = (_csv_int(row, k, where) for k in ("frame_start", "frame_stop", "max_tracks"))
                pose = rec["pose"].setdefault(src, {"source": src, "model": row["pose_model"],
                                                    "frames": [start or 0, stop], "max_tracks": tracks,
                                                    "tracks": {}})
            if pose is not None and row.get("track"):
                pose["tracks"][row["track"]] = row["subject"]
    return {
        "subjects": [s for s, _ in subjects.values()],
        "sessions": [dict(s, recordings=[dict(r, pose=list(r["pose"].values())) for r in s["recordings"].values()])
                     for s in sessions.values()],
    }


def _rows(path: Path, content: str | None) -> list[dict]:
    if content is None:
        try:
            content = Path(path).read_bytes().decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputError(path, f"not UTF-8 text (offset {err.start}); save the manifest as UTF-8") from None
    try:
        return list(csv.DictReader(io.StringIO(content, newline="")))
    except csv.Error as err:
        raise InputError(path, f"not a valid CSV: {err}") from None


def _csv_animal(sess: dict, row: dict, where: str) -> None:
    """Add the row's subject to its session once; the same subject with another role is an error."""
    role = row.get("role", "")
    for animal in sess["animals"]:
        if animal["subject"] == row["subject"]:
            if animal["role"] != role:
                raise InputError(where, f"subject {row['subject']!r} of session {row['session']!r} has role "
                                        f"{role!r} here but {animal['role']!r} on line {animal['line']}")
            return
    sess["animals"].append({"subject": row["subject"], "role": role, "line": where.rsplit(" ", 1)[-1]})


def _csv_read_options(row: dict, where: str) -> dict:
    """``zero_is_valid`` (true/false) and ``individual_prefixes`` (``B_=black;W_=white`` or ``false``)."""
    out = {}
    if row.get("zero_is_valid"):
        out["zero_is_valid"] = flag(row["zero_is_valid"], f"{where}: zero_is_valid")
    text = row.get("individual_prefixes", "")
    if text.lower() == "false":
        out["individual_prefixes"] = False
    elif text:
        pairs = [p.split("=", 1) for p in text.split(";") if p.strip()]
        if any(len(p) != 2 or not p[0] or not p[1].strip() for p in pairs):
            raise InputError(where, f"individual_prefixes {text!r}: write PREFIX=NAME;PREFIX=NAME or false")
        out["individual_prefixes"] = {p: n.strip() for p, n in pairs}
    return out


def flag(value, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false", "yes", "no", "1", "0"):
        raise InputError(where, f"{value!r} is not true or false")
    return text in ("true", "yes", "1")


def _csv_int(row: dict, column: str, where: str) -> int | None:
    if not row.get(column):
        return None
    try:
        return int(row[column])
    except ValueError as err:
        raise InputError(where, f"{column} {row[column]!r} is not a whole number") from err
