"""Lightning Pose prediction CSVs and their Ensemble Kalman Smoother (eks) outputs.

What the writers write (read in their source, not guessed):

Lightning Pose (``paninski-lab/lightning-pose``, ``lightning_pose/utils/predictions.py``:
``make_dlc_pandas_index``, ``PredictionHandler``)
    A DeepLabCut-style CSV, three header rows ``scorer / bodyparts / coords``;
    the scorer is ``f"{model_type}_tracker"`` (``heatmap_tracker``,
    ``heatmap_mhcrnn_tracker``, ...); coords ``x, y, likelihood`` per body
    part; one row per video frame from 0.  Predictions on the labelled
    frames are indexed by image names (``labeled-data/<video>/img0003.png``)
    and end in a column ``set`` (``train``, ``validation``, ``test``,
    ``unused``).  A multi-view model writes one such CSV per view.  No
    ``individuals`` level: Lightning Pose tracks one animal.
eks >= 2025 (``paninski-lab/eks``, ``eks/singlecam_smoother.py``,
``eks/multicam_smoother.py``, ``eks/ibl_pupil_smoother.py``; ``eks/utils.py``: scorer ``ensemble-kalman_tracker``)
    coords ``x, y, likelihood, x_ens_median, y_ens_median, x_ens_var,
    y_ens_var, x_posterior_var, y_posterior_var``: the smoothed position,
    the ensemble's mean likelihood, the ensemble members' median position
    and variance (px², per axis), and the smoother's posterior variance
    (px², per axis).  The 3D output of ``eks multicam`` has ``x, y, z,
    x_posterior_var, y_posterior_var, z_posterior_var`` and no likelihood.
eks before 2025 (the same files before commit a3acaba, January 2025)
    coords ``x, y, likelihood, x_var, y_var, zscore, nll, ensemble_std``:
    ``likelihood`` written as NaN, ``x_var``/``y_var`` the posterior
    variance, ``ensemble_std`` = sqrt(x ensemble variance + y ensemble
    variance), ``zscore`` the distance of the smoothed point from the
    ensemble mean in ensemble standard deviations, ``nll`` the smoother's
    negative log-likelihood.

How they are read
    ``likelihood`` is the confidence (NaN where the file has NaN: unknown).
    Everything else a body part carries goes into
    :attr:`pipeline.pose.PoseData.uncertainty`, by name:
    ``ensemble_variance`` and ``posterior_variance`` (per axis, px² or the
    3D unit squared), ``ensemble_median`` (per axis), and the older
    ``ensemble_std``, ``zscore``, ``nll`` (one value per point).  The
    confidence array is never filled with a variance (a confidence
    threshold would then cut on a different quantity).  A coordinate
    outside these sets, a body part missing one of the coordinates the
    others have, a negative variance or a second scorer is an InputError
    naming the file and the columns.
"""

from __future__ import annotations

import csv
import re
from itertools import islice
from pathlib import Path

import numpy as np

from pipeline.errors import InputError
from pipeline.io import _check_file, pose_from_arrays
from pipeline.pose import PoseData

#: coordinate name -> (quantity, axis); axis None = one value per point
_SPATIAL = {f"{axis}{suffix}": (quantity, axis)
            for axis in "xyz"
            for suffix, quantity in (("", "position"), ("_ens_median", "ensemble_median"),
                                     ("_ens_var", "ensemble_variance"), ("_posterior_var", "posterior_variance"),
                                     ("_var", "posterior_variance"))}
_SCALAR = {"likelihood": "confidence", "zscore": "zscore", "nll": "nll", "ensemble_std": "ensemble_std"}
KNOWN_COORDS = tuple(_SPATIAL) + tuple(_SCALAR)
#: coordinates only Lightning Pose / eks write (DeepLabCut writes x, y[, z][, likelihood])
LP_ONLY_COORDS = tuple(c for c in KNOWN_COORDS if c not in ("x", "y", "z", "likelihood"))
_SCORER = re.compile(r"^[A-Za-z0-9_-]+_tracker$")
_VARIANCES = ("ensemble_variance", "posterior_variance")
_VARIANTS = {  # the set of quantities -> which writer wrote it
    frozenset({"position", "confidence"}): "Lightning Pose predictions",
    frozenset({"position", "confidence", "ensemble_median", "ensemble_variance", "posterior_variance"}):
        "eks (2025 and later: ensemble median and variance, posterior variance)",
    frozenset({"position", "posterior_variance"}): "eks 3D (posterior variance)",
    frozenset({"position", "confidence", "posterior_variance", "zscore", "nll", "ensemble_std"}):
        "eks (before 2025: posterior variance, zscore, nll, ensemble_std)",
}


