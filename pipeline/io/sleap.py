"""SLEAP readers: labels/predictions (``.slp``) and analysis HDF5 (``.h5``).

``.slp`` files are read with sleap-io; analysis ``.h5`` files as
``movement.io.load_poses.from_sleap_file`` reads them (with h5py: importing
movement costs 0.9 s; files in another layout go through movement).

Individuals
    One per SLEAP track, named by the track name, in the file's track order
    (all tracks are kept, also fragments such as the 27 tracks of
    ``centered_pair_predictions.slp``).  Instances without a track (``.slp``)
    go to extra individuals ``untracked_0``, ``untracked_1``, ... appended
    after the tracks, only if there are any: the k-th untracked instance of a
    frame (user-labelled first, then predicted, in file order) lands in
    ``untracked_k``, so identity across frames is *not* implied.  An analysis
    file without track names gives ``untracked_0``, ... likewise.
Frames
    ``.slp``: from the first to the last labelled frame; ``frame_offset`` is
    the video index of the first one (labels at frames 25,000-26,000 of a
    long video are not padded from frame 0), frames between labelled ones
    are NaN, and ``reading["labelled_frames"]`` counts the frames the file
    has. Analysis ``.h5``: from frame 0 (as SLEAP exports it). Only one
    video per file.
Confidence
    SLEAP point scores; NaN for user-labelled (proofread) points, as in
    SLEAP's analysis export.  Positions of invisible points are NaN.
    Analysis files are loaded by movement in float32, so their values carry
    float32 precision (stored as float64).
Frame rate
    SLEAP files do not store it: ``fps`` argument, else None.
Why not sleap-io's ``Labels.numpy`` (sleap-io 0.9.5)
    On the real files it gives what we give: for ``clip.slp``,
    ``clip.predictions.slp``, ``centered_pair_predictions.slp`` and the four
    ``anipose_minimal_session`` labels, ``Labels.numpy(return_confidence=True)``
    has our shape, track order and NaN mask, positions equal bit for bit and
    prediction scores equal (their stored values are float32-exact). It
    differs in what those files do not exercise, so the reader stays ours:

    * Sparse labels: it pads from video frame 0 (labels at frames
      25,000-25,002 give 25,003 rows; with the video opened, also up to its
      length) and returns no offset; lazy loading (``lazy=True``) instead
      starts at the first labelled frame, still without saying which.
    * Untracked instances are dropped (default) or, with ``untracked=True``,
      all instances go to columns by their order in the frame and track
      identity is lost; we keep tracks and add ``untracked_k`` columns.
    * If no frame has more than one instance it switches to that untracked
      mode: two tracks labelled in alternate frames collapse into one column.
    * A user instance made ``from_predicted`` a prediction on another track
      does not hide that prediction there; we drop the source prediction.
    * User-labelled points get score 1.0, not NaN, so proofread and predicted
      points cannot be told apart.
    * Its array is float32, so float64 coordinates are rounded (100.1 becomes
      100.09999847...).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from pipeline.errors import InputError
from pipeline.io import _check_file, _hdf5_keys, _pose_from_dataset, pose_from_arrays
from pipeline.pose import PoseData

_MATLAB_DIMS = ("track", "xy", "node", "frame")


def read_sleap(path: str | Path, *, fps: float | None = None) -> PoseData:
    """Read a SLEAP ``.slp`` labels/predictions file or an analysis ``.h5``.

    Parameters
    ----------
    path : str or Path
        The ``.slp`` or analysis ``.h5`` file.
    fps : float, optional
        Frame rate (SLEAP files do not store one).

    Returns
    -------
    PoseData
        ``source_software="SLEAP"``, skeleton edges included.

    Examples
    --------
    >>> pose = read_sleap("centered_pair_predictions.slp")    # doctest: +SKIP
    >>> pose.n_frames, pose.n_individuals, pose.n_keypoints   # doctest: +SKIP
    (1100, 27, 24)
    """
    path = _check_file(path)
    suffix = path.suffix.lower()
    if suffix == ".slp":
        return _read_slp(path, fps)
    if suffix == ".h5":
        return _read_analysis(path, fps)
    raise InputError(path, f"a SLEAP file must be .slp or .h5, not {path.suffix!r}")


def _read_slp(path: Path, fps: float | None) -> PoseData:
    import sleap_io as sio

    _hdf5_keys(path)  # a clear error for non-HDF5 files
    try:
        labels = sio.load_slp(str(path), open_videos=False)
        lfs = list(labels.labeled_frames)
        videos = {id(lf.video) for lf in lfs}
        skeletons = list(labels.skeletons)
    except Exception as e:
        raise InputError(path, f"cannot read SLEAP labels: {type(e).__name__}: {e}") from e
    if not lfs:
        raise InputError(path, "file has zero frames (no labelled frames)")
    if len(videos) > 1:
        raise InputError(path, f"labels span {len(videos)} videos; export one file per video")
    if len(skeletons) != 1:
        raise InputError(path, f"expected one skeleton, found {len(skeletons)}")
    skeleton, n_nodes = skeletons[0], len(skeletons[0].nodes)
    tracks = list(labels.tracks)
    column = {id(t): j for j, t in enumerate(tracks)}
    kept = [(lf.frame_idx, _frame_instances(lf)) for lf in lfs]
    n_untracked = max(sum(i.track is None for i in insts) for _, insts in kept)
    first = min(t for t, _ in kept)
    n_frames = max(t for t, _ in kept) + 1 - first
    xys = np.full((n_frames, len(tracks) + n_untracked, n_nodes, 3), np.nan)  # x, y, score
    for frame, insts in kept:
        t = frame - first
        untracked = len(tracks)
        for inst in insts:
            if inst.track is None:
                j, untracked = untracked, untracked + 1
            elif id(inst.track) in column:
                j = column[id(inst.track)]
            else:
                raise InputError(path, f"frame {frame}: instance on track {inst.track.name!r} not in the file's tracks")
            if isinstance(inst, sio.PredictedInstance):
                xys[t, j] = inst.numpy(scores=True)
            else:
                xys[t, j, :, :2] = inst.numpy()
                xys[t, j, :, 2] = np.nan
    names = [str(t.name) for t in tracks] + [f"untracked_{k}" for k in range(n_untracked)]
    return PoseData(
        positions=xys[..., :2],
        confidence=xys[..., 2],
        individuals=_unique(names),
        keypoints=tuple(str(n) for n in skeleton.node_names),
        fps=fps,
        source_software="SLEAP",
        edges=tuple(skeleton.edge_names),
        frame_offset=first,
        reading={"labelled_frames": len(kept)},
    )


def _frame_instances(lf) -> list:
    """Instances to keep in one frame: user instances override predictions.

    Predicted instances that a user instance was made from, or that share a
    track with a user instance, are dropped.  Returns tracked predictions,
    then tracked user instances (so a later instance on the same track wins
    and users win over predictions), then untracked ones, users first.
    """
    users = list(lf.user_instances)
    sources = {id(u.from_predicted) for u in users if getattr(u, "from_predicted", None) is not None}
    user_tracks = {id(u.track) for u in users if u.track is not None}  # id(None) never in it
    preds = [p for p in lf.predicted_instances if id(p) not in sources and id(p.track) not in user_tracks]
    return [p for p in preds if p.track is not None] + [u for u in users if u.track is not None] + [
        i for i in users + preds if i.track is None
    ]


def _unique(names: list[str]) -> tuple[str, ...]:
    """Make duplicate track names unique by appending ``.1``, ``.2``..."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        n = seen.get(name, 0)
        seen[name] = n + 1
        out.append(name if n == 0 else f"{name}.{n}")
    return tuple(out)


