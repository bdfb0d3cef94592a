"""Frames chosen for labelling (k-means on downsampled frames, as DeepLabCut does) and labelled videos."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import datajoint as dj
import numpy as np

from pipeline import provenance
from pipeline.inference.frames import select_frames_kmeans, write_dlc_frames, write_sleap_package
from pipeline.paths import resolve

from . import pose, recording, store
from .config import data_roots

schema = dj.Schema()


@schema
class FrameExtractionTask(dj.Manual):
    """One row: pick ``n_frames`` diverse frames of one recording for labelling with one skeleton."""

    definition = """
    -> recording.VideoRecording
    -> pose.Skeleton
    output : varchar(16)                # 'sleap': a .pkg.slp (images embedded); 'deeplabcut': a labeled-data folder
    ---
    n_frames = 20 : int32
    downscale = 0.25 : float64          # frames are shrunk by this before clustering
    stride = 1 : int32                  # cluster every stride-th frame
    seed = 0 : int32
    """


@schema
class FrameExtraction(dj.Computed):
    """One row: the chosen frames of one task, ready to label (SLEAP .pkg.slp or DLC labeled-data folder)."""

    definition = """
    -> FrameExtractionTask
    ---
    frame_indices : json
    package : <object@ethojoint>        # label it in SLEAP / DLC, then register it as a LabeledFrameSet
    provenance : json
    """

    def make_fetch(self, key):
        task = (FrameExtractionTask & key).fetch1()
        video = (recording.VideoRecording & key).fetch1("video_path")
        skeleton = (pose.Skeleton & key).fetch1()
        sha = (recording.RecordingInfo & key).fetch1("video_sha256")
        params = {k: task[k] for k in ("n_frames", "downscale", "stride", "seed", "output")}
        return video, sha, skeleton["keypoints"], skeleton["edges"], params

    def make_compute(self, key, video, sha, keypoints, edges, params):
        from pipeline.errors import InputError

        if not video:
            raise InputError(f"FrameExtractionTask {key}", "the recording has no video file")
        if params["output"] not in ("sleap", "deeplabcut"):  # (no enum in a key: DataJoint's PostgreSQL jobs table)
            raise InputError(f"FrameExtractionTask {key}", f"output must be 'sleap' or 'deeplabcut', "
                                                           f"not {params['output']!r}")
        path = resolve(video, data_roots())
        frames = select_frames_kmeans(path, n_frames=params["n_frames"], downscale=params["downscale"],
                                      stride=params["stride"], seed=params["seed"])
        work = Path(tempfile.mkdtemp(prefix="ethojoint_frames_"))
        try:
            if params["output"] == "deeplabcut":
                package = write_dlc_frames(path, frames, work / "labeled-data")
            else:
                package = write_sleap_package(path, frames, work / f"{key['session']}_{key['camera']}.pkg.slp",
                                              skeleton_nodes=keypoints, skeleton_edges=[tuple(e) for e in edges])
            uploaded = store.upload(self, key, "package", str(package))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        prov = provenance.record(inputs={video: sha}, params=params)
        return [int(f) for f in frames], uploaded, prov

    def make_insert(self, key, frames, package, prov):
        with store.removed_on_error(package):
            self.insert1(dict(key, frame_indices=frames, package=package, provenance=prov))


@schema
class LabeledVideoTask(dj.Manual):
    """One row: render one pose estimation over its recording's video (pose rows start..stop)."""

    definition = """
    -> pose.PoseEstimation
    ---
    row_start = 0 : int32
    row_stop = null : int32             # exclusive; null = to the end
    min_confidence = 0 : float64
    """


@schema
class LabeledVideo(dj.Computed):
    """One row: an mp4 of the recording with the tracked skeletons drawn on it."""

    definition = """
    -> LabeledVideoTask
    ---
    video : <object@ethojoint>
    n_frames : int32
    provenance : json
    """

    def make_fetch(self, key):
        task = (LabeledVideoTask & key).fetch1()
        video = (recording.VideoRecording & key).fetch1("video_path")
        row = pose.fetch_pose(key)
        edges = (pose.Skeleton & (pose.PoseEstimationTask & key)).fetch1("edges")
        return (RenderInputs(video=video, row_start=task["row_start"], row_stop=task["row_stop"],
                             min_confidence=task["min_confidence"], edges=[list(e) for e in edges], pose=row,
                             inputs=pose.input_checksums(row)),)

    def make_compute(self, key, given: RenderInputs):
        from pipeline.errors import InputError
        from pipeline.pose import PoseData
        from pipeline.render import render_labeled_video

        if not given.video:
            raise InputError(f"LabeledVideoTask {key}", "the recording has no video file")
        row = given.pose
        positions, confidence = pose.pose_arrays(row)
        rows = slice(given.row_start, given.row_stop)
        data = PoseData(positions[rows], confidence[rows], individuals=row["individuals"],
                        keypoints=row["keypoints"], fps=row["fps"], edges=[tuple(e) for e in given.edges])
        # video frame of array row 0 (inference on a range, sparse labels)
        frames = int(row["frame_offset"]) + np.arange(positions.shape[0])[rows]
        work = Path(tempfile.mkdtemp(prefix="ethojoint_video_"))
        try:
            out = render_labeled_video(resolve(given.video, data_roots()), data,
                                       work / f"{key['session']}_{key['camera']}_{key['pose_source']}_labeled.mp4",
                                       frame_indices=frames, min_confidence=given.min_confidence)
            uploaded = store.upload(self, key, "video", str(out))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        prov = provenance.record(inputs=given.inputs, params={"rows": [given.row_start, given.row_stop],
                                                                "min_confidence": given.min_confidence})
        return uploaded, int(len(frames)), prov

    def make_insert(self, key, video, n_frames, prov):
        with store.removed_on_error(video):
            self.insert1(dict(key, video=video, n_frames=n_frames, provenance=prov))


@dataclass
class RenderInputs:
    """What :meth:`LabeledVideo.make_fetch` reads: the task, the video path, the pose row (array metadata)."""

    video: str | None
    row_start: int
    row_stop: int | None
    min_confidence: float
    edges: list[list[str]]
    pose: dict          # PoseEstimation row, arrays as store metadata (store.small)
    inputs: dict        # path -> sha256 of the files the pose was read from