def looks_like_lightning_pose(path: str | Path) -> str | None:
    """Why a DLC-style CSV is a Lightning Pose / eks file, or None when nothing says so.

    Evidence, strongest first: a coordinate only Lightning Pose or eks
    writes (``x_ens_var``, ``x_posterior_var``, ``zscore``, ...); a scorer
    named like Lightning Pose's and eks's (``<model type>_tracker``:
    ``heatmap_tracker``, ``ensemble-kalman_tracker``).  DeepLabCut's
    scorers (``DLC_resnet50_...``, a labeller's name) match neither.

    Examples
    --------
    >>> looks_like_lightning_pose("eks_singlecam.csv")          # doctest: +SKIP
    "coordinates ['x_ens_median', ...] (written by Lightning Pose / eks only)"
    """
    head = _header(Path(path))
    coords = head.get("coords", [])
    extra = [c for c in dict.fromkeys(coords) if c in LP_ONLY_COORDS]
    if extra:
        return f"coordinates {extra} (written by Lightning Pose / eks only)"
    scorers = [s for s in dict.fromkeys(head.get("scorer", [])) if s and s != "set"]
    if scorers and all(_SCORER.match(s) and not s.startswith("DLC") for s in scorers):
        return f"scorer {scorers[0]!r} (Lightning Pose names its scorer '<model type>_tracker')"
    return None


def _header(path: Path) -> dict:
    """The header rows of a DLC-style CSV, by their first cell (level name -> cells after it)."""
    try:
        with open(path, newline="") as f:
            rows = list(islice(csv.reader(f), 4))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(path, f"cannot read CSV header: {e}") from e
    return {row[0]: row[1:] for row in rows if row and row[0] in ("scorer", "individuals", "bodyparts", "coords")}


def read_lightning_pose(path: str | Path, *, fps: float | None = None) -> PoseData:
    """Read a Lightning Pose prediction CSV or an eks output CSV.

    Parameters
    ----------
    path : str or Path
        The CSV (three header rows ``scorer / bodyparts / coords``; a fourth,
        ``individuals``, is accepted).
    fps : float, optional
        Frame rate (these files do not store one).

    Returns
    -------
    PoseData
        ``source_software`` "Lightning Pose"; confidence = ``likelihood``;
        ensemble and posterior variances in ``uncertainty`` (see the module
        docstring); ``reading`` says which writer's layout was found, the
        scorer, and the ``set`` counts of a labelled-frame file.

    Raises
    ------
    InputError
        Not a DLC-style CSV, unknown coordinates (named), incomplete body
        parts, negative variances, several scorers, truncated file.

    Examples
    --------
    >>> pose = read_lightning_pose("eks_singlecam.csv", fps=60)     # doctest: +SKIP
    >>> sorted(pose.uncertainty)                                    # doctest: +SKIP
    ['ensemble_median', 'ensemble_variance', 'posterior_variance']
    """
    from pipeline.io.dlc import _read_csv, frame_numbers, place_frames

    path = _check_file(path)
    if path.suffix.lower() != ".csv":
        raise InputError(path, f"a Lightning Pose file is a .csv, not {path.suffix!r}")
    df = _read_csv(path)
    if len(df) == 0:
        raise InputError(path, "file has zero frames")
    df, split = _split_column(df, path)
    scorers = sorted({str(s) for s in df.columns.get_level_values("scorer")})
    if len(scorers) != 1:
        raise InputError(path, f"{len(scorers)} scorers {scorers}: one Lightning Pose / eks output per file")
    values = df.apply(_numbers(path), axis=0).to_numpy(dtype=np.float64)
    pose, variant = _arrays(df.columns, values, path, fps)
    reading = {"format": "lightning_pose", "layout": variant, "scorer": scorers[0],
               "coords": list(dict.fromkeys(str(c) for c in df.columns.get_level_values("coords"))),
               "uncertainty": sorted(pose.uncertainty)}
    if split:
        reading["labelled_split"] = split
    pose = PoseData(pose.positions, pose.confidence, individuals=pose.individuals, keypoints=pose.keypoints,
                    fps=pose.fps, source_software="Lightning Pose", reading=reading,
                    uncertainty=pose.uncertainty)
    return place_frames(pose, frame_numbers(df.index, path), path)


def _numbers(path: Path):
    """Column -> floats; a cell that is not a number is an error naming the column."""
    import pandas as pd

    def convert(column):
        out = pd.to_numeric(column, errors="coerce")
        bad = out.isna() & column.notna()
        if bad.any():
            row = column.index[bad.to_numpy().argmax()]
            raise InputError(path, f"column {' '.join(map(str, column.name))}, row {row}: "
                                   f"{column[bad].iloc[0]!r} is not a number")
        return out
    return convert


def _split_column(df, path: Path):
    """Remove Lightning Pose's ``set`` column (labelled-frame predictions); return it as counts."""
    is_set = [str(c[0]) == "set" and all(str(v) in ("set", "") or str(v).startswith("Unnamed") for v in c[1:])
              for c in df.columns]
    if not any(is_set):
        return df, None
    if sum(is_set) > 1:
        raise InputError(path, "two 'set' columns")
    column = df.loc[:, is_set].iloc[:, 0].astype(str)
    unknown = sorted(set(column) - {"train", "validation", "test", "unused"})
    if unknown:
        raise InputError(path, f"column 'set' holds {unknown[:5]}; Lightning Pose writes train, validation, "
                               "test or unused")
    return df.loc[:, [not s for s in is_set]], {k: int(v) for k, v in column.value_counts().sort_index().items()}


