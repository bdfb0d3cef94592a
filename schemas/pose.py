"""Skeletons, pose-estimation tasks and their results (one array per recording)."""

import datajoint as dj
import numpy as np

from pipeline import provenance
from pipeline.io import read_pose
from pipeline.io.checksum import file_checksum
from pipeline.paths import resolve
from pipeline.pose import conform_to_skeleton

from . import recording, session
from .config import data_roots

schema = dj.Schema()


@schema
class Skeleton(dj.Manual):
    """One row: one named body-part list with its edges."""

    definition = """
    skeleton : varchar(32)
    ---
    keypoints : json          # ordered list of body-part names
    edges : json              # list of [part, part]
    """


@schema
class PoseEstimationTask(dj.Manual):
    """One row: how to obtain the poses of one recording from one source.

    Mode ``load`` reads an existing tracking output (``pose_path``, relative
    to a data root); mode ``trigger`` (reserved) runs a pose model.
    """

    definition = """
    -> recording.VideoRecording
    pose_source : varchar(32)             # e.g. 'sleap', 'dlc', 'synthetic'
    ---
    -> Skeleton
    task_mode : enum('load', 'trigger')
    pose_path = '' : varchar(512)         # relative to a data root (mode load)
    pose_format = '' : varchar(16)        # sleap | dlc | nwb | anipose; '' = from the extension
    """

    class Track(dj.Part):
        """One row: a track of the output file that is one of the session's animals."""

        definition = """
        -> master
        track : varchar(64)
        ---
        -> session.Session.Animal
        """


@schema
class PoseEstimation(dj.Imported):
    """One row: all poses of one recording from one source.

    ``positions`` is ONE array, frames × individuals × body parts × space
    (x, y[, z]) in ``space_units``, body parts in the skeleton's order, NaN
    where missing; ``confidence`` is frames × individuals × body parts.
    """

    definition = """
    -> PoseEstimationTask
    ---
    positions : <npy@ethojoint>
    confidence : <npy@ethojoint>
    n_frames : int32
    n_individuals : int32
    individuals : json               # track names, in array order
    keypoints : json                 # body parts, in array order (= skeleton)
    space_units : enum('px', 'mm')
    fps : float64
    source_software : varchar(32)
    provenance : json
    """

    class Individual(dj.Part):
        """One row: the subject one track of the array belongs to."""

        definition = """
        -> master
        individual_index : int16
        ---
        track : varchar(64)
        -> session.Session.Animal
        """

    def make_fetch(self, key):
        task = (PoseEstimationTask & key).fetch1()
        keypoints = (Skeleton & task).fetch1("keypoints")
        fps = (recording.RecordingInfo & key).fetch1("fps")
        tracks = {r["track"]: r["subject"] for r in (PoseEstimationTask.Track & key).to_dicts()}
        return task["task_mode"], task["pose_path"], task["pose_format"], keypoints, fps, tracks

    def make_compute(self, key, mode, pose_path, pose_format, keypoints, fps, tracks):
        if mode != "load":
            raise NotImplementedError("task_mode 'trigger' runs in the pose workers")
        path = resolve(pose_path, data_roots())
        pose = read_pose(path, fmt=pose_format or None, fps=fps)
        pose = conform_to_skeleton(pose, keypoints, source=path)
        check_tracks(tracks, pose.individuals, source=path)
        prov = provenance.record(
            inputs={pose_path: file_checksum(path)},
            params={"mode": mode, "format": pose_format, "keypoints": keypoints, "tracks": tracks},
        )
        return pose, prov, fps

    def make_insert(self, key, pose, prov, fps):
        self.insert1(dict(
            key,
            positions=pose.positions.astype(np.float32),
            confidence=pose.confidence.astype(np.float32),
            n_frames=pose.n_frames,
            n_individuals=pose.n_individuals,
            individuals=list(pose.individuals),
            keypoints=list(pose.keypoints),
            space_units="mm" if pose.n_space == 3 else "px",
            fps=float(fps),  # the recording's frame rate is the authority
            source_software=pose.source_software[:32],
            provenance=prov,
        ))
        tracks = prov["params"]["tracks"]
        self.Individual.insert(
            dict(key, individual_index=i, track=name, subject=tracks[name])
            for i, name in enumerate(pose.individuals) if name in tracks
        )


def check_tracks(tracks: dict, individuals, *, source) -> None:
    """Every mapped track must exist in the file."""
    from pipeline.errors import InputError

    missing = sorted(set(tracks) - set(individuals))
    if missing:
        raise InputError(source, f"track(s) {missing} mapped to subjects are not in the file "
                                 f"(its tracks: {list(individuals)})")


def input_checksums(row: dict) -> dict:
    """path → sha256 of the files a pose row was read from (from its provenance)."""
    return {i["path"]: i["sha256"] for i in row["provenance"].get("inputs", [])}


def load_pose(key) -> tuple[dict, np.ndarray, np.ndarray]:
    """Fetch one PoseEstimation row with its arrays loaded (float64)."""
    row = (PoseEstimation & key).fetch1()
    return row, np.asarray(row["positions"], dtype=np.float64), np.asarray(row["confidence"], dtype=np.float64)
