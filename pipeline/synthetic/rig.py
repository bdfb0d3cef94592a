"""A synthetic multi-camera rig, rigid-skeleton animals in 3D, and their 2D views.

Ground truth for triangulation tests: :func:`synthetic_rig` places distorting
cameras on a ring around the origin, :func:`synthetic_animals_3d` moves
chain-shaped bodies with constant link lengths, and :func:`observe` projects
them with pixel noise and dropped points. Everything is deterministic given
``seed``.

>>> cams = synthetic_rig(n_cameras=4)
>>> pts3d, edges = synthetic_animals_3d(n_frames=10, n_individuals=2, keypoints=5)
>>> observe(pts3d, cams).shape
(4, 10, 2, 5, 2)
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from pipeline.calibration.cameras import Camera, project

__all__ = ["synthetic_rig", "synthetic_animals_3d", "observe"]


def _look_at(center: np.ndarray) -> np.ndarray:
    """World-to-camera rotation of a camera at ``center`` looking at the origin, z up."""
    z = -center / np.linalg.norm(center)
    up = np.array([0.0, 0.0, 1.0])
    y = -(up - (up @ z) * z)
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    return np.stack([x, y, z])


def synthetic_rig(*, n_cameras: int = 4, distance_mm: float = 600.0, focal_px: float = 1000.0,
                  size: tuple[int, int] = (1280, 1024),
                  distortion: Sequence[float] = (-0.2, 0.05, 0.0, 0.0, 0.0),
                  seed: int = 0) -> list[Camera]:
    """Cameras evenly spaced on a ring around the origin, slightly elevated, looking at it.

    Parameters
    ----------
    n_cameras : int, default 4
        Number of cameras (``360 / n_cameras`` degrees apart, jittered by up to 5°).
    distance_mm : float, default 600
        Distance of each camera from the origin.
    focal_px : float, default 1000
        Focal length (jittered by up to 2 %).
    size : tuple of int, default (1280, 1024)
        Image (width, height); the principal point is the image centre.
    distortion : sequence of float, default (-0.2, 0.05, 0, 0, 0)
        OpenCV k1, k2, p1, p2, k3, the same for every camera.
    seed : int, default 0

    Returns
    -------
    list of Camera
        Named ``cam0``, ``cam1``, ...

    Examples
    --------
    >>> [c.name for c in synthetic_rig(n_cameras=2)]
    ['cam0', 'cam1']
    """
    if n_cameras < 1:
        raise ValueError(f"n_cameras must be positive, got {n_cameras}")
    rng = np.random.default_rng(seed)
    w, h = int(size[0]), int(size[1])
    cams = []
    for i in range(n_cameras):
        azim = np.deg2rad(45.0 + 360.0 * i / n_cameras + rng.uniform(-5, 5))
        elev = np.deg2rad(25.0 + rng.uniform(-5, 5))
        center = distance_mm * np.array([np.cos(elev) * np.cos(azim),
                                         np.cos(elev) * np.sin(azim), np.sin(elev)])
        rot = _look_at(center)
        f = focal_px * (1.0 + rng.uniform(-0.02, 0.02))
        matrix = np.array([[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0.0, 0.0, 1.0]])
        cams.append(Camera(name=f"cam{i}", size=(w, h), matrix=matrix, distortion=list(distortion),
                           rotation=cv2.Rodrigues(rot)[0].ravel(), translation=-rot @ center))
    return cams


def synthetic_animals_3d(*, n_frames: int = 300, n_individuals: int = 2, keypoints: int = 6,
                         seed: int = 0) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Smoothly moving chain-shaped bodies with constant link lengths.

    The head (keypoint 0) follows a persistent random walk (smoothly turning
    heading, speed ~1-4 mm/frame) kept inside a disc of radius 150 mm around
    the origin, with height oscillating within 10-50 mm. Each further keypoint
    follows the one before it at a fixed distance (15-30 mm, drawn per link),
    so the skeleton's segment lengths are exactly constant.

    Parameters
    ----------
    n_frames : int, default 300
    n_individuals : int, default 2
    keypoints : int, default 6
    seed : int, default 0

    Returns
    -------
    points3d : ndarray, shape (time, individual, keypoint, 3)
        Positions in mm.
    edges : list of (int, int)
        The chain's links ``(k, k + 1)``, usable as length constraints.

    Examples
    --------
    >>> p, e = synthetic_animals_3d(n_frames=50, keypoints=3)
    >>> p.shape, e
    ((50, 2, 3, 3), [(0, 1), (1, 2)])
    >>> d = np.linalg.norm(p[:, :, 1] - p[:, :, 0], axis=-1)
    >>> bool(np.allclose(d, d[0]))
    True
    """
    if n_frames < 1 or n_individuals < 1 or keypoints < 1:
        raise ValueError("n_frames, n_individuals and keypoints must be positive")
    rng = np.random.default_rng(seed)
    n, k = n_individuals, keypoints
    lengths = rng.uniform(15.0, 30.0, size=(n, max(k - 1, 0)))
    heading = rng.uniform(0, 2 * np.pi, size=n)
    turn = np.zeros(n)
    speed = rng.uniform(1.5, 3.0, size=n)
    head = np.c_[rng.uniform(-60, 60, size=(n, 2)), np.full(n, 30.0)]
    phase = rng.uniform(0, 2 * np.pi, size=n)
    period = rng.uniform(60, 120, size=n)
    out = np.empty((n_frames, n, k, 3))
    body = np.empty((n, k, 3))
    body[:, 0] = head
    back = -np.c_[np.cos(heading), np.sin(heading), np.zeros(n)]
    for j in range(1, k):
        body[:, j] = body[:, j - 1] + lengths[:, j - 1, None] * back
    for t in range(n_frames):
        radial = np.hypot(head[:, 0], head[:, 1])
        to_centre = np.arctan2(-head[:, 1], -head[:, 0])
        pull = np.clip((radial - 90.0) / 60.0, 0, 1) * np.sin(to_centre - heading) * 0.15
        turn = 0.9 * turn + rng.normal(0, 0.02, size=n) + pull
        heading = heading + turn
        speed = np.clip(speed + rng.normal(0, 0.1, size=n), 1.0, 4.0)
        head = head.copy()
        head[:, :2] += speed[:, None] * np.c_[np.cos(heading), np.sin(heading)]
        head[:, 2] = 30.0 + 20.0 * np.sin(phase + 2 * np.pi * t / period)
        body[:, 0] = head
        for j in range(1, k):
            d = body[:, j] - body[:, j - 1]
            norm = np.linalg.norm(d, axis=-1, keepdims=True)
            body[:, j] = body[:, j - 1] + lengths[:, j - 1, None] * d / np.maximum(norm, 1e-9)
        out[t] = body
    return out, [(j, j + 1) for j in range(k - 1)]


