"""Spatio-temporal 3D optimisation (Anipose's ``triangulate_optim``), per individual.

Wraps :meth:`aniposelib.cameras.CameraGroup.optim_points`, which minimises,
with ``scipy.optimize.least_squares`` and a sparse Jacobian:

* reprojection residuals of every observation under a ``soft_l1`` loss of
  scale ``reproj_error_threshold`` px;
* ``scale_smooth`` times the ``n_deriv_smooth``-th temporal difference of each
  keypoint (scaled by ``1 / mean |velocity|`` of the median-filtered initial
  estimate, as Anipose does);
* ``scale_length`` (``scale_length_weak``) times the percent deviation of each
  skeleton edge in ``constraints`` (``constraints_weak``) from a length that
  is itself optimised (initialised at the median).

Long recordings are cut into windows of ``chunk_frames`` frames overlapping
by ``overlap`` frames; each window keeps the middle of its overlaps, so
memory and the Jacobian stay bounded. Keypoints with no triangulated frame in
a window come back NaN there; gaps inside a keypoint's track are filled by the
optimiser (Anipose behaviour).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence

import numpy as np

from pipeline.calibration.cameras import Camera
from pipeline.errors import InputError
from pipeline.triangulation.dlt import triangulate_dlt

__all__ = ["triangulate_optim"]


def _camera_group(cameras: Sequence[Camera]):
    from aniposelib.cameras import Camera as AniCamera
    from aniposelib.cameras import CameraGroup
    return CameraGroup([AniCamera(name=c.name, size=list(c.size), matrix=np.array(c.matrix),
                                  dist=np.array(c.distortion), rvec=np.array(c.rotation),
                                  tvec=np.array(c.translation)) for c in cameras])


def _edges(edges, n_keypoints: int, what: str) -> list[tuple[int, int]]:
    out = [tuple(int(v) for v in e) for e in edges]
    for e in out:
        if len(e) != 2 or not all(0 <= v < n_keypoints for v in e) or e[0] == e[1]:
            raise InputError(what, f"edge {e} is not a pair of distinct keypoint indices "
                                   f"below {n_keypoints}")
    return out


def _windows(n_t: int, size: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(start, stop, keep_from, keep_to) windows covering 0..n_t."""
    if n_t <= size:
        return [(0, n_t, 0, n_t)]
    step = size - overlap
    starts = list(range(0, n_t - size, step)) + [n_t - size]
    out = []
    for i, s in enumerate(starts):
        keep_from = 0 if i == 0 else (starts[i - 1] + size + s) // 2
        keep_to = n_t if i == len(starts) - 1 else (s + size + starts[i + 1]) // 2
        out.append((s, s + size, keep_from, keep_to))
    return out


def triangulate_optim(points2d, cameras: Sequence[Camera], *, constraints=(), constraints_weak=(),
                      scale_smooth: float = 4.0, scale_length: float = 2.0,
                      scale_length_weak: float = 0.5, reproj_error_threshold: float = 15.0,
                      n_deriv_smooth: int = 1, init=None, min_cameras: int = 2,
                      chunk_frames: int = 500, overlap: int = 50) -> np.ndarray:
    """Triangulate by joint optimisation of reprojection, smoothness and segment lengths.

    Parameters
    ----------
    points2d : array_like, shape (camera, time, individual, keypoint, 2)
        Distorted pixel coordinates; NaN = missing.
    cameras : sequence of Camera
    constraints, constraints_weak : sequence of (int, int)
        Keypoint index pairs whose distance should stay constant (strongly / weakly).
    scale_smooth, scale_length, scale_length_weak : float
        Weights of the smoothness and length terms (Anipose defaults).
    reproj_error_threshold : float, default 15
        Scale (px) of the robust ``soft_l1`` reprojection loss.
    n_deriv_smooth : int, default 1
        Order of the temporal derivative that is penalised.
    init : array_like, shape (time, individual, keypoint, 3), optional
        Starting point; default DLT with ``min_cameras``.
    min_cameras : int, default 2
        Used for the DLT initialisation.
    chunk_frames, overlap : int, default 500, 50
        Window length and overlap (frames) of the piecewise optimisation.

    Returns
    -------
    ndarray, shape (time, individual, keypoint, 3)
        World coordinates (mm).
    """
    pts = np.asarray(points2d, dtype=np.float64)
    if pts.ndim != 5 or pts.shape[-1] != 2:
        raise InputError("points2d", "needs shape (camera, time, individual, keypoint, 2), "
                                     f"got {pts.shape}")
    if pts.shape[0] != len(cameras):
        raise InputError("points2d", f"axis 0 has {pts.shape[0]} cameras but {len(cameras)} "
                                     "cameras were given")
    if chunk_frames < 2 or not 0 <= overlap < chunk_frames:
        raise ValueError("need chunk_frames >= 2 and 0 <= overlap < chunk_frames")
    n_cams, n_t, n_ind, n_kp, _ = pts.shape
    cons = _edges(constraints, n_kp, "constraints")
    cons_weak = _edges(constraints_weak, n_kp, "constraints_weak")
    if init is None:
        init = triangulate_dlt(pts, cameras, min_cameras=min_cameras)
    init = np.asarray(init, dtype=np.float64)
    if init.shape != (n_t, n_ind, n_kp, 3):
        raise InputError("init", f"shape {init.shape}, expected {(n_t, n_ind, n_kp, 3)}")
    out = np.full(init.shape, np.nan)
    if n_t <= n_deriv_smooth + 1:
        return init.copy()
    group = _camera_group(cameras)
    for ind in range(n_ind):
        for start, stop, keep_from, keep_to in _windows(n_t, chunk_frames, overlap):
            p3 = init[start:stop, ind]
            has = np.any(np.isfinite(p3[..., 0]), axis=0)        # (keypoint,)
            if not has.any():
                continue
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = group.optim_points(
                    pts[:, start:stop, ind], p3, constraints=cons, constraints_weak=cons_weak,
                    scale_smooth=scale_smooth, scale_length=scale_length,
                    scale_length_weak=scale_length_weak,
                    reproj_error_threshold=reproj_error_threshold, n_deriv_smooth=n_deriv_smooth)
            res[:, ~has] = np.nan
            a, b = keep_from - start, keep_to - start
            out[keep_from:keep_to, ind] = res[a:b]
    return out
