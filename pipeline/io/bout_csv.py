"""A plain bout table (CSV) in, and out: one row per bout.

Columns (header names, any case; others are ignored)::

    behavior,subject,target,start_frame,stop_frame
    attack,m01,m02,120,185
    rear,m01,,300,          <- empty stop: a point event
    groom,m02,,400,460

``behaviour`` may stand for ``behavior``, ``agent`` for ``subject``;
``subject`` and ``target`` are optional (empty target: a solo behaviour).
Times are in frames (``start_frame, stop_frame``: ``[start, stop)``, the
stop frame not included, counted from 0) or in seconds (``start_s,
stop_s``: turned into frames with the recording's fps, see
:func:`pipeline.annotations.seconds_to_frame`). The header must say which:
bare ``start``/``stop`` columns, or both kinds at once, are an error.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pipeline.annotations import (
    Annotation,
    Bout,
    as_path,
    at,
    check_fps_argument,
    finish,
    frame_to_seconds,
    seconds_to_frame,
    sort_bouts,
)
from pipeline.errors import InputError

_ALIASES = {"behaviour": "behavior", "agent": "subject"}
_TIMES = {"frames": ("start_frame", "stop_frame"), "seconds": ("start_s", "stop_s")}


def read_bout_csv(path: str | Path, *, fps: float, n_frames: int | None = None, subjects=None,
                  behaviors=None) -> Annotation:
    """Read a plain bout CSV (frames or seconds, as its header says).

    Parameters
    ----------
    path : str or Path
    fps : float
        The recording's frame rate (turns ``start_s, stop_s`` into frames).
    n_frames, subjects, behaviors
        As for :func:`pipeline.io.boris.read_boris`.

    Returns
    -------
    Annotation
        ``fmt="csv"``.

    Examples
    --------
    >>> _ = open("bouts.csv", "w").write("behavior,subject,start_s,stop_s\\ngroom,m01,1.0,2.5\\n")  # doctest: +SKIP
    >>> read_bout_csv("bouts.csv", fps=30).bouts[0].start_frame                            # doctest: +SKIP
    30
    """
    fps = check_fps_argument(fps)
    path = as_path(path)
    header, rows = _table(path)
    units = _units(header, path)
    start_col, stop_col = _TIMES[units]
    bouts = [_bout(dict(zip(header, cells)), line, start_col, stop_col, fps, path) for line, cells in rows]
    annotation = Annotation(sort_bouts(bouts), fps=fps, source=str(path), fmt="csv",
                            behaviors=tuple(dict.fromkeys(b.behavior for b in bouts)))
    return finish(annotation, n_frames=n_frames, subjects=subjects, behaviors=behaviors)


def _table(path: Path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [_ALIASES.get(c.strip().lower(), c.strip().lower()) for c in next(reader, [])]
            rows = [(reader.line_num, cells) for cells in reader if any(c.strip() for c in cells)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(path, f"cannot read CSV: {e}") from e
    if "behavior" not in header:
        raise InputError(at(path, 1), f"no 'behavior' column (columns {header})")
    return header, rows


def _units(header: list[str], path) -> str:
    found = [units for units, cols in _TIMES.items() if set(cols) <= set(header)]
    if len(found) == 1:
        return found[0]
    options = "start_frame, stop_frame (frames) or start_s, stop_s (seconds)"
    if found:
        raise InputError(at(path, 1), f"both frame and second columns: keep one pair, {options}")
    raise InputError(at(path, 1), f"the header does not say frames or seconds (columns {header}): name the "
                                  f"times {options}")


def _bout(row: dict, line: int, start_col: str, stop_col: str, fps: float, path) -> Bout:
    where = at(path, line)
    start, stop = (_number(row.get(c, ""), c, where) for c in (start_col, stop_col))
    if start is None:
        raise InputError(where, f"{start_col} is empty")
    if start_col == "start_s":
        start = seconds_to_frame(start, fps)
        stop = None if stop is None else max(seconds_to_frame(stop, fps), start + 1)
    elif start != int(start) or (stop is not None and stop != int(stop)):
        raise InputError(where, f"frame numbers must be whole: {start_col}={start:g}, {stop_col}={stop}")
    if start < 0 or (stop is not None and stop <= start):
        raise InputError(where, f"bout [{start:g}, {stop:g}) is empty or before frame 0" if stop is not None
                         else f"{start_col} {start:g} is before frame 0")
    behavior = row.get("behavior", "").strip()
    if not behavior:
        raise InputError(where, "behavior is empty")
    return Bout(behavior, row.get("subject", "").strip(), row.get("target", "").strip() or None, int(start),
                int(start) + 1 if stop is None else int(stop), point=stop is None, line=line)


def _number(value: str, column: str, where: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise InputError(where, f"{column} {value!r} is not a number") from None


def write_bout_csv(annotation: Annotation, path: str | Path, *, units: str = "frames") -> Path:
    """Write the bouts as a plain CSV, in frames (exact) or seconds (6 decimals).

    Examples
    --------
    >>> a = Annotation((Bout("groom", "m01", None, 30, 75),), fps=30.0, source="-", fmt="csv")
    >>> print(open(write_bout_csv(a, "b.csv")).read(), end="")          # doctest: +SKIP
    behavior,subject,target,start_frame,stop_frame
    groom,m01,,30,75
    """
    if units not in _TIMES:
        raise ValueError(f"units must be 'frames' or 'seconds', got {units!r}")
    path = Path(path)

    def time(frame: int) -> str:
        return str(frame) if units == "frames" else f"{frame_to_seconds(frame, annotation.fps):.6f}"

    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["behavior", "subject", "target", *_TIMES[units]])
        writer.writerows([b.behavior, b.subject, b.target or "", time(b.start_frame),
                          "" if b.point else time(b.stop_frame)] for b in annotation.bouts)
    return path
