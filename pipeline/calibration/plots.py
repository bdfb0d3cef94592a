"""Figures for a camera calibration and for 3D trajectories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from pipeline.calibration.cameras import Camera, camera_centers


def _figure(**kwargs):
    # a bare Figure renders with Agg and never touches pyplot's global backend
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _save(fig, path: str | Path | None):
    if path is not None:
        fig.savefig(Path(path), format="png", dpi=100)
    return fig


def _equal_3d(ax, points: np.ndarray) -> None:
    pts = points[np.all(np.isfinite(points), axis=1)]
    if pts.size == 0:
        return
    mid = (pts.max(axis=0) + pts.min(axis=0)) / 2
    half = max(float(np.max(pts.max(axis=0) - pts.min(axis=0))) / 2, 1e-6)
    ax.set_xlim(mid[0] - half, mid[0] + half)
    ax.set_ylim(mid[1] - half, mid[1] + half)
    ax.set_zlim(mid[2] - half, mid[2] + half)


def plot_calibration_report(cameras: Sequence[Camera], errors_px: Mapping[str, float], *,
                            path: str | Path | None = None, title: str = ""):
    """Per-camera reprojection error (bars) and the camera rig in 3D.

    Parameters
    ----------
    cameras : sequence of Camera
    errors_px : dict of str to float
        Reprojection error per camera name, px (missing names are left blank).
    path : str or Path, optional
        Save the figure here as PNG.
    title : str

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> cam = Camera("a", (640, 480), np.eye(3), np.zeros(5), np.zeros(3), np.zeros(3))
    >>> len(plot_calibration_report([cam], {"a": 0.2}).axes)
    2
    """
    fig = _figure(figsize=(11, 4.5))
    names = [cam.name for cam in cameras]
    errs = np.array([errors_px.get(n, np.nan) for n in names], dtype=float)
    ax = fig.add_subplot(1, 2, 1)
    ax.bar(np.arange(len(names)), np.nan_to_num(errs), color="tab:blue")
    for i, e in enumerate(errs):
        ax.text(i, np.nan_to_num(e), "n/a" if np.isnan(e) else f"{e:.2f}", ha="center", va="bottom")
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylabel("reprojection error (px)")
    ax.set_title("(a) board reprojection error")

    ax3 = fig.add_subplot(1, 2, 2, projection="3d")
    centers = camera_centers(cameras)
    if len(cameras):
        # optical axis (camera +z) in world coordinates: third row of R
        axes = np.stack([cam.rotation_matrix[2] for cam in cameras])
        spread = np.ptp(centers, axis=0).max() if len(cameras) > 1 else 1.0
        length = 0.25 * (spread if spread > 0 else 1.0)
        ax3.scatter(*centers.T, color="tab:red", s=30)
        ax3.quiver(*centers.T, *(axes * length).T, color="tab:gray")
        for name, c in zip(names, centers):
            ax3.text(*c, f" {name}")
        _equal_3d(ax3, np.vstack([centers, centers + axes * length, np.zeros((1, 3))]))
    ax3.set_xlabel("x (mm)")
    ax3.set_ylabel("y (mm)")
    ax3.set_zlabel("z (mm)")
    ax3.set_title("(b) camera positions and viewing directions")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_trajectories_3d(positions: np.ndarray, *, individuals: Sequence[str],
                         keypoints: Sequence[str], keypoint: str | None = None,
                         path: str | Path | None = None):
    """3D trajectories, one colour per individual.

    Parameters
    ----------
    positions : ndarray, shape (time, individual, keypoint, 3)
        NaN = missing (the line breaks there).
    individuals, keypoints : sequence of str
        Names along axes 1 and 2.
    keypoint : str, optional
        Plot only this keypoint (default: all, thinner lines).
    path : str or Path, optional
        Save the figure here as PNG.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> pos = np.random.default_rng(0).normal(size=(10, 2, 1, 3))
    >>> fig = plot_trajectories_3d(pos, individuals=["a", "b"], keypoints=["nose"])
    """
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 4 or pos.shape[-1] != 3:
        raise ValueError(f"positions must have shape (time, individual, keypoint, 3), got {pos.shape}")
    if pos.shape[1] != len(individuals) or pos.shape[2] != len(keypoints):
        raise ValueError(f"positions has {pos.shape[1]} individuals and {pos.shape[2]} keypoints, "
                         f"names give {len(individuals)} and {len(keypoints)}")
    keypoints = list(keypoints)
    if keypoint is not None:
        if keypoint not in keypoints:
            raise ValueError(f"keypoint {keypoint!r} not in {keypoints}")
        kp_index = [keypoints.index(keypoint)]
    else:
        kp_index = list(range(len(keypoints)))
    fig = _figure(figsize=(7, 6))
    ax = fig.add_subplot(1, 1, 1, projection="3d")
    colours = [f"C{i % 10}" for i in range(len(individuals))]
    for i, name in enumerate(individuals):
        for j, k in enumerate(kp_index):
            ax.plot(*pos[:, i, k].T, color=colours[i], lw=1.5 if len(kp_index) == 1 else 0.8,
                    label=name if j == 0 else None)
            ax.scatter(*pos[:, i, k].T, color=colours[i], s=2, alpha=0.4)  # shows isolated frames too
        seen = np.isfinite(pos[:, i, kp_index, 0]).sum(axis=1)
        if seen.any():  # the body at its first and last well-seen frames
            for t, marker in ((int(np.argmax(seen)), "o"), (len(seen) - 1 - int(np.argmax(seen[::-1])), "^")):
                ax.scatter(*pos[t, i, kp_index].T, color=colours[i], marker=marker, s=18, edgecolor="k",
                           linewidths=0.4)
    _equal_3d(ax, pos[:, :, kp_index].reshape(-1, 3))
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    ax.set_zlabel("z (mm)")
    ax.set_title("3D trajectories" + (f" ({keypoint})" if keypoint else ""))
    if len(individuals):
        ax.legend(loc="upper left")
    return _save(fig, path)
