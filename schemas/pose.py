"""Skeletons, pose-estimation tasks and their results (one array per recording)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import datajoint as dj
import numpy as np

from pipeline import provenance
from pipeline.errors import InputError
from pipeline.io import read_pose
from pipeline.io.checksum import file_checksum, file_stat
from pipeline.io.lightning_pose import uncertainty_units
from pipeline.paths import resolve
from pipeline.pose import conform_to_skeleton

from . import recording, session, store
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
class SkeletonRole(dj.Manual):
    """One row: what one body-part role is in one skeleton.

    ``spec`` is a keypoint (``"TTI"``), a list of keypoints (a set: a
    distance to it is the minimum over the set), or ``{"centroid": [...]}``
    / ``{"median": [...]}`` (one point made of several); stored as a
    one-key object (``{"keypoint": "TTI"}``, ``{"set": [...]}``, ...) and
    returned in the plain form by :func:`skeleton_roles`. ``resolved`` says
    whether a user gave it or ingest read it from unambiguous names; both
    are recorded in the provenance of what is scored with it.
    """

    definition = """
    -> Skeleton
    role : varchar(32)                  # nose, neck, left_ear, right_ear, tail_base, body_centre, or a user's name
    ---
    spec : json                         # {"keypoint": kp} | {"set": [...]} | {"centroid": [...]} | {"median": [...]}
    resolved : varchar(8)               # 'given' (manifest, CLI) or 'auto' (unambiguous names)
    """


def skeleton_roles(skeleton: str) -> dict:
    """role → spec of one skeleton (see :class:`SkeletonRole`)."""
    return {r["role"]: decode_spec(r["spec"]) for r in (SkeletonRole & {"skeleton": skeleton}).to_dicts()}


def encode_spec(spec) -> dict:
    """A role spec as stored: always a one-key object (a bare JSON string does not survive every backend)."""
    if isinstance(spec, str):
        return {"keypoint": spec}
    if isinstance(spec, (list, tuple)):
        return {"set": list(spec)}
    return dict(spec)


def decode_spec(stored: dict):
    """The stored object back to ``"kp"``, ``["kp", ...]`` or ``{"centroid"|"median": [...]}``."""
    (kind, value), = stored.items()
    return value if kind in ("keypoint", "set") else {kind: value}


def set_roles(skeleton: str, roles: dict) -> dict:
    """Give roles to a skeleton (``ethojoint skeleton roles``); returns all its roles after.

    Every role is validated against the skeleton's keypoints before anything
    is written. A role it already has with another value is an error:
    scored rows record the roles they used, so changing one means deleting
    its SkeletonRole row (and re-scoring) on purpose.

    Raises
    ------
    InputError
        Unknown skeleton, bad role or keypoint, or a role already set differently.
    """
    from pipeline.roles import check_role

    rows = (Skeleton & {"skeleton": skeleton}).to_dicts()
    if not rows:
        known = sorted(Skeleton.to_arrays("skeleton"))
        raise InputError(f"skeleton {skeleton!r}", f"no such skeleton (known: {known})")
    have = skeleton_roles(skeleton)
    source = f"skeleton {skeleton!r}"
    checked = {r: check_role(r, spec, rows[0]["keypoints"], source=source) for r, spec in roles.items()}
    clash = {r: (have[r], v) for r, v in checked.items() if r in have and have[r] != v}
    if clash:
        raise InputError(source, "role(s) already set differently: " + ", ".join(
            f"{r} is {old!r}, not {new!r}" for r, (old, new) in clash.items())
            + "; delete the SkeletonRole row first to change it")
    SkeletonRole.insert([{"skeleton": skeleton, "role": r, "spec": encode_spec(v), "resolved": "given"}
                         for r, v in checked.items() if r not in have])
    return skeleton_roles(skeleton)


@schema
class PoseEstimationTask(dj.Manual):
    """One row: how to obtain the poses of one recording from one source.

    Mode ``load`` reads an existing tracking output (``pose_path``, relative
    to a data root); mode ``trigger`` runs the PoseModel named by its
    ``models.PoseInference`` row on the recording's video.
    """

    definition = """
    -> recording.VideoRecording
    pose_source : varchar(32)             # e.g. 'sleap', 'dlc', 'synthetic'
    ---
    -> Skeleton
    task_mode : enum('load', 'trigger')
    pose_path = '' : varchar(512)         # relative to a data root (mode load)
    pose_format = '' : varchar(16)        # sleap | dlc | nwb | anipose; '' = from the extension
    read_options = null : json            # read_pose keywords: zero_is_valid, individual_prefixes
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
    Row 0 of the arrays is video frame ``frame_offset``: a file that covers
    frames 25,000-26,000 of a long video is not padded from frame 0.
    ``labelled_frames`` counts the frames the file has data for (less than
    ``n_frames`` for sparse labels); ``video_frames`` is the video's count.
    ``zero_points_missing`` counts points at exactly (0, 0) made missing.
    What reading decided (prefix split, zero rule, ...) is in
    ``provenance.params.reading``; frame counts that disagree (a pose shorter
    than its video, cameras of the session whose videos differ in length)
    are in ``provenance.params.warnings`` (absent when there are none).
    """

    definition = """
    -> PoseEstimationTask
    ---
    positions : <array@ethojoint>
    confidence : <array@ethojoint>
    n_frames : int32
    frame_offset = 0 : int32         # video frame index of array row 0
    labelled_frames = null : int32   # frames the file has entries for (sparse labels); null = every frame
    video_frames = null : int32      # frames of the recording's video; null = no video
    zero_points_missing = 0 : int32  # points at exactly (0, 0) turned missing
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

    class Uncertainty(dj.Part):
        """One row: one per-point uncertainty array the pose file carried besides its confidence.

        Lightning Pose ensembles smoothed by eks write the ensemble variance,
        the smoother's posterior variance and the ensemble median (see
        :mod:`pipeline.io.lightning_pose`); ``confidence`` stays the file's
        likelihood. Same layout as the master's arrays (frames × individuals
        × body parts, then × space for a per-axis quantity), NaN where absent.
        """

        definition = """
        -> master
        quantity : varchar(32)     # ensemble_variance, posterior_variance, ensemble_median, ensemble_std, zscore, nll
        ---
        data : <array@ethojoint>
        units : varchar(8)         # px, px^2, mm, mm^2, or '' (zscore, nll)
        """

    @property
    def key_source(self):
        # a trigger task is ready once the table that the models module plugs in (set_trigger) names its model
        ready = ["task_mode = 'load'"] + ([_TRIGGER[0].table.proj()] if _TRIGGER else [])
        return PoseEstimationTask & ready

    def make_fetch(self, key):
        task = (PoseEstimationTask & key).fetch1()
        info = (recording.RecordingInfo & key).fetch1()
        inference = None
        if task["task_mode"] == "trigger":
            inference = dict(trigger().fetch(key), video_path=(recording.VideoRecording & key).fetch1("video_path"),
                             video_sha256=info["video_sha256"], n_frames=info["n_frames"])
        load = {k: task[k] for k in ("task_mode", "pose_path", "pose_format")}
        load.update(options=task["read_options"] or {}, video_frames=info["n_frames"],
                    animals=sorted(str(a) for a in (session.Session.Animal & key).to_arrays("subject")))
        videos = {r["camera"]: r["n_frames"]
                  for r in (recording.RecordingInfo & {"session": key["session"]}).proj("n_frames").to_dicts()}
        return (PoseJob(load=load, keypoints=(Skeleton & task).fetch1("keypoints"), fps=info["fps"],
                        tracks={r["track"]: r["subject"] for r in (PoseEstimationTask.Track & key).to_dicts()},
                        inference=inference, session_videos=videos),)

    def make_compute(self, key, job):
        load, tracks = job.load, job.tracks
        pose, inputs, params, source = _obtain(key, job)
        check_frame_count(pose, load["video_frames"], source=source)
        params["reading"] = pose.reading
        found = frame_warnings(pose, load["video_frames"], key["camera"], job.session_videos)
        if found:
            params["warnings"] = found
        pose = conform_to_skeleton(pose, job.keypoints, source=source)
        if not tracks and pose.n_individuals == 1 and len(load["animals"]) == 1 and load["task_mode"] == "trigger":
            tracks = {pose.individuals[0]: load["animals"][0]}  # one animal, one unnamed track
        check_tracks(tracks, pose.individuals, source=source)
        prov = provenance.record(inputs=inputs, params=dict(params, keypoints=job.keypoints, tracks=tracks))
        arrays = store.upload_all(self, key, {"positions": pose.positions.astype(np.float32),
                                              "confidence": pose.confidence.astype(np.float32)})
        row = dict(
            key,
            **arrays,
            n_frames=pose.n_frames,
            frame_offset=pose.frame_offset,
            labelled_frames=pose.reading.get("labelled_frames"),
            video_frames=load["video_frames"],
            zero_points_missing=int(pose.reading.get("zero_points_missing", 0)),
            n_individuals=pose.n_individuals,
            individuals=list(pose.individuals),
            keypoints=list(pose.keypoints),
            space_units="mm" if pose.n_space == 3 else "px",
            fps=float(job.fps),  # the recording's frame rate is the authority
            source_software=pose.source_software[:32],
            provenance=prov,
        )
        individuals = [dict(key, individual_index=i, track=name, subject=tracks[name])
                       for i, name in enumerate(pose.individuals) if name in tracks]
        with store.removed_on_error(*arrays.values()):  # the uploads above go if one of these fails
            uncertainty = [dict(key, quantity=q, units=uncertainty_units(q, row["space_units"]),
                                data=store.upload(self.Uncertainty, dict(key, quantity=q), "data",
                                                  a.astype(np.float32)))
                           for q, a in sorted(pose.uncertainty.items())]
        return (EstimatedPose(row=row, individuals=individuals, uncertainty=uncertainty),)

    def make_insert(self, key, estimated):
        with store.removed_on_error(estimated.row["positions"], estimated.row["confidence"],
                                    *[u["data"] for u in estimated.uncertainty]):
            self.insert1(estimated.row)
            self.Individual.insert(estimated.individuals)
            self.Uncertainty.insert(estimated.uncertainty)