def observe(points3d, cameras: Sequence[Camera], *, noise_px: float = 1.0, missing: float = 0.1,
            seed: int = 0) -> np.ndarray:
    """Project 3D points into every camera, add Gaussian pixel noise, drop some.

    Parameters
    ----------
    points3d : array_like, shape (..., 3)
        E.g. (time, individual, keypoint, 3), mm.
    cameras : sequence of Camera
    noise_px : float, default 1.0
        Standard deviation of the noise added to each pixel coordinate.
    missing : float, default 0.1
        Fraction of (camera, point) observations set to NaN, drawn independently.
    seed : int, default 0

    Returns
    -------
    ndarray, shape (camera, ..., 2)
        Distorted pixel coordinates.

    Examples
    --------
    >>> cams = synthetic_rig(n_cameras=2)
    >>> observe(np.zeros((3, 3)), cams, noise_px=0, missing=0).shape
    (2, 3, 2)
    """
    if not 0.0 <= missing <= 1.0:
        raise ValueError(f"missing must be a fraction in [0, 1], got {missing}")
    pts = np.asarray(points3d, dtype=np.float64)
    rng = np.random.default_rng(seed)
    out = np.stack([project(cam, pts) for cam in cameras])
    if noise_px > 0:
        out = out + rng.normal(0.0, noise_px, size=out.shape)
    drop = rng.random(out.shape[:-1]) < missing
    out[drop] = np.nan
    return out
