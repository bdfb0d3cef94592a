"""One entry point: 2D pre-filters, then DLT, RANSAC or optimised triangulation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.calibration.cameras import Camera
from pipeline.triangulation import filters2d
from pipeline.triangulation.dlt import check_points2d, triangulate_dlt
from pipeline.triangulation.optim import triangulate_optim
from pipeline.triangulation.ransac import triangulate_ransac
from pipeline.triangulation.reproject import reprojection_errors

__all__ = ["METHODS", "Triangulated", "triangulate"]

METHODS = ("dlt", "ransac", "optim")


@dataclass
class Triangulated:
    """Result of :func:`triangulate`.

    Attributes
    ----------
    positions : ndarray, shape (time, individual, keypoint, 3)
        World coordinates, mm; NaN where not triangulated.
    reprojection_error : ndarray, shape (time, individual, keypoint)
        Mean reprojection residual (px) over the cameras used.
    n_cameras : ndarray of int, shape (time, individual, keypoint)
        Cameras used for each point (0 where ``positions`` is NaN; for
        ``optim`` the cameras observing the point, which may be fewer than
        ``min_cameras`` where the optimiser bridged a gap).
    residuals : ndarray, shape (camera, time, individual, keypoint)
        Reprojection residual (px) of every observation that survived the
        2D filters, NaN where missing.
    """

    positions: np.ndarray
    reprojection_error: np.ndarray
    n_cameras: np.ndarray
    residuals: np.ndarray


def _validate(points2d, cameras, scores) -> tuple[np.ndarray, np.ndarray | None]:
    check_points2d(points2d, cameras)  # axis 0 = the cameras, last axis = (x, y)
    return filters2d.check_views(points2d, scores)


def triangulate(points2d, cameras: Sequence[Camera], *, scores=None, method: str = "dlt",
                score_threshold: float = 0.0, median_size: int = 0,
                median_max_offset_px: float = 20.0, viterbi: bool = False,
                viterbi_max_jump_px: float = 20.0, min_cameras: int = 2,
                ransac_threshold_px: float = 15.0, constraints=(), constraints_weak=(),
                scale_smooth: float = 4.0, scale_length: float = 2.0,
                scale_length_weak: float = 0.5, reproj_error_threshold: float = 15.0,
                n_deriv_smooth: int = 1, chunk_size: int = 50_000) -> Triangulated:
    """Filter 2D tracks per camera and triangulate them.

    Parameters
    ----------
    points2d : array_like, shape (camera, time, individual, keypoint, 2)
        Distorted pixel coordinates; NaN = missing.
    cameras : sequence of Camera
        One per entry of axis 0.
    scores : array_like, shape (camera, time, individual, keypoint), optional
        Detection confidences (needed for ``score_threshold`` > 0; the Viterbi
        filter treats absent scores as 1).
    method : {'dlt', 'ransac', 'optim'}, default 'dlt'
    score_threshold : float, default 0
        Points with lower scores are dropped (0 disables).
    median_size, median_max_offset_px : int, float
        Rolling-median filter window (frames, 0 disables) and rejection distance.
    viterbi, viterbi_max_jump_px : bool, float
        Apply :func:`~pipeline.triangulation.filters2d.viterbi_filter`.
    min_cameras : int, default 2
    ransac_threshold_px : float, default 15
        Inlier threshold of ``method='ransac'``.
    constraints, constraints_weak, scale_smooth, scale_length, scale_length_weak, \
reproj_error_threshold, n_deriv_smooth
        Passed to :func:`~pipeline.triangulation.optim.triangulate_optim`.
    chunk_size : int, default 50000
        Points per block for DLT, RANSAC and residuals.

    Returns
    -------
    Triangulated

    Examples
    --------
    >>> from pipeline.synthetic.rig import synthetic_rig, synthetic_animals_3d, observe
    >>> cams = synthetic_rig()
    >>> p3, edges = synthetic_animals_3d(n_frames=20)
    >>> res = triangulate(observe(p3, cams, noise_px=0, missing=0), cams)
    >>> bool(np.allclose(res.positions, p3, atol=1e-6)), int(res.n_cameras.min())
    (True, 4)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if min_cameras < 2:
        raise ValueError(f"min_cameras must be at least 2, got {min_cameras}")
    pts, sc = _validate(points2d, cameras, scores)
    if score_threshold > 0:
        if sc is None:
            raise ValueError("score_threshold > 0 needs scores")
        pts = filters2d.score_threshold(pts, sc, threshold=score_threshold)
    if median_size > 0:
        pts = filters2d.median_filter(pts, size=median_size, max_offset_px=median_max_offset_px)
    if viterbi:
        pts = filters2d.viterbi_filter(pts, np.ones(pts.shape[:-1]) if sc is None else sc,
                                       max_jump_px=viterbi_max_jump_px)
    seen = np.all(np.isfinite(pts), axis=-1)
    if method == "dlt":
        pos = triangulate_dlt(pts, cameras, min_cameras=min_cameras, chunk_size=chunk_size)
    elif method == "ransac":
        pos, n_used = triangulate_ransac(pts, cameras, min_cameras=min_cameras,
                                         threshold_px=ransac_threshold_px, chunk_size=chunk_size)
    else:
        pos = triangulate_optim(pts, cameras, constraints=constraints,
                                constraints_weak=constraints_weak, scale_smooth=scale_smooth,
                                scale_length=scale_length, scale_length_weak=scale_length_weak,
                                reproj_error_threshold=reproj_error_threshold,
                                n_deriv_smooth=n_deriv_smooth, min_cameras=min_cameras)
    residuals = reprojection_errors(pos, pts, cameras, chunk_size=chunk_size)
    finite = np.all(np.isfinite(pos), axis=-1)
    if method == "ransac":
        used = seen & (residuals < ransac_threshold_px)
        n_cams = n_used
    else:
        used = seen & finite
        n_cams = used.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_err = np.where(used, residuals, 0.0).sum(axis=0) / used.sum(axis=0)
    mean_err[~finite | (used.sum(axis=0) == 0)] = np.nan
    return Triangulated(positions=pos, reprojection_error=mean_err,
                        n_cameras=np.where(finite, n_cams, 0).astype(np.int64),
                        residuals=residuals)