@dataclass(frozen=True)
class PoseJob:
    """What PoseEstimation.make_fetch reads (small values only)."""

    load: dict                  # task_mode, pose_path, pose_format, options, video_frames, animals
    keypoints: list             # the skeleton's body parts
    fps: float                  # the recording's frame rate
    tracks: dict                # track -> subject, as the task maps them
    inference: dict | None      # mode 'trigger': what Trigger.run needs (model source, frame range, video)
    session_videos: dict = field(default_factory=dict)  # camera -> video frames, of the session's recordings


@dataclass(frozen=True)
class EstimatedPose:
    """What PoseEstimation.make_compute produced: the row (its arrays already in the store) and its part rows."""

    row: dict
    individuals: list
    uncertainty: list = field(default_factory=list)  # Uncertainty part rows (arrays uploaded)



@dataclass(frozen=True)
class Trigger:
    """How mode 'trigger' runs a model, plugged in by the module that holds the models (schemas.models).

    This module is upstream of the model tables, so it does not import them:
    ``table`` names the model of each runnable trigger task (key_source),
    ``fetch(key) -> dict`` reads what running it needs (make_fetch, small
    values) and ``run(key, inference) -> (pose, inputs, params, source)``
    runs it without the database (make_compute).
    """

    table: Any
    fetch: Callable[[dict], dict]
    run: Callable[[dict, dict], tuple]


