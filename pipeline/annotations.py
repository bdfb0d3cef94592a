"""Human behaviour annotations: one small data model for every annotation format.

Readers in :mod:`pipeline.io` (``boris``, ``boris_project``, ``bento``,
``deepethogram``, ``simba``, ``bout_csv``) all return an :class:`Annotation`:
a tuple of :class:`Bout` plus what the file declares about its video.

Frames
    Bouts are half-open frame intervals ``[start_frame, stop_frame)`` of the
    recording, counted from 0: ``stop_frame`` is the first frame *after* the
    bout, so a bout lasts ``stop_frame - start_frame`` frames.
Point events
    ``point=True`` and ``stop_frame == start_frame + 1`` (the frame it is on).
Times
    A time ``t`` in seconds becomes the frame that starts nearest to it,
    ``floor((t - time_offset) * fps + 0.5)`` (:func:`seconds_to_frame`),
    with the *recording's* ``fps`` and the file's declared time offset.
    Nearest, not floor: exports round times (BORIS to 1 ms, Bento to 12
    digits), and 0.033 s at 30 fps is frame 1, not 0.
Subjects
    The agent's name as the file writes it; ``""`` when the file names none
    (BORIS "No focal subject", and formats without subjects unless the
    reader's ``subject=`` says whose labels they are). ``target`` is None for
    solo behaviours.

Bad input raises :class:`~pipeline.errors.InputError` naming the file, the
line (where there is one) and the problem; nothing is returned half-read.

Examples
--------
>>> a = Annotation((Bout("groom", "m1", None, 30, 90), Bout("sniff", "m1", "m2", 60, 75)),
...                fps=30.0, source="x.csv", fmt="csv")
>>> a.counts(), a.frames()
({'groom': 1, 'sniff': 1}, {'groom': 60, 'sniff': 15})
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.errors import InputError

FPS_TOLERANCE = 1e-3  # relative: BORIS writes fps to 3 decimals (29.970 for 30000/1001)


@dataclass(frozen=True)
class Bout:
    """One labelled bout (or point event) of one behaviour.

    Parameters
    ----------
    behavior : str
        Behaviour name as written in the file (or as mapped).
    subject : str
        The agent; ``""`` when the file names none.
    target : str or None
        The partner of a directed behaviour, None for a solo one.
    start_frame, stop_frame : int
        ``[start_frame, stop_frame)``, 0-based; ``stop_frame > start_frame``.
    point : bool
        A point event (one frame).
    line : int, optional
        Line of the file it came from (its START row for BORIS), for messages.

    Examples
    --------
    >>> Bout("attack", "m1", "m2", 10, 25).n_frames
    15
    """

    behavior: str
    subject: str
    target: str | None
    start_frame: int
    stop_frame: int
    point: bool = False
    line: int | None = field(default=None, compare=False)

    @property
    def n_frames(self) -> int:
        """Number of frames in the bout."""
        return self.stop_frame - self.start_frame


@dataclass(frozen=True)
class Annotation:
    """The bouts of one annotation file, on the frames of one recording.

    Parameters
    ----------
    bouts : tuple of Bout
        Sorted by start frame, behaviour, subject.
    fps : float
        The recording's frame rate used to turn times into frames.
    source : str
        The file read.
    fmt : str
        ``"boris"``, ``"boris_project"``, ``"bento"``, ``"deepethogram"``,
        ``"simba"`` or ``"csv"``.
    file_fps : float, optional
        Frame rate the file declares.
    media_seconds : float, optional
        Media length the file declares (BORIS), in seconds.
    n_frames : int, optional
        Frame count the file declares (Bento stop frame, per-frame rows).
    time_offset : float
        Seconds subtracted from the file's times before conversion.
    media_file : str, optional
        The video the file names.
    behaviors : tuple of str
        The file's vocabulary (declared, else the behaviours seen).
    unit : str
        What ``Bout.line`` counts: ``"line"`` of a text file, or ``"event"`` (BORIS project).

    Examples
    --------
    >>> Annotation((), fps=25.0, source="a.csv", fmt="csv").counts()
    {}
    """

    bouts: tuple[Bout, ...]
    fps: float
    source: str
    fmt: str
    file_fps: float | None = None
    media_seconds: float | None = None
    n_frames: int | None = None
    time_offset: float = 0.0
    media_file: str | None = None
    behaviors: tuple[str, ...] = ()
    unit: str = "line"

    def counts(self) -> dict[str, int]:
        """Number of bouts (and point events) per behaviour."""
        out: dict[str, int] = {}
        for b in self.bouts:
            out[b.behavior] = out.get(b.behavior, 0) + 1
        return out

    def frames(self) -> dict[str, int]:
        """Total frames labelled per behaviour (overlapping bouts counted twice)."""
        out: dict[str, int] = {}
        for b in self.bouts:
            out[b.behavior] = out.get(b.behavior, 0) + b.n_frames
        return out


def seconds_to_frame(t: float, fps: float, offset: float = 0.0) -> int:
    """The frame that starts nearest to time ``t`` (seconds) of a file with time ``offset``.

    Examples
    --------
    >>> seconds_to_frame(0.033, 30), seconds_to_frame(29.85, 30), seconds_to_frame(10.5, 30, offset=0.5)
    (1, 896, 300)
    """
    return math.floor((t - offset) * fps + 0.5)


def frame_to_seconds(frame: int, fps: float, offset: float = 0.0) -> float:
    """The time at which ``frame`` starts, in the file's time base (``offset`` added).

    Examples
    --------
    >>> frame_to_seconds(90, 30, offset=1.0)
    4.0
    """
    return frame / fps + offset


def at(path, line: int | None, unit: str = "line") -> str:
    """``"path, line N"`` (or the path alone) for an :class:`InputError` source.

    Examples
    --------
    >>> at("a.csv", 7), at("p.boris", 3, "event")
    ('a.csv, line 7', 'p.boris, event 3')
    """
    return f"{path}, {unit} {line}" if line else str(path)


def check_fps(path, line: int | None, file_fps: float | None, fps: float) -> None:
    """InputError when the file's frame rate disagrees with the recording's (relative 1e-3).

    Examples
    --------
    >>> check_fps("a.csv", 17, 29.97, 30000 / 1001)
    >>> check_fps("a.csv", 17, 25.0, 30.0)
    Traceback (most recent call last):
    ...
    pipeline.errors.InputError: a.csv, line 17: the file says 25 fps, the recording has 30 fps
    """
    if file_fps is not None and abs(file_fps - fps) > FPS_TOLERANCE * fps:
        raise InputError(at(path, line), f"the file says {file_fps:g} fps, the recording has {fps:g} fps")


def check_length(path, line: int | None, seconds: float | None, fps: float, n_frames: int | None) -> None:
    """InputError when the file's media length and the recording's differ by more than 1 frame (+ 1 ms).

    Examples
    --------
    >>> check_length("a.csv", 3, 190.0, 30.0, 5700)
    >>> check_length("a.csv", 3, 200.0, 30.0, 5700)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pipeline.errors.InputError: a.csv, line 3: the file's media is 200.000 s long, the recording 190.000 s ...
    """
    if seconds is None or n_frames is None:
        return
    if abs(seconds - n_frames / fps) > 1.0 / fps + 1e-3:
        raise InputError(at(path, line), f"the file's media is {seconds:.3f} s long, the recording "
                                         f"{n_frames / fps:.3f} s ({n_frames} frames at {fps:g} fps)")


def check_fps_argument(fps) -> float:
    """The recording's frame rate as a float; ValueError unless positive and finite.

    Examples
    --------
    >>> check_fps_argument(30)
    30.0
    """
    if fps is None or not (isinstance(fps, int | float) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number (the recording's frame rate), got {fps!r}")
    return float(fps)


def finish(annotation: Annotation, *, n_frames: int | None = None, subjects=None,
           behaviors=None) -> Annotation:
    """Check an annotation against its recording and rename its subjects and behaviours.

    Parameters
    ----------
    annotation : Annotation
    n_frames : int, optional
        Frames in the recording: a bout ending after it is an error.
    subjects, behaviors : Mapping or iterable of str, optional
        Allowed names, as ``{name in file: name to use}`` or a list (kept
        as they are). A subject (or target) or behaviour not in it is an error.

    Returns
    -------
    Annotation
        Bouts renamed and sorted.

    Examples
    --------
    >>> a = Annotation((Bout("interact", "adult", None, 0, 5, line=17),), fps=30.0, source="b.csv", fmt="boris")
    >>> finish(a, subjects={"adult": "m01"}).bouts[0].subject
    'm01'
    >>> finish(a, behaviors=["attack"])
    Traceback (most recent call last):
    ...
    pipeline.errors.InputError: b.csv, line 17: behaviour 'interact' is not in the mapping (known: 'attack')
    """
    path = annotation.source
    subject_map, behavior_map = _as_mapping(subjects), _as_mapping(behaviors)
    bouts = []
    for b in annotation.bouts:
        where = at(path, b.line, annotation.unit)
        if n_frames is not None and b.stop_frame > n_frames:
            raise InputError(where, f"{b.behavior!r} bout at frames {b.start_frame}-{b.stop_frame} "
                                    f"ends after the video ({n_frames} frames)")
        bouts.append(replace(b, behavior=_rename(behavior_map, b.behavior, "behaviour", where),
                             subject=_rename(subject_map, b.subject, "subject", where),
                             target=None if b.target is None else _rename(subject_map, b.target, "target", where)))
    names = annotation.behaviors if behavior_map is None else \
        tuple(dict.fromkeys(behavior_map[x] for x in annotation.behaviors if x in behavior_map))
    return replace(annotation, bouts=sort_bouts(bouts), behaviors=names)


def _as_mapping(names) -> dict | None:
    if names is None:
        return None
    if isinstance(names, Mapping):
        return dict(names)
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise ValueError(f"a name mapping must be a dict or a list of names, got {names!r}")
    return {n: n for n in names}


def _rename(mapping: dict | None, name: str, what: str, where: str) -> str:
    if mapping is None:
        return name
    if name not in mapping:
        known = ", ".join(repr(k) for k in mapping) or "none"
        raise InputError(where, f"{what} {name!r} is not in the mapping (known: {known})")
    return mapping[name]


def sort_bouts(bouts: Iterable[Bout]) -> tuple[Bout, ...]:
    """Bouts in a canonical order: start frame, behaviour, subject, target, stop frame.

    Examples
    --------
    >>> [b.behavior for b in sort_bouts([Bout("b", "", None, 5, 6), Bout("a", "", None, 5, 9)])]
    ['a', 'b']
    """
    return tuple(sorted(bouts, key=lambda b: (b.start_frame, b.behavior, b.subject, b.target or "", b.stop_frame)))


def bouts_from_frames(column, *, behavior: str, subject: str = "", target: str | None = None,
                      first_line: int = 2) -> list[Bout]:
    """Bouts of one behaviour from its per-frame 0/1 column (row i = frame i).

    ``first_line`` is the file line of frame 0 (for messages).

    Examples
    --------
    >>> [(b.start_frame, b.stop_frame) for b in bouts_from_frames([0, 1, 1, 0, 1], behavior="a")]
    [(1, 3), (4, 5)]
    """
    bouts, start = [], None
    for i, on in enumerate([*column, 0]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            bouts.append(Bout(behavior, subject, target, start, i, line=first_line + start))
            start = None
    return bouts


def as_path(path) -> Path:
    """``path`` as a Path; InputError unless it is an existing file.

    Examples
    --------
    >>> as_path("no/such.csv")
    Traceback (most recent call last):
    ...
    pipeline.errors.InputError: no/such.csv: file not found
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found" if not path.exists() else "not a regular file")
    return path