def _read_analysis(path: Path, fps: float | None) -> PoseData:
    import h5py

    keys, _ = _hdf5_keys(path)
    if not {"tracks", "node_names"} <= keys:
        raise InputError(path, f"not a SLEAP analysis file (no 'tracks'/'node_names'; keys: {sorted(keys)})")
    try:
        with h5py.File(path, "r") as f:
            dims = f["tracks"].attrs.get("dims")
            dims = None if dims is None else tuple(json.loads(dims))
            n_named = len(f["track_names"]) if "track_names" in f else 0
            edges = [(a.decode(), b.decode()) for a, b in f["edge_names"][:]] if "edge_names" in f else []
            n_frames = f["tracks"].shape[-1] if f["tracks"].ndim == 4 else None
            usual = n_frames and (dims is None or dims == _MATLAB_DIMS)
            arrays = _analysis_arrays(f, path) if usual else None
    except InputError:
        raise
    except Exception as e:
        raise InputError(path, f"cannot read SLEAP analysis file: {type(e).__name__}: {e}") from e
    if dims is not None and dims != _MATLAB_DIMS:
        raise InputError(path, f"unsupported axis order {list(dims)} (only SLEAP's default {list(_MATLAB_DIMS)})")
    if n_frames == 0:
        raise InputError(path, "file has zero frames")
    if arrays is not None:  # what movement's from_sleap_file gives, without importing movement (0.9 s)
        positions, confidence, names, keypoints = arrays
        return pose_from_arrays(positions, confidence, path, individuals=names if n_named else
                                [f"untracked_{k}" for k in range(positions.shape[1])],
                                keypoints=keypoints, fps=fps, edges=edges, source_software="SLEAP")
    from pipeline.io._movement import movement_load_poses

    load_poses = movement_load_poses()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load_poses.from_sleap_file(path, fps=fps)
    except Exception as e:
        raise InputError(path, f"cannot read SLEAP analysis file: {type(e).__name__}: {e}") from e
    individuals = None if n_named else [f"untracked_{k}" for k in range(ds.sizes["individuals"])]
    return _pose_from_dataset(ds, path, individuals=individuals, edges=edges, source_software="SLEAP")


def _analysis_arrays(f, path: Path):
    """(positions, confidence, track names, node names) of an open analysis file, as movement reads them.

    Positions (frames, tracks, nodes, xy) and point scores (frames, tracks, nodes; NaN without
    ``point_scores``) are rounded to float32, as ``movement.io.load_poses.from_sleap_file`` does.
    """
    tracks = f["tracks"][:]                                  # (tracks, xy, nodes, frames)
    positions = tracks.transpose(3, 0, 2, 1).astype(np.float32)
    if "point_scores" in f:
        scores = f["point_scores"][:]                        # (tracks, nodes, frames)
        if scores.shape != (tracks.shape[0], tracks.shape[2], tracks.shape[3]):
            raise InputError(path, f"point_scores {scores.shape} do not match tracks {tracks.shape}")
        confidence = scores.transpose(2, 0, 1).astype(np.float32)
    else:
        confidence = np.full(positions.shape[:3], np.nan, dtype=np.float32)
    names = [n.decode() for n in f["track_names"][:]] if "track_names" in f else []
    nodes = [n.decode() for n in f["node_names"][:]]
    if len(nodes) != tracks.shape[2] or (names and len(names) != tracks.shape[0]) or tracks.shape[1] != 2:
        raise InputError(path, f"tracks {tracks.shape} do not match {len(names)} track and {len(nodes)} node names")
    return positions, confidence, names, nodes
