"""The pose data model shared by every reader, filter and scorer.

One vocabulary (as in movement): *time*, *individual*, *keypoint*, *space*.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class PoseData:
    """Tracked body-part positions of one recording.

    Parameters
    ----------
    positions : ndarray, shape (time, individual, keypoint, space)
        float64 coordinates (pixels for 2D video, mm for 3D); NaN = missing.
    confidence : ndarray, shape (time, individual, keypoint)
        float64 point scores (SLEAP score, DLC likelihood); NaN = unknown.
    individuals : tuple of str
        Track names, in the order of axis 1.
    keypoints : tuple of str
        Body-part names, in the order of axis 2.
    fps : float or None
        Frames per second if the file says so.
    source_software : str
        "SLEAP", "DeepLabCut", "NWB", "Anipose", "synthetic", ...
    edges : tuple of (str, str)
        Skeleton edges by keypoint name, if the file has them.
    frame_offset : int
        Video frame index of the first row of ``positions`` (a file that
        covers only part of a video, e.g. SLEAP labels at frames
        25,000-26,000, is stored from its first covered frame).
    reading : mapping
        What the reader decided while reading (points turned missing,
        individuals split from body-part prefixes, frames covered, ...),
        recorded in provenance.
    uncertainty : mapping of str to ndarray
        Per-point uncertainty a file carries besides its confidence, by
        name, each shaped (time, individual, keypoint) or (time, individual,
        keypoint, space) like ``confidence`` / ``positions`` (Lightning Pose
        ensembles smoothed by eks: ``ensemble_variance``,
        ``posterior_variance``, ``ensemble_median``; see
        :mod:`pipeline.io.lightning_pose`). Empty for most files. A function
        that reorders frames, individuals or keypoints must reorder these
        too (:func:`relayout`).

    Examples
    --------
    >>> import numpy as np
    >>> p = PoseData(np.zeros((3, 1, 2, 2)), np.ones((3, 1, 2)),
    ...              individuals=("a",), keypoints=("nose", "tail"))
    >>> p.n_frames, p.n_individuals, p.n_keypoints, p.n_space
    (3, 1, 2, 2)
    """

    positions: np.ndarray
    confidence: np.ndarray
    individuals: tuple[str, ...]
    keypoints: tuple[str, ...]
    fps: float | None = None
    source_software: str = ""
    edges: tuple[tuple[str, str], ...] = field(default=())
    frame_offset: int = 0
    reading: dict = field(default_factory=dict, compare=False)
    uncertainty: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        pos = np.asarray(self.positions, dtype=np.float64)
        conf = np.asarray(self.confidence, dtype=np.float64)
        if pos.ndim != 4 or pos.shape[-1] not in (2, 3):
            raise ValueError(f"positions must be (time, individual, keypoint, 2|3), got {pos.shape}")
        if conf.shape != pos.shape[:3]:
            raise ValueError(f"confidence shape {conf.shape} does not match positions {pos.shape[:3]}")
        if len(self.individuals) != pos.shape[1] or len(self.keypoints) != pos.shape[2]:
            raise ValueError(
                f"{len(self.individuals)} individuals / {len(self.keypoints)} keypoints "
                f"named for positions of shape {pos.shape}"
            )
        if len(set(self.keypoints)) != len(self.keypoints):
            raise ValueError(f"duplicate keypoint names: {self.keypoints}")
        if len(set(self.individuals)) != len(self.individuals):
            raise ValueError(f"duplicate individual names: {self.individuals}")
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "individuals", tuple(str(i) for i in self.individuals))
        object.__setattr__(self, "keypoints", tuple(str(k) for k in self.keypoints))
        object.__setattr__(self, "edges", tuple((str(a), str(b)) for a, b in self.edges))
        if int(self.frame_offset) != self.frame_offset or self.frame_offset < 0:
            raise ValueError(f"frame_offset must be a whole number >= 0, got {self.frame_offset!r}")
        object.__setattr__(self, "frame_offset", int(self.frame_offset))
        object.__setattr__(self, "reading", dict(self.reading))
        extra = {str(k): np.asarray(v, dtype=np.float64) for k, v in dict(self.uncertainty).items()}
        for name, a in extra.items():
            if a.shape[:3] != pos.shape[:3] or a.ndim not in (3, 4) or (a.ndim == 4 and a.shape[3] != pos.shape[3]):
                raise ValueError(f"uncertainty {name!r} of shape {a.shape} does not match positions {pos.shape}")
        object.__setattr__(self, "uncertainty", extra)

    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def n_individuals(self) -> int:
        return self.positions.shape[1]

    @property
    def n_keypoints(self) -> int:
        return self.positions.shape[2]

    @property
    def n_space(self) -> int:
        return self.positions.shape[3]


def conform_to_skeleton(pose: PoseData, keypoints, *, source: str = "") -> PoseData:
    """Reorder body parts into the skeleton's order; absent ones become NaN.

    Raises
    ------
    InputError
        A body part of the file that the skeleton does not know.
    """
    from .errors import InputError

    keypoints = tuple(keypoints)
    unknown = [k for k in pose.keypoints if k not in keypoints]
    if unknown:
        raise InputError(source, f"body part(s) {unknown} not in the skeleton {list(keypoints)}")
    shape = (pose.n_frames, pose.n_individuals, len(keypoints))
    positions = np.full(shape + (pose.n_space,), np.nan)
    confidence = np.full(shape, np.nan)
    index = [keypoints.index(k) for k in pose.keypoints]
    positions[:, :, index] = pose.positions
    confidence[:, :, index] = pose.confidence
    extra = relayout(pose, shape, lambda out, a: out.__setitem__((slice(None), slice(None), index), a))
    return replace(pose, positions=positions, confidence=confidence, keypoints=keypoints, uncertainty=extra)


def relayout(pose: PoseData, shape: tuple, assign) -> dict:
    """``pose.uncertainty`` moved into arrays of the new (time, individual, keypoint) ``shape``.

    ``assign(out, a)`` copies the old array ``a`` into the NaN-filled new
    one ``out`` exactly as the caller moved ``confidence`` (a trailing
    space axis comes along).

    Examples
    --------
    >>> p = PoseData(np.zeros((2, 1, 2, 2)), np.ones((2, 1, 2)), individuals=("a",), keypoints=("n", "t"),
    ...              uncertainty={"posterior_variance": np.ones((2, 1, 2, 2))})
    >>> out = relayout(p, (2, 1, 3), lambda out, a: out.__setitem__((slice(None), slice(None), [2, 0]), a))
    >>> out["posterior_variance"][0, 0, :, 0].tolist()
    [1.0, nan, 1.0]
    """
    moved = {}
    for name, a in pose.uncertainty.items():
        out = np.full(tuple(shape) + a.shape[3:], np.nan)
        assign(out, a)
        moved[name] = out
    return moved