_TRIGGER: list[Trigger] = []


def set_trigger(table, *, fetch: Callable[[dict], dict], run: Callable[[dict, dict], tuple]) -> None:
    """Plug in how mode 'trigger' runs (called once by schemas.models on import)."""
    _TRIGGER[:] = [Trigger(table, fetch, run)]


def trigger() -> Trigger:
    """The plugged-in :class:`Trigger` (schemas.models is imported with the schemas package)."""
    if not _TRIGGER:
        raise RuntimeError("mode 'trigger' needs schemas.models, which plugs in how a model runs")
    return _TRIGGER[0]


def _obtain(key, job: PoseJob):
    """(pose, inputs, params, source) of a task: its model run (mode 'trigger') or its file read (no database)."""
    load = job.load
    if load["task_mode"] == "trigger":
        return trigger().run(key, job.inference)
    path = resolve(load["pose_path"], data_roots())
    stat = file_stat(path)  # before reading: a file changed while it is read does not look unchanged later
    pose = read_pose(path, fmt=load["pose_format"] or None, fps=job.fps, **load["options"])
    params = {"mode": load["task_mode"], "format": load["pose_format"], "read_options": load["options"]}
    return pose, {load["pose_path"]: dict(sha256=file_checksum(path), **stat)}, params, path


def check_frame_count(pose, video_frames, *, source) -> None:
    """A pose that runs past the end of its video is refused (wrong file or wrong video)."""
    end = pose.frame_offset + pose.n_frames
    if video_frames is not None and end > video_frames:
        raise InputError(source, f"the pose runs to frame {end} but the recording's video has {video_frames} frames")


def frame_warnings(pose, video_frames, camera: str, session_videos: dict) -> list[str]:
    """Frame counts that disagree, stored with the pose: shorter than its video; cameras of unequal length.

    Every difference is recorded (the manifest's ``frame_count_tolerance`` only quiets what ingest prints).
    """
    found = []
    end = pose.frame_offset + pose.n_frames
    if video_frames is not None and pose.frame_offset == 0 and end < video_frames:
        found.append(f"the pose has {end} frames, the video {video_frames} (difference {video_frames - end})")
    own = session_videos.get(camera)
    found.extend(f"camera {camera!r} has {own} video frames, camera {other!r} has {n}"
                 for other, n in sorted(session_videos.items())
                 if other != camera and None not in (own, n) and n != own)
    return found


def check_tracks(tracks: dict, individuals, *, source) -> None:
    """Every mapped track must exist in the file."""
    missing = sorted(set(tracks) - set(individuals))
    if missing:
        raise InputError(source, f"track(s) {missing} mapped to subjects are not in the file "
                                 f"(its tracks: {list(individuals)})")


def input_checksums(row: dict) -> dict:
    """path → sha256 of the files a pose row was read from (from its provenance)."""
    return {i["path"]: i["sha256"] for i in row["provenance"].get("inputs", [])}


def fetch_pose(key) -> dict:
    """One PoseEstimation row with its arrays as store metadata (small: for another table's make_fetch)."""
    return store.small((PoseEstimation & key).fetch1())


def pose_arrays(row: dict) -> tuple[np.ndarray, np.ndarray]:
    """(positions, confidence) of a :func:`fetch_pose` row, read from the store (float64; no database)."""
    return (store.load_array(row["positions"], dtype=np.float64),
            store.load_array(row["confidence"], dtype=np.float64))


def load_pose(key) -> tuple[dict, np.ndarray, np.ndarray]:
    """Fetch one PoseEstimation row (:func:`fetch_pose`) with its arrays loaded (float64); not for make_compute."""
    row = fetch_pose(key)
    positions, confidence = pose_arrays(row)
    return row, positions, confidence
