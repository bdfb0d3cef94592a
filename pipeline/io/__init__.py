"""Pose-file readers: every supported format in, one :class:`PoseData` out.

One module per format (``sleap``, ``dlc``, ``nwb``, ``lightning_pose``) built on movement and
sleap-io; :func:`read_pose` picks one by extension and, for ``.h5``/``.csv``,
by content.  Bad input raises exactly one :class:`~pipeline.errors.InputError`.
movement, sleap-io and pynwb are imported on first read (importing movement
configures its logger: stderr and ``~/.movement/``).

Examples
--------
>>> from pipeline.io import read_pose
>>> pose = read_pose("clip.predictions.slp", fps=30)     # doctest: +SKIP
>>> pose.n_frames, pose.individuals                      # doctest: +SKIP
(1500, ('female', 'male'))
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from pipeline.errors import InputError
from pipeline.pose import PoseData

FORMATS = ("sleap", "dlc", "nwb", "anipose", "lightning_pose")  # values of read_pose(..., fmt=...)
__all__ = ["FORMATS", "detect_format", "read_pose", "zeros_to_missing"]


def read_pose(path: str | Path, *, fmt: str | None = None, fps: float | None = None,
              zero_is_valid: bool = False, individual_prefixes=None) -> PoseData:
    """Read one pose file into :class:`PoseData`.

    Parameters
    ----------
    path : str or Path
        A SLEAP ``.slp`` or analysis ``.h5``, a DeepLabCut ``.h5``/``.csv``,
        an NWB ``.nwb`` (ndx-pose), an Anipose triangulation ``.csv`` or a
        Lightning Pose / eks ``.csv``.
    fmt : {"sleap", "dlc", "nwb", "anipose", "lightning_pose"}, optional
        Skip detection and use this reader.  ``"anipose"`` reads an Anipose
        3D ``.csv``; given a ``.h5`` it reads the per-camera SLEAP analysis
        file of an Anipose session.  Without it, a DLC-style CSV is read as
        Lightning Pose when :func:`pipeline.io.lightning_pose.looks_like_lightning_pose`
        finds evidence, else as DeepLabCut; ``reading["format_chosen"]`` says why.
    fps : float, optional
        Frame rate to use when the file does not store one.  A rate stored
        in the file (NWB) wins; a different ``fps`` then gives a warning.

    Returns
    -------
    PoseData

    Raises
    ------
    InputError
        Missing, unreadable or corrupt file, unknown format, zero frames,
        every point missing; body-part prefixes that are ambiguous (the message lists them).

    Examples
    --------
    >>> pose = read_pose("mice_DLC.csv", fps=25)              # doctest: +SKIP
    >>> pose.positions.shape                                  # doctest: +SKIP
    (100, 2, 14, 2)
    """
    if fmt not in FORMATS + (None,):
        raise ValueError(f"fmt must be one of {FORMATS} or None, got {fmt!r}")
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    path = _check_file(path)
    chosen = "given (fmt)" if fmt else None
    if fmt is None:
        fmt, chosen = _detect(path)
    if fmt == "lightning_pose":
        from pipeline.io.lightning_pose import read_lightning_pose as reader
    elif fmt == "sleap" or (fmt == "anipose" and path.suffix.lower() != ".csv"):
        from pipeline.io.sleap import read_sleap as reader
    elif fmt == "dlc":
        from pipeline.io.dlc import read_dlc as reader
    elif fmt == "nwb":
        from pipeline.io.nwb import read_nwb as reader
    else:
        reader = _read_anipose
    from pipeline.io.prefixes import split_prefixed

    pose = reader(path, fps=fps)
    pose = replace(pose, reading=dict(pose.reading, format=fmt, format_chosen=chosen))
    if fmt == "lightning_pose" and individual_prefixes is None:
        individual_prefixes = False  # one animal per file: paw1_top / paw1_bot are views, not animals
    pose = split_prefixed(pose, individual_prefixes, source=path)
    pose = zeros_to_missing(pose, zero_is_valid=zero_is_valid)
    if np.isnan(pose.positions).all():
        raise InputError(path, f"every point of its {pose.n_frames} frame(s) is missing (NaN, or (0, 0) read as "
                               "missing): no pose data to score")
    return pose


def zeros_to_missing(pose: PoseData, *, zero_is_valid: bool = False) -> PoseData:
    """Points at exactly (0, 0) or (0, 0, 0) become missing, unless ``zero_is_valid``.

    Confidence is left as the file wrote it. The number of points turned
    missing is ``reading["zero_points_missing"]`` (0 with ``zero_is_valid``).

    Examples
    --------
    >>> import numpy as np
    >>> p = PoseData(np.array([[[[0.0, 0.0], [3.0, 0.0]]]]), np.full((1, 1, 2), np.nan),
    ...              individuals=("a",), keypoints=("nose", "tail"))
    >>> q = zeros_to_missing(p)
    >>> q.reading["zero_points_missing"], np.isnan(q.positions[0, 0, :, 0]).tolist()
    (1, [True, False])
    """
    zero = (pose.positions == 0).all(axis=-1)
    count = 0 if zero_is_valid else int(zero.sum())
    positions = pose.positions if not count else np.where(zero[..., None], np.nan, pose.positions)
    reading = dict(pose.reading, zero_is_valid=bool(zero_is_valid), zero_points_missing=count)
    return replace(pose, positions=positions, reading=reading)


def _detect(path: Path) -> tuple[str, str]:
    """(format, why) for a file read without a given format."""
    fmt = detect_format(path)
    if fmt == "lightning_pose":
        from pipeline.io.lightning_pose import looks_like_lightning_pose

        return fmt, f"detected: {looks_like_lightning_pose(path)}"
    if fmt == "dlc" and path.suffix.lower() == ".csv":
        return fmt, ("detected: DLC-style CSV; no Lightning Pose / eks coordinates, no '<model>_tracker' "
                     "scorer (format: lightning_pose reads it as Lightning Pose)")
    return fmt, "detected from the extension and contents"


def detect_format(path: str | Path) -> str:
    """Guess the format of a pose file from its extension and header.

    Parameters
    ----------
    path : str or Path
        The pose file.

    Returns
    -------
    str
        One of :data:`FORMATS`; InputError if none fits.

    Examples
    --------
    >>> detect_format("clip.slp")                             # doctest: +SKIP
    'sleap'
    """
    path = _check_file(path)
    suffix = path.suffix.lower()
    if suffix in (".slp", ".nwb"):
        return {".slp": "sleap", ".nwb": "nwb"}[suffix]
    if suffix == ".h5":
        keys, pandas_keys = _hdf5_keys(path)
        if {"tracks", "node_names"} <= keys:
            return "sleap"
        if pandas_keys:  # DeepLabCut writes a pandas DataFrame
            return "dlc"
        raise InputError(path, f"HDF5 file is neither SLEAP analysis nor DeepLabCut (top-level keys: {sorted(keys)})")
    if suffix == ".csv":
        try:
            with open(path, newline="") as f:
                header = next(csv.reader(f), [])
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise InputError(path, f"cannot read CSV header: {e}") from e
        if header[:1] == ["scorer"]:
            from pipeline.io.lightning_pose import looks_like_lightning_pose

            return "lightning_pose" if looks_like_lightning_pose(path) else "dlc"
        if "fnum" in header and any(h.endswith("_score") for h in header):
            return "anipose"
        raise InputError(path, "CSV is neither DeepLabCut (first cell 'scorer') nor Anipose ('fnum' column)")
    raise InputError(path, f"unknown file extension {path.suffix!r} (expected one of .slp, .h5, .csv, .nwb)")


def _check_file(path: str | Path) -> Path:
    """Return ``path`` as a Path; InputError if it is not an existing file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found" if not path.exists() else "not a regular file")
    return path


