"""NWB reader for pose data stored with the ndx-pose extension.

The file is opened with pynwb; every ``ndx_pose.PoseEstimation`` object in
any processing module is converted with
``movement.io.load_poses.from_nwb_file``.

Individuals
    One PoseEstimation: one individual named by the file's ``identifier``
    (movement's convention).  Several: one individual per PoseEstimation,
    named by its object name, keypoints aligned by name (NaN where absent).
Keypoints
    The PoseEstimationSeries names, in skeleton node order when the
    skeleton lists exactly those names, else in file order.
Edges
    From the ndx-pose ``Skeleton`` (node-index pairs) when present.
Frame rate
    From the file: the series ``rate``, else estimated from the
    ``timestamps`` (median of 1/diff, movement's rule).  The ``fps``
    argument is used only if neither gives a finite rate.  Frames are taken
    as regularly spaced.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from pipeline.errors import InputError
from pipeline.io import _check_file, _hdf5_keys, _pose_from_dataset
from pipeline.pose import PoseData


def read_nwb(path: str | Path, *, fps: float | None = None) -> PoseData:
    """Read pose tracks from an NWB file (ndx-pose).

    Parameters
    ----------
    path : str or Path
        The ``.nwb`` file.
    fps : float, optional
        Used only when the file has no usable rate or timestamps.

    Returns
    -------
    PoseData
        ``source_software`` as the file says (e.g. "DeepLabCut"), or "NWB".

    Examples
    --------
    >>> pose = read_nwb("sample_ndx_pose.nwb")                 # doctest: +SKIP
    >>> pose.keypoints                                         # doctest: +SKIP
    ('ind1_snout', 'ind1_leftear', 'ind1_rightear', 'ind1_tailbase')
    """
    path = _check_file(path)
    if path.suffix.lower() != ".nwb":
        raise InputError(path, f"an NWB file must end in .nwb, not {path.suffix!r}")
    _hdf5_keys(path)  # a clear error for non-HDF5 files
    import ndx_pose  # noqa: F401  (registers the extension with pynwb)
    import pynwb
    import xarray as xr

    from pipeline.io._movement import movement_load_poses

    load_poses = movement_load_poses()

    try:
        with warnings.catch_warnings():
            # e.g. "Ignoring cached namespace ndx-pose 0.1.1 ..." for older files
            warnings.simplefilter("ignore")
            with pynwb.NWBHDF5IO(str(path), mode="r") as io:
                nwb = io.read()
                found = _nonempty_pose_estimations(nwb, path)
                datasets, nodes, edges = [], None, ()
                for module, pe in found:
                    ds = load_poses.from_nwb_file(nwb, processing_module_key=module, pose_estimation_key=pe.name)
                    if len(found) > 1:
                        ds = ds.assign_coords(individuals=[pe.name])
                    datasets.append(ds)
                    if nodes is None:
                        nodes, edges = _skeleton(pe)
                ds = xr.concat(datasets, dim="individuals", join="outer") if len(datasets) > 1 else datasets[0]
    except InputError:
        raise
    except Exception as e:
        raise InputError(path, f"cannot read NWB pose data: {type(e).__name__}: {e}") from e
    if nodes is not None and sorted(nodes) == sorted(str(k) for k in ds["keypoints"].values):
        ds = ds.sel(keypoints=nodes)
    file_fps = ds.attrs.get("fps")
    if file_fps is None or not np.isfinite(file_fps):
        ds.attrs["fps"] = fps
    elif fps is not None and not np.isclose(fps, file_fps):
        warnings.warn(f"{path}: file says {file_fps} fps; ignoring fps={fps}", stacklevel=2)
    return _pose_from_dataset(
        ds, path, edges=edges, source_software=str(ds.attrs.get("source_software") or "NWB")
    )


def _nonempty_pose_estimations(nwb, path: Path) -> list:
    """:func:`_pose_estimations`, raising InputError when there is none or none has a frame."""
    found = _pose_estimations(nwb)
    if not found:
        raise InputError(path, "no ndx-pose PoseEstimation in any processing module")
    if all(_n_frames(pe) == 0 for _, pe in found):
        raise InputError(path, "file has zero frames")
    return found


def _pose_estimations(nwb) -> list:
    """(module name, PoseEstimation) for every PoseEstimation in the file."""
    import ndx_pose

    return [
        (name, obj)
        for name, module in nwb.processing.items()
        for obj in module.data_interfaces.values()
        if isinstance(obj, ndx_pose.PoseEstimation)
    ]


def _n_frames(pe) -> int:
    return max((len(s.data) for s in pe.pose_estimation_series.values()), default=0)


def _skeleton(pe) -> tuple:
    """Node names and edges (by name) of a PoseEstimation's skeleton, if any."""
    skeleton = getattr(pe, "skeleton", None)
    if skeleton is None or skeleton.nodes is None:
        return None, ()
    nodes = [str(n) for n in skeleton.nodes[:]]
    edges = () if skeleton.edges is None else tuple((nodes[a], nodes[b]) for a, b in skeleton.edges[:])
    return nodes, edges
