"""Motion energy of regions of interest, in one streaming pass over a video.

Definition (Stringer et al. 2019, facemap): the grey frames ``G_t`` (OpenCV's BGR → grey, ITU-R 601
luma rounded to uint8; with ``downsample = d > 1`` each d × d block averaged by OpenCV's ``INTER_AREA``,
rounded to uint8) give the motion frames ``M_t = |G_t - G_{t-1}|`` (exact, computed on uint8 with
``cv2.absdiff``: the same numbers as an int16 difference); the motion energy of an ROI at frame ``t`` is

- ``reduce = "sum"`` (default): the sum of ``M_t`` over the ROI's pixels (facemap's motion energy
  trace), in grey levels;
- ``reduce = "mean"``: that sum divided by the ROI's pixel count (grey levels per pixel).

Frame 0 has no previous frame: its value is NaN, never 0.  Frames are decoded once, in order, until the
decoder stops: the length of the result is the number of frames decoded, not the container's claimed
count (which can differ; see :class:`MotionEnergy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.errors import InputError

__all__ = ["DEFAULT_PARAMS", "REDUCE", "MotionEnergy", "Region", "check_params", "motion_energy", "with_motion",
           "motion_features", "open_video", "read_frame"]

REDUCE = ("sum", "mean")
GREY = "opencv-bgr2gray"  # ITU-R 601 luma, rounded to uint8
DEFAULT_PARAMS = {"grey": GREY, "downsample": 1, "reduce": "sum"}


def check_params(params: dict) -> dict:
    """A motion-energy parameter set, checked: ``downsample`` a whole number >= 1, ``reduce`` sum or mean.

    Examples
    --------
    >>> check_params({"downsample": 2, "reduce": "mean"})
    {'grey': 'opencv-bgr2gray', 'downsample': 2, 'reduce': 'mean'}
    """
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    out = {**DEFAULT_PARAMS, **params}
    d = out["downsample"]
    if unknown or out["grey"] != GREY or out["reduce"] not in REDUCE or isinstance(d, bool) \
            or not isinstance(d, (int, np.integer)) or d < 1:
        raise InputError("motion parameters", f"{params!r}: downsample is a whole number >= 1, reduce one of "
                                              f"{REDUCE}, grey {GREY!r}" + (f"; unknown {unknown}" if unknown else ""))
    return {"grey": GREY, "downsample": int(d), "reduce": out["reduce"]}


@dataclass
class MotionEnergy:
    """Per-frame motion energy of several ROIs.

    Attributes
    ----------
    energy : ndarray, shape (n_frames, n_rois), float64
        Row ``t`` = video frame ``t``; row 0 is NaN.
    rois : list of str
        Column names.
    pixels : list of int
        Pixels of each ROI at the analysed resolution.
    n_frames : int
        Frames decoded.
    container_frames : int
        The frame count the container claims (OpenCV's ``CAP_PROP_FRAME_COUNT``; may be wrong).
    width, height : int
        The video's frame size.
    """

    energy: np.ndarray
    rois: list[str]
    pixels: list[int]
    n_frames: int
    container_frames: int
    width: int
    height: int
    params: dict = field(default_factory=dict)


def open_video(path):
    """An opened ``cv2.VideoCapture`` and its (width, height, container frame count).

    Raises
    ------
    InputError
        Missing file, or one OpenCV cannot decode.
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "video file not found")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(path, "not a video OpenCV can decode")
    size = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    return cap, size, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))


def read_frame(path, index: int = 0) -> np.ndarray:
    """Frame ``index`` of a video (BGR), decoded in order from the start (exact, not a keyframe seek).

    Raises
    ------
    InputError
        The video has fewer frames.
    """
    cap, _, _ = open_video(path)
    try:
        for i in range(int(index) + 1):
            ok, frame = cap.read()
            if not ok:
                raise InputError(path, f"frame {index} cannot be read (the video has {i} frames)")
    finally:
        cap.release()
    return frame


