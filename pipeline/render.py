"""Labelled videos: the tracked skeletons drawn over the recording's frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputError
from .pose import PoseData


def render_labeled_video(video_path, pose: PoseData, out_path, *, frame_indices=None, radius: int = 3,
                         min_confidence: float = 0.0) -> Path:
    """Draw body parts and skeleton edges of every individual on the video frames; write an H.264 mp4.

    Parameters
    ----------
    video_path : str or Path
        The recording the pose was tracked on.
    pose : PoseData
        2D poses in the video's pixels; row ``i`` belongs to video frame
        ``frame_indices[i]``.
    out_path : str or Path
        The ``.mp4`` to write.
    frame_indices : sequence of int, optional
        Video frame of each pose row (default ``0 .. n_frames-1``).
    radius : int
        Dot radius in pixels.
    min_confidence : float
        Points below this confidence are not drawn.

    Returns
    -------
    Path
        ``out_path``.

    Examples
    --------
    >>> render_labeled_video("clip.mp4", pose, "clip_labeled.mp4")  # doctest: +SKIP
    """
    import cv2
    import imageio_ffmpeg

    if pose.n_space != 2:
        raise ValueError("a labelled video needs 2D poses in pixels")
    frames = np.arange(pose.n_frames) if frame_indices is None else np.asarray(frame_indices, dtype=int)
    if len(frames) != pose.n_frames:
        raise ValueError(f"{len(frames)} frame indices for {pose.n_frames} pose rows")
    cap = cv2.VideoCapture(str(video_path))
    if not cap.isOpened():
        raise InputError(video_path, "not a readable video")
    fps = cap.get(cv2.CAP_PROP_FPS) or pose.fps or 30.0
    colours = [tuple(int(255 * c) for c in _rgb(i)) for i in range(pose.n_individuals)]
    edges = [(pose.keypoints.index(a), pose.keypoints.index(b)) for a, b in pose.edges
             if a in pose.keypoints and b in pose.keypoints]
    out_path = Path(out_path)
    writer = None
    try:
        for row, index in enumerate(frames):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
            ok, frame = cap.read()
            if not ok:
                raise InputError(video_path, f"frame {int(index)} cannot be read")
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            if writer is None:
                h, w = frame.shape[:2]
                writer = imageio_ffmpeg.write_frames(str(out_path), (w, h), fps=float(fps), codec="libx264",
                                                     macro_block_size=1)
                writer.send(None)
            _draw(frame, pose, row, colours, edges, radius, min_confidence)
            writer.send(np.ascontiguousarray(frame))
    finally:
        cap.release()
        if writer is not None:
            writer.close()
    return out_path


def _draw(frame, pose: PoseData, row: int, colours, edges, radius: int, min_confidence: float) -> None:
    import cv2

    pts = pose.positions[row]
    ok = np.isfinite(pts).all(-1) & ~(pose.confidence[row] < min_confidence)
    for i in range(pose.n_individuals):
        for a, b in edges:
            if ok[i, a] and ok[i, b]:
                cv2.line(frame, tuple(int(v) for v in pts[i, a]), tuple(int(v) for v in pts[i, b]), colours[i], 1,
                         cv2.LINE_AA)
        for k in np.flatnonzero(ok[i]):
            cv2.circle(frame, tuple(int(v) for v in pts[i, k]), radius, colours[i], -1, cv2.LINE_AA)


def _rgb(i: int) -> tuple[float, float, float]:
    from matplotlib import colormaps

    return colormaps["tab10"](i % 10)[:3]
