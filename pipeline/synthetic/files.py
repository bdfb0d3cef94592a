"""Write synthetic sessions as real tracking outputs, and render a simple video.

Pose files are written with movement's savers (SLEAP analysis ``.h5``,
DeepLabCut ``.h5``/``.csv``), so synthetic data goes through the same readers
as real data. Notes on movement 0.15's savers:

* ``load_poses.from_numpy`` wants ``(time, space, keypoints, individuals)``,
  the reverse of :class:`~pipeline.pose.PoseData`'s last three axes.
* ``to_sleap_analysis_file`` writes no skeleton (``edge_names``/``edge_inds``
  are empty float arrays), so the edges are added here afterwards, as SLEAP
  writes them (``(n, 2)`` byte strings and ``(n, 2)`` node indices). It drops
  individuals that are all-NaN, and ``from_sleap_file`` reads positions and
  scores back as float32 (~3e-5 px error at 640 px).
* ``to_dlc_file`` keeps missing points as NaN (DeepLabCut itself would write
  x = y = 0, likelihood 0) and float64 values exactly; the scorer level is
  "movement". ``split_individuals="auto"`` would split a one-animal dataset,
  so False is passed explicitly.
* Both readers report ``source_software`` "SLEAP"/"DeepLabCut", not "synthetic".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..pose import PoseData
from .motion import EDGES
from .session import SyntheticSession

FORMATS = {"sleap_h5": ".analysis.h5", "dlc_h5": "_dlc.h5", "dlc_csv": "_dlc.csv"}


def to_movement_dataset(pose):
    """A movement poses ``xarray.Dataset`` from a :class:`~pipeline.pose.PoseData`."""
    from movement.io import load_poses

    return load_poses.from_numpy(
        np.transpose(pose.positions, (0, 3, 2, 1)), np.transpose(pose.confidence, (0, 2, 1)),
        individual_names=list(pose.individuals), keypoint_names=list(pose.keypoints),
        fps=pose.fps, source_software=pose.source_software or None)


def write_session_files(session: SyntheticSession, folder, *, formats=("sleap_h5", "dlc_h5"),
                        stem: str | None = None) -> dict[str, Path]:
    """Write the observed poses in each format plus the ground truth CSV.

    Parameters
    ----------
    session : SyntheticSession
        What to write (its ``pose``, in pixels, and ``episodes``).
    folder : str or Path
        Created if missing.
    formats : sequence of str
        Any of ``"sleap_h5"`` (``<stem>.analysis.h5``), ``"dlc_h5"``
        (``<stem>_dlc.h5``) and ``"dlc_csv"`` (``<stem>_dlc.csv``).
    stem : str, optional
        File name stem; ``session.name`` by default.

    Returns
    -------
    dict of str to Path
        Format -> path, plus ``"truth"`` -> ``<stem>_truth.csv`` (the episodes).
    """
    import h5py
    from movement.io import save_poses

    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown format(s) {sorted(unknown)}; known: {list(FORMATS)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = stem or session.name
    ds = to_movement_dataset(session.pose)
    out = {}
    for fmt in formats:
        path = folder / f"{stem}{FORMATS[fmt]}"
        path.unlink(missing_ok=True)  # movement refuses to overwrite; a re-run rewrites the same content
        if fmt == "sleap_h5":
            save_poses.to_sleap_analysis_file(ds, path)
            kp = list(session.pose.keypoints)
            with h5py.File(path, "a") as f:  # movement writes no skeleton
                for key in ("edge_names", "edge_inds"):
                    del f[key]
                f.create_dataset("edge_names", data=np.array(EDGES, dtype="S"))
                f.create_dataset("edge_inds", data=np.array([[kp.index(a), kp.index(b)] for a, b in EDGES]))
        else:
            save_poses.to_dlc_file(ds, path, split_individuals=False)
        out[fmt] = path
    out["truth"] = folder / f"{stem}_truth.csv"
    session.episodes.to_csv(out["truth"], index=False)
    return out


def render_video(session: SyntheticSession, path, *, max_frames: int | None = None,
                 size: tuple[int, int] | None = None, fps: float | None = None) -> Path:
    """Render a plain grey top view: light arena floor, dark mice, bright noses.

    Drawn from the true positions (what the camera would see), the same
    frames for the same session; the encoder runs single-threaded with
    bit-exact flags so the file is reproducible too.

    Parameters
    ----------
    session : SyntheticSession
        What to draw.
    path : str or Path
        Output ``.mp4``.
    max_frames : int, optional
        Only the first ``max_frames`` frames.
    size : (int, int), optional
        Output width, height (rounded down to even); the session's frame size by default.
    fps : float, optional
        Defaults to the session's frame rate.

    Returns
    -------
    Path
    """
    import imageio_ffmpeg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size or session.frame_size_px
    w, h = int(w) // 2 * 2, int(h) // 2 * 2
    n = session.n_frames if max_frames is None else min(int(max_frames), session.n_frames)
    sx, sy = w / session.frame_size_px[0], h / session.frame_size_px[1]
    to_px = np.array([sx, sy]) / session.mm_per_px  # output px per mm, per axis
    centre = np.asarray(session.arena_center_px) * [sx, sy]
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    floor = np.where(((xx - centre[0]) / (session.arena_radius_mm * to_px[0])) ** 2
                     + ((yy - centre[1]) / (session.arena_radius_mm * to_px[1])) ** 2 <= 1, 170, 80).astype(np.uint8)
    pts = session.true_positions_mm[:n] * to_px + centre  # (time, individual, keypoint, 2) output px
    mm = float(np.mean(to_px))
    writer = imageio_ffmpeg.write_frames(
        str(path), (w, h), pix_fmt_in="gray", fps=float(fps or session.fps), codec="libx264",
        macro_block_size=2, ffmpeg_log_level="error",
        output_params=["-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"])
    writer.send(None)
    try:
        for t in range(n):
            img = floor.copy()
            for kp in pts[t]:
                nose, le, re, neck, _, tail = kp
                _ellipse(img, 0.5 * (neck + tail), neck - tail, 0.5 * np.linalg.norm(neck - tail) + 9 * mm,
                         13 * mm, 45)
                _ellipse(img, 0.5 * (nose + neck), nose - neck, 0.5 * np.linalg.norm(nose - neck) + 3 * mm,
                         8 * mm, 55)
                for ear in (le, re):
                    _ellipse(img, ear, nose - neck, 4 * mm, 4 * mm, 35)
                _ellipse(img, nose, nose - neck, 2.5 * mm, 2.5 * mm, 235)
            writer.send(np.ascontiguousarray(img))
    finally:
        writer.close()
    return path


def _ellipse(img, c, axis, a, b, value):
    """Fill the ellipse at ``c`` with semi-axes ``a`` along ``axis`` and ``b`` across (in place)."""
    h, w = img.shape
    x0, x1 = max(int(c[0] - a - 1), 0), min(int(c[0] + a + 2), w)
    y0, y1 = max(int(c[1] - a - 1), 0), min(int(c[1] + a + 2), h)
    if x0 >= x1 or y0 >= y1:
        return
    u = axis / max(float(np.hypot(*axis)), 1e-9)
    yy, xx = np.mgrid[y0:y1, x0:x1] + 0.5
    dx, dy = xx - c[0], yy - c[1]
    inside = ((dx * u[0] + dy * u[1]) / a) ** 2 + ((dy * u[0] - dx * u[1]) / b) ** 2 <= 1
    img[y0:y1, x0:x1][inside] = value


def write_camera_views(views, cameras, folder, *, individuals, keypoints, fps: float, stem: str = "",
                       confidence: float = 0.9) -> dict[str, Path]:
    """One SLEAP analysis file per camera from 2D views of a synthetic rig.

    Parameters
    ----------
    views : ndarray, shape (camera, time, individual, keypoint, 2)
        Pixel coordinates (e.g. :func:`pipeline.synthetic.rig.observe`), NaN = unseen.
    cameras : sequence of Camera
        Their names name the files (``<stem><camera>.analysis.h5``).
    folder : str or Path
        Created if missing.
    individuals, keypoints : sequence of str
        Track and body-part names.
    fps : float
    confidence : float
        Score written for every seen point (NaN where unseen).

    Returns
    -------
    dict of str to Path
        Camera name -> file.
    """
    from movement.io import save_poses

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for cam, view in zip(cameras, views):
        pose = PoseData(view, np.where(np.isnan(view[..., 0]), np.nan, confidence), individuals=individuals,
                        keypoints=keypoints, fps=fps, source_software="synthetic")
        out[cam.name] = folder / f"{stem}{cam.name}.analysis.h5"
        out[cam.name].unlink(missing_ok=True)
        save_poses.to_sleap_analysis_file(to_movement_dataset(pose), out[cam.name])
    return out
