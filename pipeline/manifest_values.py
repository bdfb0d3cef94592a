"""Values of a manifest entry, checked before anything reaches the database.

Every check raises one :class:`InputError` naming the manifest entry and the
problem: an entry of the wrong kind (a string where a mapping belongs), a
number that is not finite and > 0, an id with unsafe characters, a text
longer than its database column (:data:`LIMITS`, the one place the sizes
are written; a unit test compares them with the table definitions).
"""

from __future__ import annotations

import datetime as dt
import math
import re

from .errors import InputError

# Longest text each database column holds (varchar(n) of the table definitions in schemas/*.py).
LIMITS = {
    "session": 64, "subject": 32, "camera": 32, "pose_source": 32, "skeleton": 32, "track": 64,
    "rig": 32, "role": 32, "age_group": 32, "experimenter": 64, "arena": 64, "strain": 64,
    "genotype": 64, "session_notes": 1024, "subject_notes": 1024, "video_path": 512, "pose_path": 512,
    "pose_format": 16, "skeleton_role": 32, "pose_model": 64, "ethogram": 64, "annotator": 64, "label_set": 64,
    "behavior": 32, "annotation_path": 512, "training_set": 64, "classifier": 64, "roi_set_name": 64,
}
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")  # ids reach output paths: no '/', no '..'


def text(value, where: str, what: str, column: str) -> str:
    """``value`` as text ('' for None), refused when longer than the database column ``column`` holds.

    Examples
    --------
    >>> text("ana", "m.yaml: sessions[0]", "experimenter", "experimenter")
    'ana'
    """
    out = "" if value is None else str(value)
    limit = LIMITS[column]
    if len(out) > limit:
        shown = out if len(out) <= 40 else out[:37] + "..."
        raise InputError(where, f"{what} {shown!r} is {len(out)} characters long; the database holds at most "
                                f"{limit}")
    return out


def safe_id(value, where: str, what: str, column: str | None = None) -> str:
    """An id (session, subject, camera, pose source) made of letters, digits, ``_ . -``; no ``..``.

    At most ``LIMITS[column]`` characters (32 without a column).

    Raises
    ------
    InputError
        Naming the manifest entry, the id and what is allowed.

    Examples
    --------
    >>> safe_id("s01", "m.yaml", "session", "session")
    's01'
    """
    out = "" if value is None or isinstance(value, (dict, list)) else str(value)
    limit = LIMITS[column] if column else 32
    if not SAFE_ID.fullmatch(out) or ".." in out:
        shown = out if len(out) <= 40 else out[:37] + "..."
        raise InputError(where, f"{what} {shown!r}: use 1-{limit} letters, digits, '_', '.', '-' "
                                "(starting with a letter or digit, no '..')")
    if len(out) > limit:
        raise InputError(where, f"{what} {out[:37] + '...'!r} is {len(out)} characters long; the database "
                                f"holds at most {limit}")
    return out


def positive(value, where: str) -> float:
    """A finite number > 0 (fps, scales); ``.inf``, ``nan``, 0, negatives and non-numbers are refused.

    Examples
    --------
    >>> positive("0.5", "m.yaml: sessions[0].recordings[0].mm_per_px")
    0.5
    """
    try:
        if isinstance(value, bool):
            raise TypeError(value)
        number = float(value)
    except (TypeError, ValueError) as err:
        raise InputError(where, f"{value!r} is not a number") from err
    if not (math.isfinite(number) and number > 0):
        raise InputError(where, f"must be a finite number > 0, got {value!r}")
    return number


def mapping(value, where: str, what: str, example: str) -> dict:
    """A mapping entry ({} for None); anything else is refused with an example of the right form."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(where, f"{what} must be a mapping ({example}), not {_kind(value)} {_short(value)}")
    return value


def entries(container: dict, key: str, where: str, example: str, *, top: bool = False) -> list[tuple[str, dict]]:
    """``container[key]`` as (location, mapping) pairs: a list of mappings, or nothing.

    ``top``: ``where`` is the manifest itself (locations read ``m.yaml: sessions[0]``).
    """
    value = container.get(key)
    name = f"{where}: {key}" if top else f"{where}.{key}"
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(name, f"must be a list of entries, not {_kind(value)} {_short(value)}")
    out = []
    for i, item in enumerate(value):
        at = f"{name}[{i}]"
        if not isinstance(item, dict):
            raise InputError(at, f"each entry of {key} must be a mapping ({example}), not {_kind(item)} "
                                 f"{_short(item)}")
        out.append((at, item))
    return out


def subject_row(s: dict, where: str, sexes=("F", "M", "U")) -> dict:
    """The Subject row of a manifest's subject entry."""
    if not s.get("subject"):
        raise InputError(where, "subject id missing")
    subj = safe_id(s["subject"], where, "subject id", "subject")
    sex = str(s.get("sex") or "").upper()
    if sex not in sexes:
        raise InputError(where, f"sex must be one of {sexes}, got {s.get('sex')!r}")
    if not s.get("age_group"):
        raise InputError(where, "age_group missing")
    dob = s.get("date_of_birth")
    if dob not in (None, ""):
        try:
            dob = dob if isinstance(dob, dt.date) else dt.date.fromisoformat(str(dob))
        except ValueError as err:
            raise InputError(where, f"date_of_birth {dob!r} is not YYYY-MM-DD") from err
    return {"subject": subj, "sex": sex, "age_group": text(s["age_group"], where, "age_group", "age_group"),
            "strain": text(s.get("strain") or "", where, "strain", "strain"),
            "genotype": text(s.get("genotype") or "", where, "genotype", "genotype"),
            "date_of_birth": dob or None,
            "subject_notes": text(s.get("notes") or "", where, "notes", "subject_notes")}


def datetime(value, where):
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError as err:
        raise InputError(where, f"{value!r} is not an ISO date-time (YYYY-MM-DD HH:MM:SS)") from err


def _kind(value) -> str:
    names = {str: "the text", list: "a list", int: "the number", float: "the number", bool: "the value"}
    return names.get(type(value), f"a {type(value).__name__}")


def _short(value) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
