"""Outlier-robust triangulation: best camera pair by inlier count, then refit on inliers.

For every point and every pair of cameras that both see it, the pair's DLT
estimate is projected into all cameras; cameras whose observation lies within
``threshold_px`` of that projection are its inliers. The pair with the most
inliers (ties: smallest summed inlier residual) wins, and the point is
re-triangulated by DLT from all of its inliers. This is exhaustive (every pair
is tried, vectorised over points) rather than randomly sampled, which is cheap
for the handful of cameras a rig has.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from pipeline.calibration.cameras import Camera, project
from pipeline.triangulation.dlt import flatten_points, projection_matrices, seen_chunks, solve_dlt, undistort_block

__all__ = ["triangulate_ransac"]


def _residuals(points3d: np.ndarray, block: np.ndarray, cameras: Sequence[Camera]) -> np.ndarray:
    return np.stack([np.linalg.norm(project(cam, points3d) - block[i], axis=-1)
                     for i, cam in enumerate(cameras)])


def triangulate_ransac(points2d, cameras: Sequence[Camera], *, min_cameras: int = 2,
                       threshold_px: float = 15.0,
                       chunk_size: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    """Triangulate with per-point rejection of cameras that disagree.

    Parameters
    ----------
    points2d : array_like, shape (camera, ..., 2)
        Distorted pixel coordinates; NaN marks a missing observation.
    cameras : sequence of Camera
        One per entry of axis 0.
    min_cameras : int, default 2
        Points with fewer inlier cameras come back NaN.
    threshold_px : float, default 15
        Reprojection distance below which a camera counts as an inlier.
    chunk_size : int, default 50000
        Points handled at a time.

    Returns
    -------
    points3d : ndarray, shape (..., 3)
        World coordinates (mm).
    n_cameras_used : ndarray of int, shape (...)
        Inlier cameras used for each point (0 where NaN).

    Examples
    --------
    >>> from pipeline.synthetic.rig import synthetic_rig
    >>> cams = synthetic_rig(n_cameras=3)
    >>> p2 = np.stack([project(c, [[5.0, 10.0, 20.0]]) for c in cams])
    >>> p2[0] += 200.0                      # camera 0 is way off
    >>> p3, used = triangulate_ransac(p2, cams)
    >>> p3.round(3).tolist(), used.tolist()
    ([[5.0, 10.0, 20.0]], [2])
    """
    if not threshold_px > 0:
        raise ValueError(f"threshold_px must be positive, got {threshold_px}")
    flat, batch = flatten_points(points2d, cameras, min_cameras=min_cameras, chunk_size=chunk_size)
    n_cams = flat.shape[0]
    pmats = projection_matrices(cameras)
    out = np.full((flat.shape[1], 3), np.nan)
    used = np.zeros(flat.shape[1], dtype=np.int64)
    for idx, block, seen in seen_chunks(flat, min_cameras=min_cameras, chunk_size=chunk_size):
        normalised = undistort_block(block, cameras)
        best_count = np.zeros(block.shape[1], dtype=np.int64)
        best_cost = np.full(block.shape[1], np.inf)
        best_inl = np.zeros_like(seen)
        for i, j in combinations(range(n_cams), 2):
            pair = np.zeros(n_cams, dtype=bool)
            pair[[i, j]] = True
            use = seen & pair[:, None]
            both = use.sum(axis=0) == 2
            cand = solve_dlt(normalised, pmats, use)
            cand[~both] = np.nan
            err = _residuals(cand, block, cameras)
            inl = seen & (err < threshold_px)
            count = inl.sum(axis=0)
            cost = np.where(inl, err, 0.0).sum(axis=0)
            better = (count > best_count) | ((count == best_count) & (cost < best_cost) & (count > 0))
            best_count = np.where(better, count, best_count)
            best_cost = np.where(better, cost, best_cost)
            best_inl[:, better] = inl[:, better]
        good = best_count >= min_cameras
        res = np.full((block.shape[1], 3), np.nan)
        if good.any():
            res[good] = solve_dlt(normalised[:, good], pmats, best_inl[:, good])
        out[idx] = res
        used[idx] = np.where(good, best_count, 0)
    return out.reshape(batch + (3,)), used.reshape(batch)