def _hdf5_keys(path: Path) -> tuple[set[str], set[str]]:
    """Top-level names of an HDF5 file and those holding pandas objects; InputError if not HDF5."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return set(f.keys()), {k for k in f if "pandas_type" in f[k].attrs}
    except Exception as e:
        raise InputError(path, f"not a readable HDF5 file (corrupt or truncated?): {e}") from e


def _pose_from_dataset(ds, path: Path, *, individuals=None, edges=(), source_software=None) -> PoseData:
    """movement Dataset -> PoseData, transposed by dimension name; a partly NaN point becomes all NaN."""
    return pose_from_arrays(
        ds["position"].transpose("time", "individuals", "keypoints", "space").to_numpy(),
        ds["confidence"].transpose("time", "individuals", "keypoints").to_numpy(), path,
        individuals=individuals or [str(i) for i in ds["individuals"].values],
        keypoints=[str(k) for k in ds["keypoints"].values], fps=ds.attrs.get("fps"), edges=edges,
        source_software=source_software or str(ds.attrs.get("source_software", "")))


def pose_from_arrays(positions, confidence, path: Path, *, individuals, keypoints, fps, edges=(),
                     source_software="") -> PoseData:
    """(time, individuals, keypoints[, space]) arrays -> PoseData (float64); a partly NaN point becomes all NaN."""
    pos = np.asarray(positions).astype(np.float64)
    conf = np.asarray(confidence).astype(np.float64)
    pos[np.isnan(pos).any(axis=-1)] = np.nan  # a point is missing as a whole
    if pos.shape[0] == 0:
        raise InputError(path, "file has zero frames")
    if pos.shape[1] == 0 or pos.shape[2] == 0:
        raise InputError(path, f"file has no individuals or no keypoints (shape {pos.shape})")
    try:
        return PoseData(
            positions=pos,
            confidence=conf,
            individuals=tuple(str(i) for i in individuals),
            keypoints=tuple(str(k) for k in keypoints),
            fps=None if fps is None or not np.isfinite(fps) else float(fps),
            source_software=source_software,
            edges=tuple(edges),
        )
    except ValueError as e:  # e.g. duplicate names
        raise InputError(path, str(e)) from e


def _read_anipose(path: Path, *, fps: float | None = None) -> PoseData:
    """Read an Anipose triangulation CSV (3D, one animal) with movement."""
    path = _check_file(path)
    from pipeline.io._movement import movement_load_poses

    load_poses = movement_load_poses()

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load_poses.from_anipose_file(path, fps=fps, individual_name="individual_0")
    except Exception as e:
        raise InputError(path, f"cannot read as an Anipose CSV: {e}") from e
    return _pose_from_dataset(ds, path, source_software="Anipose")
