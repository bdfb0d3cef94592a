"""DeepLabCut readers: single- and multi-animal ``.h5`` and ``.csv`` output.

The table is read with pandas (the ``df_with_missing`` key of a DLC ``.h5``,
or the only key, e.g. ``tracks`` in deepof exports; the 3 or 4 header rows
of a ``.csv``) and converted with
``movement.io.load_poses.from_dlc_style_df``.

Individuals
    Multi-animal files: the ``individuals`` header, in file order (maDLC
    "unique bodyparts" become an individual ``single``, NaN elsewhere).
    Single-animal files: one individual named ``individual_0``.
Missing points
    DLC writes an undetected point as ``x=0, y=0, likelihood=0``.  Such
    points get NaN positions; their confidence stays 0 (the file's
    likelihood), so "detected with score 0" and "absent" remain
    distinguishable from "unknown" (NaN).  Empty CSV cells (NaN) stay NaN
    in both arrays.
Frames
    One frame per table row, in row order (the index is not interpreted).
Frame rate
    DLC files do not store it: ``fps`` argument, else None.
"""

from __future__ import annotations

import csv
import warnings
from itertools import islice
from pathlib import Path

from pipeline.errors import InputError
from pipeline.io import _check_file, _hdf5_keys, _pose_from_dataset
from pipeline.pose import PoseData

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

    from movement.io import load_poses

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load_poses.from_dlc_style_df(df.astype(float), fps=fps, source_software="DeepLabCut")
    except Exception as e:
        raise InputError(path, f"cannot convert DeepLabCut table: {type(e).__name__}: {e}") from e
    # DLC's "not detected": x = y = 0 with likelihood 0 -> NaN position
    missing = (ds["confidence"] == 0) & (ds["position"] == 0).all("space")
    ds["position"] = ds["position"].where(~missing)
    return _pose_from_dataset(ds, path, source_software="DeepLabCut")


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
    full = pd.MultiIndex.from_product([df.columns.unique(lv) for lv in levels], names=levels)
    return df.reorder_levels(levels, axis=1).reindex(columns=full)


def _read_csv(path: Path):
    import pandas as pd

    try:
        with open(path, newline="") as f:
            first = [row[0] if row else "" for row in islice(csv.reader(f), 4)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(path, f"cannot read CSV: {e}") from e
    levels = list(_LEVELS) if first[1:2] == ["individuals"] else [lv for lv in _LEVELS if lv != "individuals"]
    if first[: len(levels)] != levels:
        raise InputError(path, f"not a DeepLabCut CSV: header rows start {first[:len(levels)]}, expected {levels}")
    try:
        # no index_col: a first data row like "0,,,," would become the index name; round_trip: exact floats
        df = pd.read_csv(path, header=list(range(len(levels))), float_precision="round_trip")
        df = df.set_index(df.columns[0])
    except Exception as e:
        raise InputError(path, f"cannot parse DeepLabCut CSV: {type(e).__name__}: {e}") from e
    df.index.name = None
    df.columns = pd.MultiIndex.from_tuples(df.columns, names=levels)
    _check_last_row(path, n_fields=df.shape[1] + 1)
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
