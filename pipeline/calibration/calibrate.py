"""Multi-camera calibration from board images or videos (Anipose / aniposelib)."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.calibration.board import Board, to_aniposelib
from pipeline.calibration.cameras import Camera, check_cameras, project, undistort
from pipeline.calibration.detect import detect_boards
from pipeline.errors import InputError

MIN_CORNERS = 9  # corners a detection needs to count (aniposelib's min_corners_intrinsic)


@dataclass(frozen=True)
class Calibration:
    """The result of :func:`calibrate`.

    Attributes
    ----------
    cameras : list of Camera
        In the order of ``names``.
    errors_px : dict of str to float
        Median reprojection error of the board corners, per camera, px.
    mean_errors_px : dict of str to float
        Mean of the same, per camera, px.
    median_error_px : float
        Median over all cameras' corner observations, px.
    n_frames : dict of str to int
        Board detections (with >= 9 corners) used, per camera.
    n_points : dict of str to int
        Corner observations behind ``errors_px`` (corners seen by >= 2 cameras).
    n_shared_frames : int
        Frames where >= 2 cameras saw the board.
    bundle_error : float
        aniposelib's final bundle-adjustment error.
    board : Board
    """

    cameras: list
    errors_px: dict
    mean_errors_px: dict
    median_error_px: float
    n_frames: dict
    n_points: dict
    n_shared_frames: int
    bundle_error: float
    board: Board
    sources: dict = field(default_factory=dict)


def triangulate_normalized(points: np.ndarray, cameras: Sequence[Camera]) -> np.ndarray:
    """Linear (DLT) triangulation of undistorted normalised coordinates.

    Parameters
    ----------
    points : ndarray, shape (n_cameras, n_points, 2)
        Normalised image coordinates (see :func:`undistort`); NaN = not seen.
    cameras : sequence of Camera

    Returns
    -------
    ndarray, shape (n_points, 3)
        World points; NaN where fewer than two cameras saw the point.
    """
    pts = np.asarray(points, dtype=np.float64)
    proj = np.stack([np.hstack([c.rotation_matrix, c.translation[:, None]]) for c in cameras])
    seen = np.all(np.isfinite(pts), axis=-1)  # (C, N)
    xy = np.where(seen[..., None], pts, 0.0)
    # rows x*P3 - P1 and y*P3 - P2 per camera; unseen cameras contribute zero rows
    rows = xy[..., :, None] * proj[:, None, 2, None, :] - proj[:, None, :2, :]  # (C, N, 2, 4)
    rows = rows * seen[..., None, None]
    a = np.transpose(rows, (1, 0, 2, 3)).reshape(pts.shape[1], -1, 4)
    out = np.full((pts.shape[1], 3), np.nan)
    ok = seen.sum(axis=0) >= 2
    if ok.any():
        vh = np.linalg.svd(a[ok])[2]
        hom = vh[:, -1, :]
        out[ok] = hom[:, :3] / hom[:, 3:]
    return out


def _observations(all_rows: list[list[dict]]) -> tuple[np.ndarray, int]:
    """Stack filled corners as (cameras, frames * corners, 2) over the union of frame keys."""
    keys = sorted({r["framenum"] for rows in all_rows for r in rows})
    index = {k: i for i, k in enumerate(keys)}
    n_corners = all_rows[0][0]["filled"].shape[0]
    obs = np.full((len(all_rows), len(keys), n_corners, 2), np.nan)
    for c, rows in enumerate(all_rows):
        for r in rows:
            obs[c, index[r["framenum"]]] = r["filled"].reshape(-1, 2)
    frames_seen = np.any(np.all(np.isfinite(obs), axis=-1), axis=2)  # (C, K)
    return obs.reshape(len(all_rows), -1, 2), int(np.sum(frames_seen.sum(axis=0) >= 2))


def reprojection_errors(cameras: Sequence[Camera], observed: np.ndarray) -> np.ndarray:
    """Per-observation reprojection error (px) of points seen by >= 2 cameras.

    Parameters
    ----------
    cameras : sequence of Camera
    observed : ndarray, shape (n_cameras, n_points, 2)
        Detected pixel coordinates; NaN = not seen.

    Returns
    -------
    ndarray, shape (n_cameras, n_points)
        Distance between detection and reprojection of the triangulated
        point; NaN where the camera did not see it or it could not be triangulated.
    """
    norm = np.stack([undistort(cam, observed[i]) for i, cam in enumerate(cameras)])
    p3d = triangulate_normalized(norm, cameras)
    reproj = np.stack([project(cam, p3d) for cam in cameras])
    return np.linalg.norm(reproj - observed, axis=-1)


def _select(all_rows: list[list[dict]], max_frames: int | None) -> list[list[dict]]:
    if max_frames is None:
        return all_rows
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 2:
        raise ValueError(f"max_frames must be an integer >= 2, got {max_frames!r}")
    keys = sorted({r["framenum"] for rows in all_rows for r in rows})
    if len(keys) <= max_frames:
        return all_rows
    keep = {keys[i] for i in np.unique(np.linspace(0, len(keys) - 1, max_frames).round().astype(int))}
    return [[r for r in rows if r["framenum"] in keep] for rows in all_rows]


def calibrate(images: Mapping[str, Sequence[str | Path]], board: Board, *, names: Sequence[str],
              max_frames: int | None = None, skip: int = 20, min_detections: int = 5,
              max_error_px: float | None = None, seed: int = 0) -> Calibration:
    """Calibrate several cameras from views of one board (intrinsics + extrinsics).

    Parameters
    ----------
    images : dict of str to list of path
        Per camera, board images (jpg/png; frames matched across cameras by
        the trailing number of the file stem, ``top-02242022135227-15.jpg`` is
        frame 15) or board videos (mp4/avi; matched by frame number).
    board : Board
    names : sequence of str
        Cameras to calibrate, in output order; each must be a key of ``images``.
    max_frames : int, optional
        Use at most this many frames (evenly spread over the detected ones).
    skip : int
        In videos, look for the board in every ``skip``-th frame.
    min_detections : int
        A camera needs at least this many detections of >= 9 corners.
    max_error_px : float, optional
        Refuse the result if a camera's median reprojection error exceeds it.
    seed : int
        Seed for aniposelib's random choices (the global NumPy state is restored).

    Returns
    -------
    Calibration

    Raises
    ------
    InputError
        An image cannot be read, a camera sees the board too rarely or never
        together with another camera, or the result fails :func:`check_cameras`.
    """
    from aniposelib.cameras import CameraGroup

    names = list(names)
    missing = [n for n in names if n not in images]
    if missing or len(set(names)) != len(names) or len(names) < 2:
        raise ValueError(f"names must be >= 2 distinct keys of images; missing {missing}, got {names}")
    sources = {n: Path(os.path.commonpath([str(Path(p).parent) for p in images[n]]))
               if len(images[n]) else Path(n) for n in names}
    anipose_board = to_aniposelib(board)
    sizes, all_rows = {}, []
    for name in names:
        sizes[name], rows = detect_boards(images[name], anipose_board, skip=skip, source=sources[name])
        all_rows.append([r for r in rows if r["ids"].size >= MIN_CORNERS])
    all_rows = _select(all_rows, max_frames)
    for name, rows in zip(names, all_rows):
        if len(rows) < min_detections:
            raise InputError(sources[name], f"camera {name!r}: the board was detected in {len(rows)} "
                                            f"frame(s), fewer than the {min_detections} needed")
    observed, n_shared = _observations(all_rows)
    if n_shared == 0:
        raise InputError(os.path.commonpath([str(s) for s in sources.values()]),
                         "no frame shows the board to two cameras at once")

    group = CameraGroup.from_names(names)
    for cam, name in zip(group.cameras, names):
        cam.set_size(sizes[name])
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            bundle_error = group.calibrate_rows(all_rows, anipose_board, verbose=False)
    finally:
        np.random.set_state(state)
    cameras = [Camera.from_dict(d) for d in group.get_dicts()]

    errors = reprojection_errors(cameras, observed)
    errors_px, mean_px, n_points = {}, {}, {}
    for name, err in zip(names, errors):
        err = err[np.isfinite(err)]
        if err.size == 0:
            raise InputError(sources[name], f"camera {name!r} never sees the board together with "
                                            "another camera; its position cannot be checked")
        errors_px[name], mean_px[name] = float(np.median(err)), float(np.mean(err))
        n_points[name] = int(err.size)
    overall = errors[np.isfinite(errors)]
    source = os.path.commonpath([str(s) for s in sources.values()])
    check_cameras(cameras, source=source, errors_px=errors_px, max_error_px=max_error_px)
    return Calibration(cameras=cameras, errors_px=errors_px, mean_errors_px=mean_px,
                       median_error_px=float(np.median(overall)),
                       n_frames={n: len(r) for n, r in zip(names, all_rows)}, n_points=n_points,
                       n_shared_frames=n_shared, bundle_error=float(bundle_error), board=board,
                       sources={n: str(s) for n, s in sources.items()})
