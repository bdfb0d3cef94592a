"""Calibrated cameras: the data model, projection, and sanity checks.

Conventions follow OpenCV and Anipose: ``rotation`` is a Rodrigues vector and
``translation`` a vector (mm) taking world points into the camera frame,
``x_cam = R @ x_world + t``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.errors import InputError

__all__ = ["Camera", "project", "undistort", "camera_centers", "check_cameras",
           "read_calibration_toml", "write_calibration_toml"]


def _array(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{what} must have shape {shape}, got {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera (pinhole + OpenCV radial/tangential distortion).

    Parameters
    ----------
    name : str
        Camera name ("top", "side", ...).
    size : tuple of int
        Image (width, height) in pixels.
    matrix : ndarray, shape (3, 3)
        Intrinsic matrix K.
    distortion : ndarray, shape (5,)
        OpenCV coefficients k1, k2, p1, p2, k3; shorter input is zero-padded.
    rotation : ndarray, shape (3,)
        Rodrigues vector, world to camera.
    translation : ndarray, shape (3,)
        World to camera translation, mm.

    Examples
    --------
    >>> cam = Camera("top", (640, 480), np.eye(3), [0.1], np.zeros(3), [0, 0, 10])
    >>> cam.distortion.tolist()
    [0.1, 0.0, 0.0, 0.0, 0.0]
    >>> Camera.from_dict(cam.to_dict()).name
    'top'
    """

    name: str
    size: tuple[int, int]
    matrix: np.ndarray
    distortion: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"camera name must be a non-empty string, got {self.name!r}")
        size = tuple(int(v) for v in np.asarray(self.size).ravel())
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f"camera {self.name!r}: size must be (width, height) > 0, got {self.size!r}")
        dist = np.asarray(self.distortion, dtype=np.float64).ravel()
        if dist.size > 5:
            if np.any(dist[5:] != 0):
                raise ValueError(f"camera {self.name!r}: only 5 distortion coefficients "
                                 f"(k1, k2, p1, p2, k3) are supported, got {dist.size}")
            dist = dist[:5]
        dist = np.concatenate([dist, np.zeros(5 - dist.size)])
        set_ = object.__setattr__
        set_(self, "size", size)
        set_(self, "matrix", _array(self.matrix, (3, 3), f"camera {self.name!r}: matrix"))
        set_(self, "distortion", _array(dist, (5,), f"camera {self.name!r}: distortion"))
        set_(self, "rotation", _array(np.ravel(self.rotation), (3,), f"camera {self.name!r}: rotation"))
        set_(self, "translation",
             _array(np.ravel(self.translation), (3,), f"camera {self.name!r}: translation"))

    @property
    def rotation_matrix(self) -> np.ndarray:
        """The 3x3 world-to-camera rotation matrix."""
        return cv2.Rodrigues(self.rotation)[0]

    @property
    def center(self) -> np.ndarray:
        """Camera position in world coordinates, ``-R^T t``."""
        return -self.rotation_matrix.T @ self.translation

    def to_dict(self) -> dict:
        """Plain JSON-able dict (lists and floats)."""
        return {"name": self.name, "size": list(self.size), "matrix": self.matrix.tolist(),
                "distortion": self.distortion.tolist(), "rotation": self.rotation.tolist(),
                "translation": self.translation.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Camera:
        """Inverse of :meth:`to_dict` (also accepts Anipose's ``distortions``)."""
        dist = d["distortion"] if "distortion" in d else d["distortions"]
        return cls(name=str(d["name"]), size=tuple(d["size"]), matrix=d["matrix"],
                   distortion=dist, rotation=d["rotation"], translation=d["translation"])


def _finite_rows(points: np.ndarray, dim: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim == 0 or pts.shape[-1] != dim:
        raise ValueError(f"{what} must have shape (..., {dim}), got {pts.shape}")
    flat = pts.reshape(-1, dim)
    return flat, np.all(np.isfinite(flat), axis=1)


def project(camera: Camera, points3d: np.ndarray) -> np.ndarray:
    """Project world points (mm) into pixel coordinates, as ``cv2.projectPoints``.

    Parameters
    ----------
    camera : Camera
    points3d : array_like, shape (..., 3)
        World points; rows with any NaN give NaN.

    Returns
    -------
    ndarray, shape (..., 2)
        Distorted pixel coordinates.

    Examples
    --------
    >>> cam = Camera("c", (640, 480), [[100, 0, 320], [0, 100, 240], [0, 0, 1]],
    ...              np.zeros(5), np.zeros(3), np.zeros(3))
    >>> project(cam, [[0.0, 0.0, 10.0], [np.nan, 0, 1]]).tolist()
    [[320.0, 240.0], [nan, nan]]
    """
    pts = np.asarray(points3d, dtype=np.float64)
    if pts.ndim == 0 or pts.shape[-1] != 3:
        raise ValueError(f"points3d must have shape (..., 3), got {pts.shape}")
    # OpenCV's pinhole + (k1, k2, p1, p2, k3) model, vectorised in numpy (same
    # numbers as cv2.projectPoints, ~3x faster on large arrays; NaN propagates)
    cam = pts @ camera.rotation_matrix.T + camera.translation
    x, y = cam[..., 0] / cam[..., 2], cam[..., 1] / cam[..., 2]
    k1, k2, p1, p2, k3 = camera.distortion[:5]
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    m = camera.matrix
    return np.stack([m[0, 0] * xd + m[0, 2], m[1, 1] * yd + m[1, 2]], axis=-1)


def undistort(camera: Camera, points2d: np.ndarray) -> np.ndarray:
    """Pixel coordinates to normalised (undistorted, K-removed) image coordinates.

    Same as ``cv2.undistortPoints(points, K, dist)``; NaN rows stay NaN.

    Parameters
    ----------
    camera : Camera
    points2d : array_like, shape (..., 2)
        Distorted pixel coordinates.

    Returns
    -------
    ndarray, shape (..., 2)
        ``(x/z, y/z)`` of the ray in the camera frame.

    Examples
    --------
    >>> cam = Camera("c", (640, 480), [[100, 0, 320], [0, 100, 240], [0, 0, 1]],
    ...              np.zeros(5), np.zeros(3), np.zeros(3))
    >>> undistort(cam, [[420.0, 240.0]]).round(6).tolist()
    [[1.0, 0.0]]
    """
    pts = np.asarray(points2d, dtype=np.float64)
    flat, ok = _finite_rows(pts, 2, "points2d")
    out = np.full((flat.shape[0], 2), np.nan)
    if ok.any():
        und = cv2.undistortPoints(np.ascontiguousarray(flat[ok]).reshape(-1, 1, 2),
                                  camera.matrix, camera.distortion)
        out[ok] = und.reshape(-1, 2)
    return out.reshape(pts.shape[:-1] + (2,))


def camera_centers(cameras: Sequence[Camera]) -> np.ndarray:
    """World positions of the cameras, shape (n, 3), ``-R^T t`` each.

    Examples
    --------
    >>> cam = Camera("c", (640, 480), np.eye(3), np.zeros(5), np.zeros(3), [0, 0, 5])
    >>> camera_centers([cam]).tolist()
    [[0.0, 0.0, -5.0]]
    """
    if len(cameras) == 0:
        return np.zeros((0, 3))
    return np.stack([cam.center for cam in cameras])


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.allclose(a, b, rtol=1e-9, atol=1e-9))


def check_cameras(cameras: Sequence[Camera], *, source: str | Path,
                  errors_px: Mapping[str, float] | None = None,
                  max_error_px: float | None = None) -> None:
    """Refuse a camera set that cannot be a real calibration.

    Raises one :class:`~pipeline.errors.InputError` naming ``source`` when
    camera names repeat, a number is not finite, two cameras share their
    extrinsics or intrinsics (one copied from the other), or a per-camera
    reprojection error in ``errors_px`` exceeds ``max_error_px``.

    Parameters
    ----------
    cameras : sequence of Camera
    source : str or Path
        The calibration file (or other origin) to name in the error.
    errors_px : dict of str to float, optional
        Per-camera reprojection error in pixels.
    max_error_px : float, optional
        The largest acceptable error in ``errors_px``.

    Examples
    --------
    >>> cam = Camera("a", (640, 480), np.eye(3), np.zeros(5), np.zeros(3), np.zeros(3))
    >>> check_cameras([cam], source="calibration.toml")
    """
    names = [cam.name for cam in cameras]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(source, f"camera name(s) {dupes} appear more than once")
    for cam in cameras:
        _check_finite(cam, source)
    for i, a in enumerate(cameras):
        for b in cameras[i + 1:]:
            _check_not_copies(a, b, source)
    if errors_px is not None and max_error_px is not None:
        _check_errors(names, errors_px, max_error_px, source)


def _check_finite(cam: Camera, source) -> None:
    """Raise InputError when any of the camera's parameters is not finite."""
    for field in ("matrix", "distortion", "rotation", "translation"):
        if not np.all(np.isfinite(getattr(cam, field))):
            raise InputError(source, f"camera {cam.name!r} has non-finite {field} values")


def _check_not_copies(a: Camera, b: Camera, source) -> None:
    """Raise InputError when two cameras share their extrinsics or intrinsics."""
    ext = _same(a.rotation, b.rotation) and _same(a.translation, b.translation)
    intr = _same(a.matrix, b.matrix) and _same(a.distortion, b.distortion)
    if ext or intr:
        what = ("extrinsics and intrinsics" if ext and intr
                else "extrinsics" if ext else "intrinsics")
        pair = sorted([a.name, b.name])
        raise InputError(source, f"cameras {pair[0]!r} and {pair[1]!r} have identical {what} "
                                 "(one is a copy of the other); recalibrate or leave one out")


def _check_errors(names: Sequence[str], errors_px: Mapping[str, float], max_error_px: float, source) -> None:
    """Raise InputError for the first named camera whose reprojection error is not finite or over the limit."""
    for name in names:
        err = errors_px.get(name)
        if err is None:
            continue
        if not np.isfinite(err) or err > max_error_px:
            raise InputError(source, f"camera {name!r} has reprojection error {float(err):.3f} px, "
                                     f"above the limit of {float(max_error_px):.3f} px")


# TOML I/O lives in its own module (it needs Camera); re-exported as part of this API.
from pipeline.calibration._toml import read_calibration_toml, write_calibration_toml  # noqa: E402
