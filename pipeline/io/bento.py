"""Bento ``.annot`` annotation files (Bento / MARS, Kennedy lab).

Layout (Bento ``saveAnnot.m`` / ``loadAnnotSheetTxt.m``)::

    Bento annotation file
    Movie file(s):  a.seq b.seq
    Stimulus name:
    Annotation start frame: 1          (or "Annotation start time:" in seconds)
    Annotation stop frame: 19955       (or "Annotation stop time:")
    Annotation framerate: 30.000000
    List of channels:     (names, to a blank line)
    List of annotations:  (names, to a blank line)
    Ch1----------
    >Attack
    Start    Stop    Duration
    3.0333   5.2333  2.2333
    (blank line, next ">behaviour", blank line + "Ch2----------" for the next channel)

Units
    Bento writes seconds (frame / framerate); older files hold frame
    numbers. Values with decimals are seconds; when every value is a whole
    number the file does not say which, and ``units=`` must.
Frames
    Bento counts frames from 1 and a bout includes its stop frame: the
    Duration column is ``stop - start + 1 frame``. Such a bout becomes
    ``[start - 1, stop)`` here. Files whose Duration is ``stop - start``
    (written by other tools) hold half-open intervals from 0 and are read
    as ``[start, stop)``. A Duration that fits neither is an error.
Channels
    One channel is read: the only one with bouts, or ``channel=``.
    Bento files name no animals: ``subject=`` names the agent.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.annotations import (
    Annotation,
    Bout,
    as_path,
    at,
    check_fps,
    check_fps_argument,
    finish,
    sort_bouts,
)
from pipeline.errors import InputError

UNITS = ("seconds", "frames")


def read_bento(path: str | Path, *, fps: float, units: str | None = None, channel: str | None = None,
               subject: str = "", n_frames: int | None = None, subjects=None, behaviors=None) -> Annotation:
    """Read one channel of a Bento ``.annot`` file.

    Parameters
    ----------
    path : str or Path
    fps : float
        The recording's frame rate; the file's ``Annotation framerate`` must agree.
    units : {"seconds", "frames"}, optional
        Required when every Start/Stop value is a whole number.
    channel : str, optional
        Required when several channels hold bouts.
    subject : str
        The animal these labels are about (Bento names none).
    n_frames, subjects, behaviors
        As for :func:`pipeline.io.boris.read_boris`.

    Returns
    -------
    Annotation
        ``fmt="bento"``; ``n_frames`` is the file's annotation stop frame.

    Examples
    --------
    >>> a = read_bento("bento_Together_1.annot", fps=30)     # doctest: +SKIP
    >>> a.counts()                                          # doctest: +SKIP
    {'Attack': 131, 'Sniffing': 98}
    """
    fps = check_fps_argument(fps)
    if units not in UNITS + (None,):
        raise ValueError(f"units must be one of {UNITS} or None, got {units!r}")
    path = as_path(path)
    lines = _lines(path)
    header = _header(lines, path)
    check_fps(path, header.get("framerate", (None, None))[1], header.get("framerate", (None,))[0], fps)
    sections = _sections(lines, path)
    rows = _pick_channel(sections, channel, path)
    units = _units(rows, units, path)
    unit = 1.0 / fps if units == "seconds" else 1.0
    bouts = [_bout(r, unit, fps if units == "seconds" else 1.0, subject, path) for r in rows]
    declared = header.get("annotations", ((),))[0]
    names = tuple(dict.fromkeys([*declared, *(r[0] for r in rows)]))
    stop = header.get("stop", (None,))[0]
    annotation = Annotation(sort_bouts(bouts), fps=fps, source=str(path), fmt="bento",
                            file_fps=header.get("framerate", (None,))[0], behaviors=names,
                            n_frames=None if stop is None else int(round(stop)),
                            media_file=header.get("movies", (None,))[0])
    return finish(annotation, n_frames=n_frames, subjects=subjects, behaviors=behaviors)


def _lines(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read as a Bento file: {e}") from e
    if not lines or not lines[0].strip().lower().startswith("bento annotation file"):
        raise InputError(at(path, 1), "not a Bento .annot file (the first line is not 'Bento annotation file')")
    return lines


_KEYS = {"annotation framerate": "framerate", "annotation stop frame": "stop", "annotation stop time": "stop_s",
         "movie file(s)": "movies"}


def _header(lines: list[str], path: Path) -> dict[str, tuple]:
    """{key: (value, line)} of the metadata; lists of channels and annotations as tuples."""
    out: dict[str, tuple] = {}
    for i, text in enumerate(lines, start=1):
        key, _, value = text.partition(":")
        name = _KEYS.get(key.strip().lower())
        if name == "movies":
            out[name] = (value.strip() or None, i)
        elif name:
            out[name] = (_float(value, path, i), i)
        elif key.strip().lower() in ("list of channels", "list of annotations"):
            out[key.strip().lower().split()[-1]] = (tuple(_block(lines, i)), i)
        elif text.rstrip().endswith("----------"):
            break
    if "stop_s" in out and "stop" not in out and "framerate" in out:
        out["stop"] = (out["stop_s"][0] * out["framerate"][0], out["stop_s"][1])
    return out


def _block(lines: list[str], i: int) -> list[str]:
    """Non-blank lines after line ``i`` (1-based) up to the first blank one."""
    out = []
    for text in lines[i:]:
        if not text.strip():
            break
        out.append(text.strip())
    return out


def _float(value: str, path, line: int) -> float:
    try:
        return float(value)
    except ValueError:
        raise InputError(at(path, line), f"{value.strip()!r} is not a number") from None


def _sections(lines: list[str], path: Path) -> dict[str, list[tuple]]:
    """{channel: [(behaviour, start, stop, duration, line), ...]}."""
    sections: dict[str, list[tuple]] = {}
    channel = behavior = None
    for i, text in enumerate(lines, start=1):
        text = text.strip()
        if text.endswith("----------"):
            channel, behavior = text[:-10].strip(), None
            sections.setdefault(channel, [])
        elif channel is None or not text or text.lower().startswith("start"):
            continue
        elif text.startswith(">"):
            behavior = text[1:].strip()
        elif behavior is None:
            raise InputError(at(path, i), f"bout values {text!r} before any '>behaviour' line")
        else:
            sections[channel].append((behavior, *_values(text, path, i), i))
    return sections


def _values(text: str, path, line: int) -> tuple[float, float, float]:
    cells = text.split()
    if len(cells) != 3:
        raise InputError(at(path, line), f"expected Start, Stop and Duration, got {text!r}")
    return tuple(_float(c, path, line) for c in cells)


def _pick_channel(sections: dict, channel: str | None, path) -> list[tuple]:
    if channel is not None:
        if channel not in sections:
            raise InputError(path, f"no channel {channel!r} (the file has {', '.join(map(repr, sections))})")
        return sections[channel]
    full = [c for c, rows in sections.items() if rows]
    if len(full) > 1:
        raise InputError(path, f"{len(full)} channels hold bouts ({', '.join(map(repr, full))}): "
                               "choose one with channel=")
    return sections[full[0]] if full else []


def _units(rows: list[tuple], units: str | None, path) -> str:
    fractional = next((r for r in rows if any(v != int(v) for v in r[1:3])), None)
    if fractional is not None and units == "frames":
        raise InputError(at(path, fractional[4]), f"units='frames', but {fractional[1]:g}, {fractional[2]:g} "
                                                  "are not whole frame numbers")
    if units is None and fractional is None and rows:
        raise InputError(path, "every Start/Stop value is a whole number: frames or seconds? "
                               "pass units='frames' or units='seconds'")
    return units or "seconds"


def _bout(row: tuple, unit: float, scale: float, subject: str, path) -> Bout:
    """``scale`` turns a value into frames (fps for seconds, 1 for frames); ``unit`` is one frame in file units."""
    behavior, start, stop, duration, line = row
    first, last = round(start * scale), round(stop * scale)
    if abs(duration - (stop - start + unit)) < unit / 4:  # Bento: 1-based, stop frame included
        first -= 1
    elif abs(duration - (stop - start)) >= unit / 4:
        raise InputError(at(path, line), f"Duration {duration:g} is neither Stop - Start ({stop - start:g}) nor "
                                         f"Stop - Start + 1 frame ({stop - start + unit:g})")
    if first < 0 or last <= first:
        raise InputError(at(path, line), f"bout {start:g}-{stop:g} is empty or before the first frame")
    return Bout(behavior, subject, None, first, last, line=line)
