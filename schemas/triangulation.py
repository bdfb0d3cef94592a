"""3D triangulation of a session's 2D pose estimations from several calibrated cameras.

Individuals are matched across cameras through their subjects: each camera's
PoseEstimation maps its tracks to the session's animals, and the 3D array has
one individual per subject seen by any camera.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import datajoint as dj
import numpy as np

from pipeline import provenance
from pipeline.errors import InputError
from pipeline.triangulation import triangulate

from . import calibration, pose, session, store

schema = dj.Schema()

METHODS = ("dlt", "ransac", "optim")

DEFAULTS = {"method": "dlt", "score_threshold": 0.0, "median_size": 0, "median_max_offset_px": 20.0,
            "viterbi": False, "viterbi_max_jump_px": 50.0, "min_cameras": 2, "constraints": "none",
            "scale_smooth": 4.0, "scale_length": 2.0, "reproj_error_threshold": 15.0, "n_deriv_smooth": 2,
            "ransac_threshold_px": 15.0}


@schema
class TriangulationParamSet(dj.Lookup):
    """One row: one content-hashed set of triangulation parameters.

    ``params``: ``method`` dlt | ransac | optim; 2D pre-filters
    (``score_threshold``, ``median_size`` with ``median_max_offset_px``,
    ``viterbi`` with ``viterbi_max_jump_px``); ``min_cameras`` per point;
    for optim, ``constraints`` ('skeleton' = the skeleton's edges, 'none', or
    a list of [part, part]), ``scale_smooth``, ``scale_length``.
    """

    definition = """
    tri_params : char(36)
    ---
    tri_params_name : varchar(64)
    params : json
    """

    @classmethod
    def add(cls, name: str, **params) -> dict:
        """Insert (idempotently) a parameter set; unknown keys or methods are refused."""
        unknown = sorted(set(params) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"unknown triangulation parameter(s) {unknown}; known: {sorted(DEFAULTS)}")
        full = {**DEFAULTS, **params}
        if full["method"] not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, not {full['method']!r}")
        if int(full["min_cameras"]) < 2:
            raise ValueError("min_cameras must be at least 2")
        key = {"tri_params": provenance.params_hash(full)}
        cls.insert1(dict(key, tri_params_name=name, params=full), skip_duplicates=True)
        return key


@schema
class TriangulationTask(dj.Manual):
    """One row: triangulate one session's poses from one source with one calibration and parameter set.

    ``cameras`` restricts the cameras used (null: every calibrated camera
    that has a pose estimation from ``pose_source`` in the session).
    """

    definition = """
    -> session.Session
    pose_source : varchar(32)
    -> calibration.CameraCalibration
    -> TriangulationParamSet
    ---
    cameras = null : json
    """


def add_task(session_key: dict, pose_source: str, tri_params: dict, *, rig: str | None = None,
             cameras: list | None = None) -> dict:
    """Register a TriangulationTask with the calibration that applies to the session.

    The calibration is :func:`~schemas.calibration.calibration_for` the
    session's rig (or ``rig``); it must be computed already.  ``tri_params``
    is a :meth:`TriangulationParamSet.add` key.  Returns the task's key.
    """
    cal = calibration.calibration_for(session_key, rig)
    if not (pose.PoseEstimationTask & {"session": session_key["session"], "pose_source": pose_source}):
        raise InputError(f"session {session_key['session']}", f"no pose estimation from source {pose_source!r}")
    key = dict(cal, **tri_params, session=session_key["session"], pose_source=pose_source)
    TriangulationTask.insert1(dict(key, cameras=cameras), skip_duplicates=True)
    return key


@schema
class Triangulation(dj.Computed):
    """One row: the 3D poses of one session from one triangulation task.

    ``positions`` is frames × individuals × body parts × xyz in mm (the
    calibration's units), NaN where fewer than ``min_cameras`` saw a point;
    ``reprojection_error`` (px, mean over the cameras used) and ``n_cameras``
    are frames × individuals × body parts. ``individuals`` are subject ids.
    """

    definition = """
    -> TriangulationTask
    ---
    positions : <array@ethojoint>
    reprojection_error : <array@ethojoint>
    n_cameras : <array@ethojoint>
    n_frames : int32
    frame_offset = 0 : int32           # video frame number of row 0 (cameras aligned on frame numbers)
    individuals : json
    keypoints : json
    cameras : json
    fps : float64
    median_reprojection_px = null : float64
    triangulated_fraction : float64
    provenance : json
    """

    class Camera(dj.Part):
        """One row: the 2D residuals of one camera (3D result reprojected into it)."""

        definition = """
        -> master
        camera : varchar(32)
        ---
        median_residual_px = null : float64
        mean_residual_px = null : float64
        n_points : int32
        """

    def make_fetch(self, key):
        task = (TriangulationTask & key).fetch1()
        params = (TriangulationParamSet & key).fetch1("params")
        calibrated = calibration.camera_rows(key)
        poses = pose.PoseEstimation & {"session": key["session"], "pose_source": key["pose_source"]}
        have = {r["camera"]: r for r in poses.proj("provenance", "keypoints", "fps", "space_units").to_dicts()}
        wanted = list(task["cameras"]) if task["cameras"] else [c["camera"] for c in calibrated if c["camera"] in have]
        source = f"TriangulationTask {key['session']}/{key['pose_source']}"
        missing = [c for c in wanted if c not in have]
        if missing:
            raise InputError(source, f"no PoseEstimation for camera(s) {missing}")
        if len(wanted) < 2:
            raise InputError(source, f"needs poses from ≥ 2 calibrated cameras, has {wanted}")
        subjects = sorted(r["subject"] for r in (session.Session.Animal & {"session": key["session"]}).to_dicts())
        first = {"session": key["session"], "camera": wanted[0], "pose_source": key["pose_source"]}
        edges = (pose.Skeleton & (pose.PoseEstimationTask & first)).fetch1("edges")  # same skeleton in every view
        return (TriangulationInputs(
            cameras=wanted, params=params, inputs={c: pose.input_checksums(have[c]) for c in wanted},
            calibration=calibrated, views=[_fetch_view(key, cam) for cam in wanted], subjects=subjects,
            edges=[list(e) for e in edges]),)

    def make_compute(self, key, given: TriangulationInputs):
        source = f"TriangulationTask {key['session']}/{key['pose_source']}"
        cameras, params = given.cameras, given.params
        cams = calibration.cameras_from_rows(given.calibration, cameras, source=f"calibration {key['calibration']}")
        points2d, scores, meta = stack_views([_load_view(v, given.subjects, source=source) for v in given.views],
                                             given.subjects, source=source)
        result = triangulate(points2d, cams, scores=scores, **_options(params, meta["keypoints"], given.edges,
                                                                       source=source))
        residuals = [_residual_row(name, result.residuals[c]) for c, name in enumerate(cameras)]
        prov = provenance.record(inputs={p: h for c in cameras for p, h in given.inputs[c].items()},
                                 params={"params": params, "cameras": cameras})
        ok = np.isfinite(result.reprojection_error)
        positions = result.positions
        arrays = store.upload_all(self, key, {"positions": positions.astype(np.float32),
                                            "reprojection_error": result.reprojection_error.astype(np.float32),
                                            "n_cameras": result.n_cameras.astype(np.int8)})
        return (TriangulationResult(
            **arrays, n_frames=int(positions.shape[0]), frame_offset=meta["frame_offset"],
            individuals=meta["individuals"], keypoints=meta["keypoints"], cameras=list(cameras), fps=meta["fps"],
            median_reprojection_px=float(np.median(result.reprojection_error[ok])) if ok.any() else None,
            triangulated_fraction=float(np.isfinite(positions[..., 0]).mean()) if positions.size else 0.0,
            provenance=prov, residuals=residuals),)

    def make_insert(self, key, result: TriangulationResult):
        with store.removed_on_error(result.positions, result.reprojection_error, result.n_cameras):
            self.insert1(dict(key, **result.row()))
            self.Camera.insert(dict(key, **r) for r in result.residuals)


@dataclass
class TriangulationInputs:
    """What :meth:`Triangulation.make_fetch` reads: plain values and store metadata, no arrays.

    ``inputs``: camera → {path: sha256} of its pose files; ``calibration``:
    the calibration's camera rows; ``views``: per camera, in ``cameras``'
    order, ``{"camera", "pose": pose row with array metadata, "tracks":
    {subject: track index}}``; ``subjects``: the session's animals, sorted;
    ``edges``: the skeleton's edges.
    """

    cameras: list[str]
    params: dict
    inputs: dict[str, dict]
    calibration: list[dict]
    views: list[dict]
    subjects: list[str]
    edges: list[list[str]]


@dataclass
class TriangulationResult:
    """What :meth:`Triangulation.make_compute` hands to ``make_insert``: the row, arrays as uploaded metadata."""

    positions: dict
    reprojection_error: dict
    n_cameras: dict
    n_frames: int
    frame_offset: int
    individuals: list[str]
    keypoints: list[str]
    cameras: list[str]
    fps: float
    median_reprojection_px: float | None
    triangulated_fraction: float
    provenance: dict
    residuals: list[dict]  # Triangulation.Camera rows, without the key

    def row(self) -> dict:
        """The Triangulation row's secondary attributes."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "residuals"}


def _options(params: dict, keypoints: list, edges: list, *, source) -> dict:
    """The keyword arguments of :func:`~pipeline.triangulation.triangulate` for a parameter set."""
    constraints = edge_pairs(params["constraints"], keypoints, edges, source=source)
    options = {k: v for k, v in params.items() if k not in ("constraints", "scale_length", "scale_smooth",
                                                            "reproj_error_threshold", "n_deriv_smooth")}
    if params["method"] == "optim":
        options.update(constraints=constraints, scale_smooth=params["scale_smooth"],
                       scale_length=params["scale_length"], reproj_error_threshold=params["reproj_error_threshold"],
                       n_deriv_smooth=params["n_deriv_smooth"])
    return options


def _residual_row(camera: str, residuals: np.ndarray) -> dict:
    ok = np.isfinite(residuals)
    return {"camera": camera, "n_points": int(ok.sum()),
            "median_residual_px": float(np.median(residuals[ok])) if ok.any() else None,
            "mean_residual_px": float(np.mean(residuals[ok])) if ok.any() else None}


def _fetch_view(key, cam) -> dict:
    """One camera's pose row (arrays as store metadata) and its {subject: track index}."""
    ck = {"session": key["session"], "camera": cam, "pose_source": key["pose_source"]}
    row = pose.fetch_pose(ck)
    tracks = {t["subject"]: t["individual_index"] for t in (pose.PoseEstimation.Individual & ck).to_dicts()}
    return {"camera": cam, "pose": row, "tracks": tracks}


def _load_view(view: dict, subjects: list[str], *, source) -> tuple:
    """One camera's 2D pose from the store: (camera, pose row, positions, confidence, {subject: track index})."""
    cam, row, tracks = view["camera"], view["pose"], dict(view["tracks"])
    if row["space_units"] != "px" or row["positions"]["shape"][-1] != 2:
        raise InputError(source, f"camera {cam!r}: pose is not 2D pixels ({row['space_units']})")
    positions, confidence = pose.pose_arrays(row)
    if not tracks and row["n_individuals"] == 1 and len(subjects) == 1:
        tracks = {subjects[0]: 0}  # one animal, one unnamed track
    return cam, row, positions, confidence, tracks


def stack_views(views: list[tuple], subjects: list[str], *, source) -> tuple[np.ndarray, np.ndarray, dict]:
    """Stack each camera's 2D poses as (camera, time, individual, keypoint, 2), individuals = subjects.

    ``views`` are ``(camera, pose row, positions, confidence, {subject: track
    index})``; ``subjects`` the session's animals, sorted.  Views are aligned
    on video frame numbers (each row's ``frame_offset``).
    """
    keypoints = views[0][1]["keypoints"]
    fps = {float(v[1]["fps"]) for v in views}
    for cam, row, *_ in views:
        if row["keypoints"] != keypoints:
            raise InputError(source, f"camera {cam!r} has body parts {row['keypoints']}, "
                                     f"camera {views[0][0]!r} has {keypoints}")
    if len(fps) > 1:
        raise InputError(source, f"cameras differ in frame rate {sorted(fps)}; synchronise them first")
    individuals = [s for s in subjects if any(s in v[4] for v in views)]
    if not individuals:
        raise InputError(source, "no camera's tracks are mapped to the session's animals")
    start = min(int(v[1]["frame_offset"]) for v in views)
    n_frames = max(int(v[1]["frame_offset"]) + v[2].shape[0] for v in views) - start
    points2d = np.full((len(views), n_frames, len(individuals), len(keypoints), 2), np.nan)
    scores = np.full(points2d.shape[:-1], np.nan)
    for c, (_, row, positions, confidence, tracks) in enumerate(views):
        rows = slice(int(row["frame_offset"]) - start, int(row["frame_offset"]) - start + positions.shape[0])
        for i, subject in enumerate(individuals):
            if subject in tracks:
                points2d[c, rows, i] = positions[:, tracks[subject]]
                scores[c, rows, i] = confidence[:, tracks[subject]]
    return points2d, scores, {"individuals": individuals, "keypoints": list(keypoints), "fps": fps.pop(),
                              "frame_offset": start}


def edge_pairs(spec, keypoints, edges, *, source) -> list[tuple[int, int]]:
    """Constraint spec ('none' | 'skeleton' | [[part, part], ...]) → keypoint index pairs."""
    if spec in (None, "none", []):
        return []
    pairs = edges if spec == "skeleton" else spec
    unknown = sorted({p for pair in pairs for p in pair} - set(keypoints))
    if unknown:
        raise InputError(source, f"constraint body part(s) {unknown} not in {keypoints}")
    return [(keypoints.index(a), keypoints.index(b)) for a, b in pairs]


def residual_table(key) -> list[dict]:
    """Per-camera 2D residuals of one triangulation (for reports)."""
    return (Triangulation.Camera & key).to_dicts(order_by="camera")