READ_FORMATS = ("boris", "boris_project", "bento", "deepethogram", "simba", "csv")
WRITE_FORMATS = ("boris", "deepethogram", "csv")
_BY_SUFFIX = {".boris": "boris_project", ".annot": "bento", ".tsv": "boris"}


def read_annotation(path, *, fps: float, fmt: str | None = None, **options) -> Annotation:
    """Read an annotation file with the reader of ``fmt`` (see :data:`READ_FORMATS`).

    ``fmt`` may be left out only for ``.boris``, ``.annot`` and ``.tsv``
    files: a ``.csv`` could be any of four formats, and is not guessed.
    ``options`` go to the reader (``n_frames``, ``subjects``, ``behaviors``...).

    Examples
    --------
    >>> read_annotation("labels.csv", fps=30)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pipeline.errors.InputError: labels.csv: say which format it is: fmt= one of boris, boris_project, bento, ...
    """
    fmt = fmt or _BY_SUFFIX.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(path, f"say which format it is: fmt= one of {', '.join(READ_FORMATS)}")
    if fmt not in READ_FORMATS:
        raise ValueError(f"fmt must be one of {READ_FORMATS}, got {fmt!r}")
    from pipeline.io import bento, boris, boris_project, bout_csv, deepethogram, simba

    reader = {"boris": boris.read_boris, "boris_project": boris_project.read_boris_project,
              "bento": bento.read_bento, "deepethogram": deepethogram.read_deepethogram, "simba": simba.read_simba,
              "csv": bout_csv.read_bout_csv}[fmt]
    return reader(path, fps=fps, **options)


def write_annotation(annotation: Annotation, path, *, fmt: str, **options) -> Path:
    """Write ``annotation`` as ``fmt``: ``"boris"`` (tabular events), ``"deepethogram"`` or ``"csv"``.

    Examples
    --------
    >>> write_annotation(Annotation((), fps=30.0, source="-", fmt="csv"), "x.json", fmt="json")
    Traceback (most recent call last):
    ...
    ValueError: fmt must be one of ('boris', 'deepethogram', 'csv'), got 'json'
    """
    if fmt not in WRITE_FORMATS:
        raise ValueError(f"fmt must be one of {WRITE_FORMATS}, got {fmt!r}")
    from pipeline.io import boris, bout_csv, deepethogram

    writer = {"boris": boris.write_boris, "deepethogram": deepethogram.write_deepethogram,
              "csv": bout_csv.write_bout_csv}[fmt]
    return writer(annotation, path, **options)
