"""SimBA targets: per-frame 0/1 classifier columns appended to a pose/feature CSV.

A SimBA project keeps human labels in ``csv/targets_inserted/<video>.csv``:
the pose (and feature) columns of every frame, then one column per
classifier, named after it, 1 where the behaviour is on. pandas writes the
frame index as an unnamed first column (read as frame numbers 0, 1, 2...,
which they must be); without one, rows are frames from 0.

Which columns are classifiers is not in the file: ``classifiers=`` names
them, directly or through the project's files that do, read by
:func:`read_simba_classifiers`: a model meta file
(``configs/<clf>_meta_<n>.csv``, column ``Classifier_name``) or
``project_folder/project_config.ini`` (``[SML settings] target_name_<n>``).
A meta file is not a targets file: it holds no frames.
"""

from __future__ import annotations

import configparser
import csv
from pathlib import Path

from pipeline.annotations import (
    Annotation,
    as_path,
    at,
    bouts_from_frames,
    check_fps_argument,
    finish,
    sort_bouts,
)
from pipeline.errors import InputError

_META_COLUMN = "Classifier_name"


def read_simba_classifiers(path: str | Path) -> tuple[str, ...]:
    """Classifier names from a SimBA model meta CSV or a ``project_config.ini``.

    Examples
    --------
    >>> read_simba_classifiers("simba_Attack_meta_0.csv")        # doctest: +SKIP
    ('Attack',)
    """
    path = as_path(path)
    if path.suffix.lower() == ".ini":
        return _from_ini(path)
    header, rows = _csv(path)
    if _META_COLUMN not in header:
        raise InputError(at(path, 1), f"no {_META_COLUMN!r} column: not a SimBA model meta file")
    col = header.index(_META_COLUMN)
    return tuple(dict.fromkeys(cells[col].strip() for _, cells in rows if len(cells) > col and cells[col].strip()))


def _from_ini(path: Path) -> tuple[str, ...]:
    config = configparser.ConfigParser()
    try:
        config.read(path, encoding="utf-8")
        section = config["SML settings"]
        n = int(section.get("no_targets", "0"))
        return tuple(section[f"target_name_{i}"].strip() for i in range(1, n + 1))
    except (configparser.Error, KeyError, ValueError) as e:
        raise InputError(path, f"no classifier names in [SML settings] (no_targets, target_name_<n>): {e}") from e


def read_simba(path: str | Path, *, fps: float, classifiers, subject: str = "", n_frames: int | None = None,
               subjects=None, behaviors=None) -> Annotation:
    """Read the classifier columns of a SimBA targets CSV as bouts.

    Parameters
    ----------
    path : str or Path
        ``targets_inserted/<video>.csv``.
    fps : float
        The recording's frame rate (the file has none; frames are rows).
    classifiers : list of str, or str or Path
        The classifier column names, or a SimBA meta CSV / ``project_config.ini`` naming them.
    subject : str
        The animal the labels are about (SimBA targets name none).
    n_frames, subjects, behaviors
        As for :func:`pipeline.io.boris.read_boris`.

    Returns
    -------
    Annotation
        ``fmt="simba"``; ``n_frames`` is the number of rows.

    Examples
    --------
    >>> a = read_simba("Together_1.csv", fps=30, classifiers=["Attack"])   # doctest: +SKIP
    """
    fps = check_fps_argument(fps)
    path = as_path(path)
    if isinstance(classifiers, str | Path) and Path(classifiers).is_file():
        classifiers = read_simba_classifiers(classifiers)
    if classifiers is None or isinstance(classifiers, str | Path):
        raise ValueError(f"classifiers must list the classifier columns (or name a SimBA meta file or "
                         f"project_config.ini), got {classifiers!r}")
    header, rows = _csv(path)
    _not_meta(header, path)
    columns = _columns(header, list(classifiers), path)
    _frame_column(header, rows, path)
    bouts = []
    for name, col in columns.items():
        on = [_flag(cells, col, name, path, line) for line, cells in rows]
        bouts += bouts_from_frames(on, behavior=name, subject=subject, first_line=2)
    if n_frames is not None and len(rows) > n_frames:
        raise InputError(at(path, rows[n_frames][0]), f"the file has {len(rows)} frames, the video {n_frames}")
    annotation = Annotation(sort_bouts(bouts), fps=fps, source=str(path), fmt="simba", n_frames=len(rows),
                            behaviors=tuple(columns))
    return finish(annotation, n_frames=n_frames, subjects=subjects, behaviors=behaviors)


def _csv(path: Path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [c.strip() for c in next(reader, [])]
            rows = [(reader.line_num, cells) for cells in reader if cells]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(path, f"cannot read CSV: {e}") from e
    return header, rows


def _not_meta(header: list[str], path) -> None:
    if _META_COLUMN in header:
        raise InputError(at(path, 1), "this is a SimBA model meta file (Classifier_name, RF_n_estimators...), "
                                      "not a targets file: it names classifiers (pass it as classifiers=) "
                                      "but holds no frames")


def _columns(header: list[str], names: list[str], path) -> dict[str, int]:
    missing = [n for n in names if n not in header]
    if missing or not names:
        tail = ", ".join(repr(c) for c in header[-min(len(header), 5):])
        raise InputError(at(path, 1), f"no classifier column {', '.join(map(repr, missing)) or '(none named)'} "
                                      f"(the last columns are {tail})")
    return {n: header.index(n) for n in names}


def _frame_column(header: list[str], rows, path) -> bool:
    """True when the first column is pandas' frame index (unnamed): it must count 0, 1, 2..."""
    if header and header[0] == "":
        for frame, (line, cells) in enumerate(rows):
            if cells[0].strip() != str(frame):
                raise InputError(at(path, line), f"index {cells[0]!r} where frame {frame} was expected: "
                                                 "a SimBA targets file has one row per frame from 0")
        return True
    return False


def _flag(cells: list[str], col: int, name: str, path, line: int) -> bool:
    value = cells[col].strip() if col < len(cells) else ""
    if value in ("1", "1.0"):
        return True
    if value in ("0", "0.0"):
        return False
    raise InputError(at(path, line), f"{name} = {value!r}: a SimBA target is 0 or 1")
