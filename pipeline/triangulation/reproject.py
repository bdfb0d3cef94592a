"""Reprojection residuals: how far each camera's observation lies from the 3D estimate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.calibration.cameras import Camera, project
from pipeline.errors import InputError
from pipeline.triangulation.dlt import check_points2d

__all__ = ["reprojection_errors"]


def reprojection_errors(points3d, points2d, cameras: Sequence[Camera], *,
                        chunk_size: int = 50_000) -> np.ndarray:
    """Pixel distance between each observation and the projection of its 3D point.

    Parameters
    ----------
    points3d : array_like, shape (..., 3)
        World points (mm); NaN where not triangulated.
    points2d : array_like, shape (camera, ..., 2)
        Observed distorted pixel coordinates; NaN where missing.
    cameras : sequence of Camera
        One per entry of axis 0 of ``points2d``.
    chunk_size : int, default 50000
        Points projected at a time.

    Returns
    -------
    ndarray, shape (camera, ...)
        Euclidean residual in pixels, NaN where the observation or the 3D
        point is missing.

    Examples
    --------
    >>> from pipeline.synthetic.rig import synthetic_rig
    >>> cams = synthetic_rig(n_cameras=2)
    >>> p3 = np.array([[0.0, 0.0, 10.0]])
    >>> p2 = np.stack([project(c, p3) for c in cams]) + [3.0, 4.0]
    >>> reprojection_errors(p3, p2, cams).round(6).tolist()
    [[5.0], [5.0]]
    """
    p2 = check_points2d(points2d, cameras)
    p3 = np.asarray(points3d, dtype=np.float64)
    if p3.shape[-1:] != (3,) or p3.shape[:-1] != p2.shape[1:-1]:
        raise InputError("points3d", f"shape {p3.shape} does not match points2d {p2.shape}: "
                                     f"expected {p2.shape[1:-1] + (3,)}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    n_cams = p2.shape[0]
    flat2 = p2.reshape(n_cams, -1, 2)
    flat3 = p3.reshape(-1, 3)
    out = np.full(flat2.shape[:2], np.nan)
    for start in range(0, flat3.shape[0], chunk_size):
        stop = start + chunk_size
        for i, cam in enumerate(cameras):
            proj = project(cam, flat3[start:stop])
            out[i, start:stop] = np.linalg.norm(proj - flat2[i, start:stop], axis=-1)
    return out.reshape(p2.shape[:-1])
