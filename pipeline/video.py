"""Video file facts: frame rate, frame count, size, duration."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import InputError


@dataclass(frozen=True)
class VideoInfo:
    """What RecordingInfo stores about a video file."""

    fps: float
    n_frames: int
    width: int
    height: int
    duration_s: float


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's metadata with ffmpeg (exact frame count).

    Raises
    ------
    InputError
        Missing or unreadable file, or a frame rate that is 0 or missing.

    Examples
    --------
    >>> probe_video("clip.mp4").fps  # doctest: +SKIP
    15.0
    """
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "video file not found")
    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = next(reader)
        reader.close()
        n_frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (RuntimeError, OSError, StopIteration) as err:
        raise InputError(path, f"cannot read video: {str(err).splitlines()[0] if str(err) else err!r}") from err
    fps = float(meta.get("fps") or 0)
    if not fps > 0:
        raise InputError(path, "video has no frame rate (fps 0 or missing)")
    width, height = meta.get("size") or (0, 0)
    return VideoInfo(fps=fps, n_frames=int(n_frames), width=int(width), height=int(height),
                     duration_s=int(n_frames) / fps)
