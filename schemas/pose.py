"""Skeletons, pose-estimation tasks and their results (one array per recording)."""

from dataclasses import replace

import datajoint as dj
import numpy as np

from pipeline import provenance
from pipeline.errors import InputError
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
    ``provenance.params.reading``.
    """

    definition = """
    -> PoseEstimationTask
    ---
    positions : <npy@ethojoint>
    confidence : <npy@ethojoint>
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

    @property
    def key_source(self):
        from . import models  # the trigger mode's model table lives downstream of this module

        return PoseEstimationTask & ["task_mode = 'load'", models.PoseInference.proj()]

    def make_fetch(self, key):
        task = (PoseEstimationTask & key).fetch1()
        keypoints = (Skeleton & task).fetch1("keypoints")
        info = (recording.RecordingInfo & key).fetch1()
        tracks = {r["track"]: r["subject"] for r in (PoseEstimationTask.Track & key).to_dicts()}
        inference = None
        if task["task_mode"] == "trigger":
            from . import models

            inference = (models.PoseInference * models.PoseModel.proj("engine", "weights_sha256") & key).fetch1()
            inference = {k: inference[k] for k in ("pose_model", "engine", "weights_sha256", "frame_start",
                                                    "frame_stop", "max_tracks", "batch_size")}
            inference.update(video_path=(recording.VideoRecording & key).fetch1("video_path"),
                             video_sha256=info["video_sha256"], n_frames=info["n_frames"])
        load = {k: task[k] for k in ("task_mode", "pose_path", "pose_format")}
        load.update(options=task["read_options"] or {}, video_frames=info["n_frames"],
                    animals=sorted(str(a) for a in (session.Session.Animal & key).to_arrays("subject")))
        return load, keypoints, info["fps"], tracks, inference

    def make_compute(self, key, load, keypoints, fps, tracks, inference):
        mode = load["task_mode"]
        if mode == "trigger":
            pose, inputs, params, source = run_model(key, inference)
        else:
            path = resolve(load["pose_path"], data_roots())
            pose = read_pose(path, fmt=load["pose_format"] or None, fps=fps, **load["options"])
            inputs = {load["pose_path"]: file_checksum(path)}
            params = {"mode": mode, "format": load["pose_format"], "read_options": load["options"]}
            source = path
        check_frame_count(pose, load["video_frames"], source=source)
        params["reading"] = pose.reading
        pose = conform_to_skeleton(pose, keypoints, source=source)
        if not tracks and pose.n_individuals == 1 and len(load["animals"]) == 1 and mode == "trigger":
            tracks = {pose.individuals[0]: load["animals"][0]}  # one animal, one unnamed track
        check_tracks(tracks, pose.individuals, source=source)
        prov = provenance.record(inputs=inputs, params=dict(params, keypoints=keypoints, tracks=tracks))
        return pose, prov, fps, load["video_frames"]

    def make_insert(self, key, pose, prov, fps, video_frames):
        self.insert1(dict(
            key,
            positions=pose.positions.astype(np.float32),
            confidence=pose.confidence.astype(np.float32),
            n_frames=pose.n_frames,
            frame_offset=pose.frame_offset,
            labelled_frames=pose.reading.get("labelled_frames"),
            video_frames=video_frames,
            zero_points_missing=int(pose.reading.get("zero_points_missing", 0)),
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


def run_model(key, inference: dict):
    """Run a PoseModel on the task's frame range of the recording's video (mode 'trigger')."""
    import time

    from pipeline.inference.engines import predict

    from . import models

    if not inference["video_path"]:
        raise InputError(f"PoseEstimationTask {key}", "mode 'trigger' needs a recording with a video file")
    video = resolve(inference["video_path"], data_roots())
    engine, paths, shuffle = models.model_location({"pose_model": inference["pose_model"]})
    stop = inference["frame_stop"] if inference["frame_stop"] is not None else inference["n_frames"]
    frames = range(int(inference["frame_start"]), int(stop))
    started = time.perf_counter()
    result = predict(engine, paths, video, shuffle=shuffle, frames=frames, max_tracks=inference["max_tracks"],
                     device=models.device(), batch_size=inference["batch_size"])
    seconds = time.perf_counter() - started
    params = {"mode": "trigger", "pose_model": inference["pose_model"], "engine": engine,
              "weights_sha256": inference["weights_sha256"], "frame_start": frames.start, "frame_stop": frames.stop,
              "max_tracks": inference["max_tracks"], "device": result.device, "seconds": round(seconds, 3),
              "frames_per_s": round(len(frames) / seconds, 3) if seconds > 0 else None}
    pose = replace(result.pose, frame_offset=frames.start) if frames.start else result.pose
    return pose, {inference["video_path"]: inference["video_sha256"]}, params, video


def check_frame_count(pose, video_frames, *, source) -> None:
    """A pose that runs past the end of its video is refused (wrong file or wrong video)."""
    end = pose.frame_offset + pose.n_frames
    if video_frames is not None and end > video_frames:
        raise InputError(source, f"the pose runs to frame {end} but the recording's video has {video_frames} frames")


def check_tracks(tracks: dict, individuals, *, source) -> None:
    """Every mapped track must exist in the file."""
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
