"""DeepLabCut readers: single- and multi-animal ``.h5`` and ``.csv`` output.

The table is read with pandas (the ``df_with_missing`` key of a DLC ``.h5``,
or the only key, e.g. ``tracks`` in deepof exports; the 3 or 4 header rows
of a ``.csv``) and converted with
``movement.io.load_poses.from_dlc_style_df``.

Individuals
    Multi-animal files: the ``individuals`` header, in file order (maDLC
    "unique bodyparts" become an individual ``single``, NaN elsewhere).
    Single-animal files: one individual named ``individual_0``.
Individuals written as body-part prefixes (``B_Nose``, ``W_Nose``) are
    split by :func:`pipeline.io.read_pose` (see :mod:`pipeline.io.prefixes`).
Coordinates
    ``x, y`` or ``x, y, z``, with or without ``likelihood`` (MABe and
    AmadeusGPT tables have none: confidence is then NaN). Other coordinate
    names are an error.
Missing points
    DLC writes an undetected point as ``x=0, y=0, likelihood=0``; tables
    without a likelihood write (0, 0) or NaN.  :func:`pipeline.io.read_pose`
    turns every point at exactly the origin into NaN (unless
    ``zero_is_valid``); confidence stays as written.  Empty CSV cells
    (NaN) stay NaN in both arrays.
Frames
    One frame per table row, in row order, from frame 0. A table indexed by
    labelled image names (``labeled-data/video/img0050.png``, DeepLabCut's
    ``CollectedData`` and ground-truth tables) is placed at the frame
    numbers in the names: the array starts at the first one
    (``frame_offset``) and frames without a row are NaN.
Frame rate
    DLC files do not store it: ``fps`` argument, else None.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import replace
from itertools import islice, takewhile
from pathlib import Path

import numpy as np

from pipeline.errors import InputError
from pipeline.io import _check_file, _hdf5_keys, _pose_from_dataset
from pipeline.pose import PoseData, relayout

_LEVELS = ("scorer", "individuals", "bodyparts", "coords")


def read_dlc(path: str | Path, *, fps: float | None = None) -> PoseData:
    """Read a DeepLabCut ``.h5`` or ``.csv`` pose file.

    Parameters
    ----------
    path : str or Path
        DLC output table (single- or multi-animal).
    fps : float, optional
        Frame rate (DLC files do not store one).

    Returns
    -------
    PoseData
        ``source_software="DeepLabCut"``; 0,0/likelihood-0 points are NaN.

    Examples
    --------
    >>> pose = read_dlc("testDLC_h5_table_madlc.h5", fps=25)  # doctest: +SKIP
    >>> pose.individuals                                      # doctest: +SKIP
    ('mouse_black_tail', 'mouse_white_tail')
    """
    path = _check_file(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df = _read_csv(path)
    elif suffix == ".h5":
        df = _read_h5(path)
    else:
        raise InputError(path, f"a DeepLabCut file must be .h5 or .csv, not {path.suffix!r}")
    if len(df) == 0:
        raise InputError(path, "file has zero frames")
    df = _tidy_columns(df, path)

    from pipeline.io._movement import movement_load_poses

    load_poses = movement_load_poses()

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load_poses.from_dlc_style_df(df.astype(float), fps=fps, source_software="DeepLabCut")
    except Exception as e:
        raise InputError(path, f"cannot convert DeepLabCut table: {type(e).__name__}: {e}") from e
    pose = _pose_from_dataset(ds, path, source_software="DeepLabCut")
    return place_frames(pose, frame_numbers(df.index, path), path)


def _tidy_columns(df, path: Path):
    """Drop the scorer level and order columns individual > bodypart > coord.

    Missing combinations (maDLC "unique bodyparts", stored under the
    individual ``single``) become NaN columns.
    """
    import pandas as pd

    names = list(df.columns.names)
    if not isinstance(df.columns, pd.MultiIndex) or not {"bodyparts", "coords"} <= set(names):
        raise InputError(path, f"not a DeepLabCut table (column levels {names})")
    if "scorer" in names:
        df = df.droplevel("scorer", axis=1)
    if df.columns.has_duplicates:
        raise InputError(path, "DeepLabCut table has duplicate columns (several scorers?)")
    levels = [lv for lv in _LEVELS[1:] if lv in df.columns.names]
    coords = [str(c) for c in df.columns.unique("coords")]
    order = [c for c in ("x", "y", "z", "likelihood") if c in coords]
    if sorted(order) != sorted(coords) or order[:2] != ["x", "y"]:
        from pipeline.io.lightning_pose import LP_ONLY_COORDS

        lp = [c for c in coords if c in LP_ONLY_COORDS]
        hint = (f"; {lp} are Lightning Pose / eks columns: read it with format lightning_pose" if lp else "")
        raise InputError(path, f"coordinates {coords}: expected x, y[, z][, likelihood]{hint}")
    _check_complete(df, levels, order, path)
    uniques = [df.columns.unique(lv) if lv != "coords" else pd.Index(order) for lv in levels]
    full = pd.MultiIndex.from_product(uniques, names=levels)
    return df.reorder_levels(levels, axis=1).reindex(columns=full)


def _check_complete(df, levels: list, coords: list, path: Path) -> None:
    """Every body part (of every individual) that has a column has all of ``coords``: an x without its y,
    or a body part without the likelihood the others have, is an error naming the missing columns.

    A body part with no column at all for an individual (maDLC "unique bodyparts") is allowed.
    """
    have: dict[tuple, set] = {}
    position = levels.index("coords")
    for column in df.columns.reorder_levels(levels):
        have.setdefault(tuple(c for i, c in enumerate(column) if i != position), set()).add(str(column[position]))
    missing = [" ".join(map(str, (*part, c))) for part, found in have.items() for c in coords if c not in found]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise InputError(path, f"missing column(s) {shown}: every body part needs the same coordinates "
                               f"({', '.join(coords)})")


def frame_numbers(index, path) -> np.ndarray | None:
    """Video frame numbers of a table indexed by labelled image names; None for a plain row index.

    DeepLabCut names extracted frames ``img<frame number>.png`` (any digits
    at the end of the file name count). A mixture of names with and
    without numbers, or a number used twice, is an error.
    """
    values = [v[-1] if isinstance(v, tuple) else v for v in index]
    if not values or not all(isinstance(v, str) for v in values):
        return None
    numbers = [re.search(r"(\d+)\.\w+$", v) for v in values]
    bad = [v for v, m in zip(values, numbers) if m is None]
    if bad:
        raise InputError(path, f"rows are image names, but {bad[:3]} carry no frame number")
    frames = np.array([int(m.group(1)) for m in numbers])
    if len(set(frames.tolist())) != len(frames):
        raise InputError(path, "two rows name the same frame number")
    return frames


def place_frames(pose: PoseData, frames: np.ndarray | None, path) -> PoseData:
    """Put the rows of a table indexed by image names at their frame numbers."""
    if frames is None:
        return pose
    first = int(frames.min())
    n = int(frames.max()) - first + 1
    positions = np.full((n,) + pose.positions.shape[1:], np.nan)
    confidence = np.full((n,) + pose.confidence.shape[1:], np.nan)
    positions[frames - first], confidence[frames - first] = pose.positions, pose.confidence
    extra = relayout(pose, confidence.shape, lambda out, a: out.__setitem__(frames - first, a))
    reading = dict(pose.reading, frames_from_image_names=True, labelled_frames=len(frames))
    return replace(pose, positions=positions, confidence=confidence, frame_offset=first, reading=reading,
                   uncertainty=extra)


def _read_csv(path: Path):
    """A DLC CSV: 3 or 4 header rows, then one row per frame (or labelled image).

    The index is the first column, or, as DeepLabCut 2.3+ writes labelled
    data, the first three (``labeled-data, video, img0050.png``), which the
    header rows leave empty.
    """
    import pandas as pd

    try:
        with open(path, newline="") as f:
            head = list(islice(csv.reader(f), 4))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(path, f"cannot read CSV: {e}") from e
    first = [row[0] if row else "" for row in head]
    levels = list(_LEVELS) if first[1:2] == ["individuals"] else [lv for lv in _LEVELS if lv != "individuals"]
    if first[: len(levels)] != levels:
        raise InputError(path, f"not a DeepLabCut CSV: header rows start {first[:len(levels)]}, expected {levels}")
    n_index = 1 + len(list(takewhile(lambda cell: cell == "", head[0][1:])))
    try:
        # no index_col: a first data row like "0,,,," would become the index name; round_trip: exact floats
        df = pd.read_csv(path, header=list(range(len(levels))), float_precision="round_trip")
        df = df.set_index(list(df.columns[:n_index]))
    except Exception as e:
        raise InputError(path, f"cannot parse DeepLabCut CSV: {type(e).__name__}: {e}") from e
    df.index.names = [None] * n_index
    df.columns = pd.MultiIndex.from_tuples(df.columns, names=levels)
    _check_last_row(path, n_fields=df.shape[1] + n_index)
    return df


def _check_last_row(path: Path, *, n_fields: int) -> None:
    """Raise if the last line has fewer fields than the header (truncated copy)."""
    size, window = path.stat().st_size, 1 << 16
    with open(path, "rb") as f:
        while True:  # widen the window until it holds one complete line
            f.seek(max(0, size - window))
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
            if window >= size or len(lines) >= 2:
                break
            window *= 4
    last = lines[-1] if lines else b""
    if last.count(b",") + 1 != n_fields:
        raise InputError(path, f"last row has {last.count(b',') + 1} fields, header has {n_fields}: truncated file?")


def _read_h5(path: Path):
    import pandas as pd

    _, pandas_keys = _hdf5_keys(path)
    key = "df_with_missing" if "df_with_missing" in pandas_keys else None
    if key is None and len(pandas_keys) == 1:
        key = next(iter(pandas_keys))
    if key is None:
        raise InputError(path, f"no DeepLabCut table in HDF5 file (pandas keys: {sorted(pandas_keys)})")
    try:
        df = pd.read_hdf(path, key=key)
    except Exception as e:
        raise InputError(path, f"cannot read DeepLabCut table {key!r}: {type(e).__name__}: {e}") from e
    if not isinstance(df, pd.DataFrame):
        raise InputError(path, f"{key!r} is not a DataFrame")
    return df