def _arrays(columns, values: np.ndarray, path: Path, fps):
    """(PoseData without reading, layout name) from the table's columns and values."""
    if columns.has_duplicates:
        raise InputError(path, f"duplicate columns {sorted(set(columns[columns.duplicated()]))[:3]}")
    levels = [lv for lv in ("individuals", "bodyparts") if lv in columns.names]
    names = [tuple(map(str, c)) for c in zip(*[columns.get_level_values(lv) for lv in levels + ["coords"]])]
    found = list(dict.fromkeys(c[-1] for c in names))
    space, quantities = _check_coords(found, path)
    _check_complete(columns, levels, found, path)
    parts = list(dict.fromkeys(c[:-1] for c in names))
    individuals = list(dict.fromkeys(p[0] for p in parts)) if len(levels) == 2 else ["individual_0"]
    keypoints = list(dict.fromkeys(p[-1] for p in parts))
    arrays: dict[str, np.ndarray] = {}
    shape = (len(values), len(individuals), len(keypoints))
    for i, (*part, c) in enumerate(names):
        q, axis = _SPATIAL.get(c, (_SCALAR.get(c), None))
        target = arrays.setdefault(q, np.full(shape + ((len(space),) if axis else ()), np.nan))
        j = individuals.index(part[0]) if len(levels) == 2 else 0
        target[(slice(None), j, keypoints.index(part[-1])) + ((space.index(axis),) if axis else ())] = values[:, i]
    for q in _VARIANCES:
        if q in arrays and (arrays[q] < 0).any():
            raise InputError(path, f"negative {q.replace('_', ' ')} ({np.nanmin(arrays[q]):g}): not a variance")
    positions = arrays.pop("position")
    confidence = arrays.pop("confidence", np.full(positions.shape[:3], np.nan))
    pose = pose_from_arrays(positions, confidence, path, individuals=individuals, keypoints=keypoints, fps=fps)
    variant = _VARIANTS.get(frozenset(quantities), "Lightning Pose / eks columns " + ", ".join(found))
    return PoseData(pose.positions, pose.confidence, individuals=pose.individuals, keypoints=pose.keypoints,
                    fps=pose.fps, uncertainty=arrays), variant


def _check_coords(found: list, path: Path) -> tuple[list, set]:
    """(position axes, quantities) of the file's coordinate names; InputError for unknown or incomplete ones."""
    unknown = sorted(set(found) - set(KNOWN_COORDS))
    if unknown:
        raise InputError(path, f"unknown coordinate(s) {unknown}: a Lightning Pose / eks file has "
                               f"{', '.join(KNOWN_COORDS)}; nothing was read")
    space = [a for a in "xyz" if a in found]
    if space not in (["x", "y"], ["x", "y", "z"]):
        raise InputError(path, f"coordinates {found}: positions need x, y[, z]")
    outside = [c for c in found if c in _SPATIAL and _SPATIAL[c][1] not in space]
    if outside:
        raise InputError(path, f"coordinate(s) {outside} for an axis the positions do not have ({space})")
    quantities = {_SPATIAL[c][0] if c in _SPATIAL else _SCALAR[c] for c in found}
    for q in quantities - {"confidence", "zscore", "nll", "ensemble_std"}:
        axes = [_SPATIAL[c][1] for c in found if c in _SPATIAL and _SPATIAL[c][0] == q]
        if sorted(axes) != sorted(space):
            raise InputError(path, f"{q} is given for axes {axes}, the positions have {space}")
    return space, quantities


def _check_complete(columns, levels: list, found: list, path: Path) -> None:
    """Every body part has every coordinate the file uses (an x_ens_var without its y_ens_var is an error)."""
    have: dict[tuple, set] = {}
    for col in zip(*[map(str, columns.get_level_values(lv)) for lv in levels + ["coords"]]):
        have.setdefault(col[:-1], set()).add(col[-1])
    missing = [" ".join((*part, c)) for part, got in have.items() for c in found if c not in got]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise InputError(path, f"missing column(s) {shown}: every body part needs the same coordinates "
                               f"({', '.join(found)})")


def uncertainty_units(quantity: str, space_units: str) -> str:
    """Units of an uncertainty quantity: variances in squared units, ``zscore`` and ``nll`` in none.

    Examples
    --------
    >>> uncertainty_units("ensemble_variance", "px"), uncertainty_units("zscore", "px")
    ('px^2', '')
    """
    if quantity in ("zscore", "nll"):
        return ""
    return f"{space_units}^2" if quantity.endswith("variance") else space_units