@dataclass
class Region:
    """An ROI on the analysed grid: slices within the crop and an optional uint8 mask (None = full)."""

    rows: slice
    cols: slice
    mask: np.ndarray | None
    pixels: int


def analysis_grid(masks: dict[str, np.ndarray], downsample: int, source: str):
    """The crop of the frame that holds every ROI (aligned to ``downsample`` blocks) and each ROI on it."""
    import cv2

    d = int(downsample)
    height, width = next(iter(masks.values())).shape
    union = np.logical_or.reduce(list(masks.values()))
    rows, cols = np.flatnonzero(union.any(1)), np.flatnonzero(union.any(0))
    y0, x0 = rows[0] // d * d, cols[0] // d * d
    y1 = min(-(-(rows[-1] + 1) // d) * d, height // d * d)
    x1 = min(-(-(cols[-1] + 1) // d) * d, width // d * d)
    if y1 <= y0 or x1 <= x0:
        raise InputError(source, f"the ROIs lie in the last partial {d}x{d} block: nothing left at downsample {d}")
    regions = {}
    for name, mask in masks.items():
        crop = mask[y0:y1, x0:x1]
        if d > 1:
            crop = cv2.resize(crop.astype(np.float32), ((x1 - x0) // d, (y1 - y0) // d),
                              interpolation=cv2.INTER_AREA) >= 0.5
        r, c = np.flatnonzero(crop.any(1)), np.flatnonzero(crop.any(0))
        if not r.size:
            raise InputError(source, f"ROI {name!r} keeps no pixel at downsample {d} (under half of every block)")
        rs, cs = slice(r[0], r[-1] + 1), slice(c[0], c[-1] + 1)
        sub = crop[rs, cs]
        regions[name] = Region(rs, cs, None if sub.all() else sub.astype(np.uint8), int(sub.sum()))
    return (slice(y0, y1), slice(x0, x1)), regions


def grey(frame: np.ndarray, crop, downsample: int) -> np.ndarray:
    """The analysed grey image of one decoded frame: crop, BGR → grey, block average."""
    import cv2

    part = frame[crop[0], crop[1]]
    g = cv2.cvtColor(part, cv2.COLOR_BGR2GRAY) if part.ndim == 3 else np.ascontiguousarray(part)
    if downsample > 1:
        g = cv2.resize(g, (g.shape[1] // downsample, g.shape[0] // downsample), interpolation=cv2.INTER_AREA)
    return g


def motion_energy(video_path, masks: dict[str, np.ndarray], *, downsample: int = 1, reduce: str = "sum",
                  stop: int | None = None, progress=None) -> MotionEnergy:
    """Motion energy of every ROI, decoding each frame once.

    Parameters
    ----------
    video_path : str or Path
        The video.
    masks : dict of str to ndarray of bool
        ROI name → its pixels in the full frame (:func:`pipeline.motion.rois.roi_mask`).
    downsample : int, default 1
        Block-average d × d pixels before differencing (1 = full resolution).
    reduce : {"sum", "mean"}
        Sum over the ROI's pixels, or mean per pixel (see the module docstring).
    stop : int, optional
        Decode only frames ``0 .. stop - 1`` (default: to the end of the video).
    progress : callable, optional
        Called with the number of frames decoded so far, every 1000 frames.

    Returns
    -------
    MotionEnergy

    Raises
    ------
    InputError
        Unreadable video, masks of another size than its frames, bad ``downsample`` or ``reduce``.

    Examples
    --------
    >>> m = np.zeros((480, 640), bool); m[100:200, 100:300] = True
    >>> me = motion_energy("clip.mp4", {"face": m})  # doctest: +SKIP
    >>> me.energy.shape, np.isnan(me.energy[0, 0])  # doctest: +SKIP
    ((1500, 1), True)
    """
    import cv2

    check_params({"downsample": downsample, "reduce": reduce})
    if not masks:
        raise InputError(video_path, "no ROI given")
    cap, (width, height), container = open_video(video_path)
    try:
        bad = {n: m.shape for n, m in masks.items() if m.shape != (height, width)}
        if bad:
            raise InputError(video_path, f"ROI masks {bad} do not match the {width}x{height} frames")
        crop, regions = analysis_grid(masks, downsample, str(video_path))
        values = _stream(cap, crop, list(regions.values()), int(downsample), progress, cv2, stop)
    finally:
        cap.release()
    if not values:
        raise InputError(video_path, "no frame could be decoded")
    energy = np.array(values, dtype=np.float64).reshape(len(values), len(regions))
    if reduce == "mean":
        energy /= np.array([r.pixels for r in regions.values()], float)
    return MotionEnergy(energy, list(regions), [r.pixels for r in regions.values()], len(values), container,
                        width, height, check_params({"downsample": downsample, "reduce": reduce}))


def _stream(cap, crop, regions: list[Region], d: int, progress, cv2, stop=None) -> list:
    """The per-frame sums, one list per frame (frame 0: NaN)."""
    values, prev = [[np.nan] * len(regions)], None
    read, absdiff, sum_elems, mean = cap.read, cv2.absdiff, cv2.sumElems, cv2.mean
    ok, frame = read()
    if not ok:
        return []
    prev = grey(frame, crop, d)
    stop = np.inf if stop is None else int(stop)
    while len(values) < stop:
        ok, frame = read()
        if not ok:
            break
        g = grey(frame, crop, d)
        diff = absdiff(g, prev)
        row = []
        for r in regions:
            sub = diff[r.rows, r.cols]
            row.append(sum_elems(sub)[0] if r.mask is None else round(mean(sub, mask=r.mask)[0] * r.pixels))
        values.append(row)
        prev = g
        if progress is not None and len(values) % 1000 == 0:
            progress(len(values))
    return values


def motion_features(energy: np.ndarray, rois, *, frames=None, prefix: str = "motion_"):
    """Motion energy as a DataFrame indexed by video frame, to join pose-derived features on frame index.

    Parameters
    ----------
    energy : ndarray, shape (n_frames, n_rois)
        A stored :class:`MotionEnergy` array (row = video frame).
    rois : sequence of str
        Column names.
    frames : array of int, optional
        Video frames wanted (e.g. a pose array's ``frame_offset + arange(n)``); frames past the video
        get NaN.

    Examples
    --------
    >>> e = np.array([[np.nan], [3.0], [5.0]])
    >>> motion_features(e, ["face"], frames=[1, 2, 3])["motion_face"].tolist()
    [3.0, 5.0, nan]
    """
    import pandas as pd

    df = pd.DataFrame(np.asarray(energy, float), columns=[f"{prefix}{r}" for r in rois])
    df.index.name = "frame"
    return df if frames is None else df.reindex(pd.Index(np.asarray(frames, int), name="frame"))


def with_motion(values: np.ndarray, names, energy: np.ndarray, rois, *, frame_offset: int = 0):
    """Pose-derived features (frames × features, e.g. :func:`pipeline.classify.features.pair_features`) with
    the motion energy of the same video frames appended as columns ``motion_<roi>``.

    Row ``i`` of ``values`` is video frame ``frame_offset + i`` (a pose array's ``frame_offset``); frames
    past the end of the motion trace get NaN, as does frame 0.

    Returns
    -------
    (ndarray, list of str)

    Examples
    --------
    >>> v, n = with_motion(np.zeros((2, 1)), ["speed"], np.array([[np.nan], [4.0], [6.0]]), ["face"], frame_offset=2)
    >>> n, v[:, 1].tolist()
    (['speed', 'motion_face'], [6.0, nan])
    """
    values = np.asarray(values, float)
    motion = motion_features(energy, rois, frames=frame_offset + np.arange(len(values)))
    return np.hstack([values, motion.to_numpy(float)]), [*names, *motion.columns]
