"""DeepEthogram per-frame label files (``*_labels.csv``) in, and out.

Layout (DeepEthogram ``file_io.read_label_csv``: ``pd.read_csv(index_col=0)``)::

    ,background,Attack,Sniffing
    0,0,1,1
    1,0,1,1

One row per video frame, the first column counting frames from 0; a
``background`` column (1 where no behaviour is labelled) and one 0/1 column
per behaviour. Several behaviours may be 1 on one frame. ``-1`` marks a
frame not labelled yet: it is in no bout. ``background`` is not read:
where it contradicts a behaviour column (the real SimBA sample says both
background and Sniffing on 5 frames) the behaviour wins; the writer sets it
to 1 exactly where no behaviour is. LF or CRLF line ends. Runs of 1
become bouts ``[first, last + 1)``. DeepEthogram labels name no animal:
``subject=`` names the agent.

A first column that does not count frames 0, 1, 2... (times, or frame
numbers with gaps) is an error: the file must be one row per frame.
"""

from __future__ import annotations

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


def read_deepethogram(path: str | Path, *, fps: float, subject: str = "", n_frames: int | None = None,
                      subjects=None, behaviors=None) -> Annotation:
    """Read a DeepEthogram label CSV.

    Parameters
    ----------
    path : str or Path
    fps : float
        The recording's frame rate (the file has none; frames are rows).
    subject : str
        The animal these labels are about.
    n_frames : int, optional
        Frames in the recording: a file with more rows is an error.
    subjects, behaviors
        As for :func:`pipeline.io.boris.read_boris` (``background`` is not a behaviour).

    Returns
    -------
    Annotation
        ``fmt="deepethogram"``; ``n_frames`` is the number of rows.

    Examples
    --------
    >>> a = read_deepethogram("deepethogram_Together_1.csv", fps=30)   # doctest: +SKIP
    >>> a.n_frames, a.behaviors                                        # doctest: +SKIP
    (1738, ('Attack', 'Sniffing'))
    """
    fps = check_fps_argument(fps)
    path = as_path(path)
    header, rows = _table(path)
    names = header[1:]
    if "background" not in names:
        raise InputError(at(path, 1), f"no 'background' column (columns {names}): not a DeepEthogram label file")
    if n_frames is not None and len(rows) > n_frames:
        raise InputError(at(path, rows[n_frames][0]), f"the file labels {len(rows)} frames, the video has "
                                                      f"{n_frames}")
    names = [n for n in names if n != "background"]
    values = [_row_values(line, cells, header, path) for line, cells in rows]
    bouts = []
    for name in names:
        column = [v[name] == 1 for v in values]
        bouts += bouts_from_frames(column, behavior=name, subject=subject, first_line=2)
    annotation = Annotation(sort_bouts(bouts), fps=fps, source=str(path), fmt="deepethogram",
                            n_frames=len(rows), behaviors=tuple(names))
    return finish(annotation, n_frames=n_frames, subjects=subjects, behaviors=behaviors)


def _table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [c.strip() for c in next(reader, [])]
            rows = [(reader.line_num, cells) for cells in reader if cells]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(path, f"cannot read as a DeepEthogram CSV: {e}") from e
    if len(header) < 2:
        raise InputError(at(path, 1), "no header with a frame column and label columns")
    return header, rows


def _row_values(line: int, cells: list[str], header: list[str], path) -> dict[str, int]:
    if len(cells) != len(header):
        raise InputError(at(path, line), f"{len(cells)} cells, the header has {len(header)}")
    frame = line - 2
    if cells[0].strip() != str(frame):
        raise InputError(at(path, line), f"first column {cells[0]!r} where frame {frame} was expected: "
                                         "a DeepEthogram label file has one row per frame, counted from 0 "
                                         "(frames, not seconds or frame numbers with gaps)")
    out = {}
    for name, cell in zip(header[1:], cells[1:]):
        value = cell.strip()
        if value not in ("0", "1", "-1", "0.0", "1.0", "-1.0"):
            raise InputError(at(path, line), f"{name} = {cell!r}: labels are 0, 1 or -1 (not labelled)")
        out[name] = int(float(value))
    return out


def write_deepethogram(annotation: Annotation, path: str | Path, *, n_frames: int | None = None) -> Path:
    """Write an annotation as a DeepEthogram label CSV (``background`` first, then its behaviours).

    Parameters
    ----------
    annotation : Annotation
        Bouts of one subject (DeepEthogram labels name no animal), no targets.
    path : str or Path
    n_frames : int, optional
        Rows to write; default the annotation's declared frame count, else its last bout's end.

    Examples
    --------
    >>> from pipeline.annotations import Bout
    >>> a = Annotation((Bout("rear", "", None, 1, 3),), fps=30.0, source="-", fmt="csv", behaviors=("rear",))
    >>> print(open(write_deepethogram(a, tmp / "l.csv")).read(), end="")    # doctest: +SKIP
    ,background,rear
    0,1,0
    1,0,1
    2,0,1
    """
    path = Path(path)
    who = sorted({(b.subject, b.target) for b in annotation.bouts}, key=str)
    if len(who) > 1:
        raise InputError(path, f"DeepEthogram labels name no animal, but the bouts have {len(who)} "
                               f"subject/target pairs {who}: write one file per subject")
    names = list(dict.fromkeys([*annotation.behaviors, *(b.behavior for b in annotation.bouts)]))
    n = n_frames if n_frames is not None else max([annotation.n_frames or 0, *(b.stop_frame for b in annotation.bouts)])
    if any(b.stop_frame > n for b in annotation.bouts):
        raise InputError(path, f"a bout ends after frame {n} (n_frames={n})")
    labels = [[0] * len(names) for _ in range(n)]
    for b in annotation.bouts:
        for i in range(b.start_frame, b.stop_frame):
            labels[i][names.index(b.behavior)] = 1
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["", "background", *names])
        writer.writerows([i, int(not any(row)), *row] for i, row in enumerate(labels))
    return path
