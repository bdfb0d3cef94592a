"""BORIS tabular exports (CSV or TSV) in, and out.

Layouts read (found by the header row, see BORIS ``export_observation.py``):

Events, BORIS < 8
    A preamble (``Observation id``, ``Player #1``, ``Time offset (s)``,
    independent variables), then ``Time, Media file path, Total length, FPS,
    Subject, Behavior, Behavioral category, [Modifier 1 ...], Comment, Status``.
Events, BORIS >= 8
    One header row: ``Observation id, ..., Time offset (s), Media duration
    (s), FPS, [variables], Subject, Behavior, Behavioral category,
    [Modifier #1 ...], Behavior type, Time, Media file name, Image index, ...``
    (several media: ``player #1:a.mp4;b.mp4|...`` and ``30.000;25.000``).
Aggregated events
    One row per bout: ``... Behavior type (STATE/POINT), Start (s), Stop (s),
    Duration (s) ...``.

State events are START/STOP rows paired per subject, behaviour and modifiers
(as BORIS pairs them); POINT rows are point events. BORIS's "No focal
subject" is the subject ``""``. Times are observation times: the time offset
is subtracted before they become frames (:func:`pipeline.annotations.seconds_to_frame`).
A modifier can name the target of a directed behaviour (``target_modifier=1``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import NamedTuple

from pipeline.annotations import (
    Annotation,
    Bout,
    as_path,
    at,
    check_fps,
    check_fps_argument,
    check_length,
    finish,
    frame_to_seconds,
    seconds_to_frame,
    sort_bouts,
)
from pipeline.errors import InputError

NO_FOCAL = "No focal subject"
_MODIFIER = re.compile(r"^Modifiers?( #?\d+)?$")


class Event(NamedTuple):
    """One BORIS event row: time in seconds (observation time), its status START/STOP/POINT."""

    time: float
    subject: str
    behavior: str
    modifiers: tuple[str, ...]
    status: str
    line: int
    stop: float | None = None  # aggregated rows: the stop time


def read_boris(path: str | Path, *, fps: float, n_frames: int | None = None, subjects=None, behaviors=None,
               target_modifier: int | None = None, observation: str | None = None) -> Annotation:
    """Read a BORIS tabular export (events or aggregated events; CSV or TSV).

    Parameters
    ----------
    path : str or Path
        ``.csv`` or ``.tsv`` as BORIS exports it.
    fps : float
        The recording's frame rate; the file's FPS must agree.
    n_frames : int, optional
        Frames in the recording: the file's media length must agree, and no bout may end after it.
    subjects, behaviors : Mapping or list, optional
        Allowed names (see :func:`pipeline.annotations.finish`).
    target_modifier : int, optional
        1-based modifier column holding the target of directed behaviours.
    observation : str, optional
        Observation id to read when the file holds several.

    Returns
    -------
    Annotation
        ``fmt="boris"``.

    Examples
    --------
    >>> a = read_boris("e3v813a-20210610T122332-122642_reencode.csv", fps=30)  # doctest: +SKIP
    >>> a.counts()                                                            # doctest: +SKIP
    {'interact': 10}
    """
    fps = check_fps_argument(fps)
    path = as_path(path)
    rows = _rows(path)
    header_at = _header_index(rows, path)
    meta = _preamble(rows[:header_at])
    header = [c.strip() for c in rows[header_at][1]]
    records = [dict(zip(header, cells), _line=line) for line, cells in rows[header_at + 1:] if any(cells)]
    records = _one_observation(records, path, observation)
    _check_media(records, meta, path)
    info = _media_info(records, meta, path)
    check_fps(path, info["line"], info["fps"], fps)
    check_length(path, info["line"], info["seconds"], fps, n_frames)
    events = [_event(r, header, path, target_modifier) for r in records]
    bouts = pair_events(events, path, fps=fps, offset=info["offset"], target_modifier=target_modifier)
    annotation = Annotation(sort_bouts(bouts), fps=fps, source=str(path), fmt="boris", file_fps=info["fps"],
                            media_seconds=info["seconds"], time_offset=info["offset"], media_file=info["media"],
                            behaviors=tuple(dict.fromkeys(e.behavior for e in events)))
    return finish(annotation, n_frames=n_frames, subjects=subjects, behaviors=behaviors)


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every row; TSV when the first line has a tab."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            first = f.readline()
            f.seek(0)
            reader = csv.reader(f, delimiter="\t" if "\t" in first else ",")
            rows = []
            for cells in reader:
                rows.append((reader.line_num, cells))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(path, f"cannot read as a BORIS export: {e}") from e
    return rows


def _header_index(rows, path) -> int:
    for i, (_, cells) in enumerate(rows):
        names = {c.strip() for c in cells}
        if {"Subject", "Behavior"} <= names and ({"Time", "Status"} <= names or {"Time", "Behavior type"} <= names
                                                  or {"Start (s)", "Stop (s)"} <= names):
            return i
    raise InputError(path, "not a BORIS export: no header row with Subject, Behavior and Time + Status "
                           "(BORIS < 8), Time + Behavior type (BORIS >= 8) or Start (s) + Stop (s) (aggregated)")


def _preamble(rows) -> dict[str, tuple[str, int]]:
    """The key, value rows before an old-layout header (``Time offset (s)``, ``Player #1``...)."""
    return {cells[0].strip(): (cells[1].strip() if len(cells) > 1 else "", line) for line, cells in rows if cells}


def _one_observation(records, path, observation):
    ids = list(dict.fromkeys(r.get("Observation id", "") for r in records))
    if observation is not None:
        chosen = [r for r in records if r.get("Observation id") == observation]
        if not chosen:
            raise InputError(path, f"no observation {observation!r} (the file has {', '.join(map(repr, ids))})")
        return chosen
    if len(ids) > 1:
        raise InputError(path, f"the file holds {len(ids)} observations ({', '.join(map(repr, ids))}): "
                               "choose one with observation=")
    return records


def _check_media(records, meta, path) -> None:
    """Live and image observations have no video to put frames on."""
    kinds = {r.get("Observation type", ""): r["_line"] for r in records}
    kinds.update({k: line for k, (_, line) in meta.items() if k in _NOT_MEDIA})
    bad = [(k, line) for k, line in kinds.items() if k in _NOT_MEDIA]
    if bad:
        raise InputError(at(path, bad[0][1]), f"the observation is a {bad[0][0]!r}, with no video to put its "
                                              "events on")


_NOT_MEDIA = ("Live observation", "From directories of images")


def _media_info(records, meta, path) -> dict:
    """fps, media length (s), time offset and media file, each the same on every row (else an error)."""
    fps = _single(records, ("FPS",), path, "FPS")
    seconds = _single(records, ("Media duration (s)", "Total length"), path, "media length")
    media = _single(records, ("Media file name", "Media file path", "Media file"), path, "media file",
                     number=False)
    offset = _single(records, ("Time offset (s)",), path, "time offset")
    if offset[0] is None and "Time offset (s)" in meta:
        offset = (_number(meta["Time offset (s)"][0], path, meta["Time offset (s)"][1], "time offset"),
                  meta["Time offset (s)"][1])
    if media[0] is None and "Player #1" in meta:
        media = (meta["Player #1"][0], meta["Player #1"][1])
    return {"fps": fps[0], "seconds": seconds[0], "offset": offset[0] or 0.0, "media": media[0],
            "line": fps[1] or seconds[1]}


def _single(records, columns, path, what, *, number=True):
    """(value, line) of the first of ``columns`` present; None if absent or NA; an error if rows differ."""
    column = next((c for c in columns if records and c in records[0]), None)
    if column is None:
        return None, None
    values = {}
    for r in records:
        values.setdefault(_strip_players(r.get(column, "")), r["_line"])
    values.pop("", None)
    values.pop("NA", None)
    if len(values) > 1:
        raise InputError(path, f"rows disagree on the {what} ({', '.join(map(repr, values))}): "
                               "export one observation of one video per file")
    if not values:
        return None, None
    value, line = next(iter(values.items()))
    return (_number(value, path, line, what) if number else value), line


def _strip_players(value: str) -> str:
    """``player #1:a.mp4`` -> ``a.mp4``; several players or media (``|``, ``;``) stay several."""
    parts = {re.sub(r"^player #\d+:", "", p.strip()) for p in re.split(r"[|;]", value.strip())}
    parts.discard("")
    return ";".join(sorted(parts)) if len(parts) != 1 else parts.pop()


def _number(value: str, path, line, what) -> float:
    try:
        return float(value)
    except ValueError:
        raise InputError(at(path, line), f"{what} {value!r} is not a number (several media files? "
                                         "export one video per file)") from None


def _event(record: dict, header: list[str], path, target_modifier) -> Event:
    line = record["_line"]
    modifiers = tuple(record.get(c, "").strip() for c in header if _MODIFIER.match(c))
    if target_modifier is not None and not 1 <= target_modifier <= len(modifiers):
        raise InputError(at(path, line), f"target_modifier={target_modifier}, but the file has "
                                         f"{len(modifiers)} modifier column(s)")
    subject = record.get("Subject", "").strip()
    common = dict(subject="" if subject == NO_FOCAL else subject, behavior=record.get("Behavior", "").strip(),
                  modifiers=modifiers, line=line)
    if "Start (s)" in record:
        state = "STATE" in record.get("Behavior type", "STATE").upper()
        stop = _number(record.get("Stop (s)", ""), path, line, "stop time") if state else None
        return Event(time=_number(record["Start (s)"], path, line, "start time"), status="START" if state
                     else "POINT", stop=stop, **common)
    status = (record.get("Status") or record.get("Behavior type") or "").strip().upper()
    if status not in ("START", "STOP", "POINT"):
        raise InputError(at(path, line), f"status {status!r}: expected START, STOP or POINT")
    return Event(time=_number(record.get("Time", ""), path, line, "time"), status=status, **common)


def pair_events(events, path, *, fps: float, offset: float = 0.0, target_modifier: int | None = None,
                unit: str = "line") -> list[Bout]:
    """Bouts from BORIS events: START/STOP paired per (subject, behaviour, modifiers); POINT as points.

    A STOP without an open START, a START while the same one is open, and a
    START never stopped are errors naming the row's line (or event: ``unit``).

    Examples
    --------
    >>> ev = [Event(1.0, "a", "walk", (), "START", 2), Event(2.0, "a", "walk", (), "STOP", 3)]
    >>> [(b.start_frame, b.stop_frame) for b in pair_events(ev, "x.csv", fps=10)]
    [(10, 20)]
    """
    open_: dict[tuple, Event] = {}
    bouts = []
    for e in events:
        key = (e.subject, e.behavior, e.modifiers)
        if e.status == "START" and e.stop is None:
            if key in open_:
                raise InputError(at(path, e.line, unit), f"START of {_name(e)} while the one started at line "
                                                   f"{open_[key].line} is still open")
            open_[key] = e
        elif e.status == "STOP":
            if key not in open_:
                raise InputError(at(path, e.line, unit), f"STOP of {_name(e)} without a START")
            start = open_.pop(key)
            bouts.append(_bout(start, e.time, at(path, start.line, unit), fps, offset, target_modifier))
        else:
            bouts.append(_bout(e, e.stop, at(path, e.line, unit), fps, offset, target_modifier))
    if open_:
        e = min(open_.values(), key=lambda x: x.line)
        raise InputError(at(path, e.line, unit), f"START of {_name(e)} is never stopped (unclosed START)")
    return bouts


def _name(e: Event) -> str:
    return f"{e.behavior!r} by {e.subject or NO_FOCAL!r}" + (f" ({'|'.join(e.modifiers)})" if any(e.modifiers)
                                                            else "")


def _bout(start: Event, stop_time: float | None, where: str, fps, offset, target_modifier) -> Bout:
    first = seconds_to_frame(start.time, fps, offset)
    if first < 0:
        raise InputError(where, f"time {start.time:g} s is before the video starts "
                                               f"(time offset {offset:g} s)")
    point = stop_time is None
    stop = first + 1 if point else max(seconds_to_frame(stop_time, fps, offset), first + 1)
    if not point and stop_time < start.time:
        raise InputError(where, f"{_name(start)} stops at {stop_time:g} s, before it starts")
    mods = start.modifiers
    target = (mods[target_modifier - 1] if target_modifier and len(mods) >= target_modifier else "") or None
    return Bout(start.behavior, start.subject, target, first, stop, point=point, line=start.line)


_COLUMNS = ("Observation id", "Observation date", "Description", "Observation duration", "Observation type",
            "Source", "Time offset (s)", "Media duration (s)", "FPS", "Subject", "Behavior",
            "Behavioral category", "Modifier #1", "Behavior type", "Time", "Media file name", "Image index",
            "Image file path", "Comment")


def write_boris(annotation: Annotation, path: str | Path, *, observation_id: str = "ethojoint") -> Path:
    """Write an annotation as a BORIS (>= 8) tabular events export; TSV for ``.tsv``, else CSV.

    Targets go to the ``Modifier #1`` column (read back with ``target_modifier=1``).
    Times are written with 4 decimals, so a read gives back the same frames.

    Examples
    --------
    >>> a = Annotation((Bout("walk", "m1", None, 10, 20),), fps=10.0, source="-", fmt="csv")
    >>> out = write_boris(a, "walk.csv")                               # doctest: +SKIP
    >>> read_boris(out, fps=10).bouts == a.bouts                       # doctest: +SKIP
    True
    """
    path = Path(path)
    a = annotation
    media = a.media_file or "NA"
    seconds = a.media_seconds if a.media_seconds is not None else \
        (a.n_frames / a.fps if a.n_frames is not None else None)
    common = [observation_id, "", "", "NA", "Media file(s)", f"player #1:{media}", f"{a.time_offset:g}",
              "NA" if seconds is None else f"{seconds:.3f}", f"{a.fps:.3f}"]
    rows = []
    for b in a.bouts:
        for status, frame in ((("POINT", b.start_frame),) if b.point else
                              (("START", b.start_frame), ("STOP", b.stop_frame))):
            t = frame_to_seconds(frame, a.fps, a.time_offset)
            rows.append(((t, status != "STOP"), [*common, b.subject or NO_FOCAL, b.behavior, "", b.target or "",
                                                 status, f"{t:.4f}", media, "NA", "NA", ""]))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        writer.writerow(_COLUMNS)
        writer.writerows(row for _, row in sorted(rows, key=lambda r: r[0]))
    return path
