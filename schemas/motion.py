"""Regions of interest in videos, their motion energy and motion SVD (facemap-style).

An ROI set (content-hashed, named) applies to one recording (:class:`RecordingROISet`, from the manifest's
``rois:`` or ``ethojoint roi add SESSION CAMERA``) or to one camera of a rig, and so to every session
recorded with the rig (:class:`RigROISet`, ``ethojoint roi add --rig RIG CAMERA``).
:class:`MotionEnergy` computes every ROI of a set in one streaming pass over the video
(:func:`pipeline.motion.motion_energy`, where motion energy is defined); :class:`MotionSVD` the top
components of one ROI's motion frames, on request (:class:`MotionSVDTask`).
"""

import datajoint as dj

from pipeline import provenance
from pipeline.errors import InputError
from pipeline.io.checksum import file_checksum
from pipeline.motion.energy import DEFAULT_PARAMS, check_params
from pipeline.paths import resolve

from . import calibration, recording, store
from .config import data_roots

schema = dj.Schema()


@schema
class ROISet(dj.Manual):
    """One row: one named set of ROIs in a camera's pixels, content-hashed (its id is a uuid of name and ROIs)."""

    definition = """
    roi_set : char(36)
    ---
    roi_set_name : varchar(64)
    n_rois : int32
    """

    class ROI(dj.Part):
        """One row: one ROI of the set (a rectangle, polygon or mask image; see pipeline.motion.rois)."""

        definition = """
        -> master
        roi : varchar(32)
        ---
        kind : enum('rectangle', 'polygon', 'mask')
        spec : json                    # the checked entry; a mask's path is relative to a data root
        """


@schema
class RecordingROISet(dj.Manual):
    """One row: an ROI set that applies to one recording."""

    definition = """
    -> recording.VideoRecording
    roi_set_name : varchar(64)
    ---
    -> ROISet
    """


@schema
class RigROISet(dj.Manual):
    """One row: an ROI set that applies to one camera of a rig (every session recorded with the rig)."""

    definition = """
    -> calibration.CameraRig
    camera : varchar(32)
    roi_set_name : varchar(64)
    ---
    -> ROISet
    """


@schema
class MotionParamSet(dj.Lookup):
    """One row: one content-hashed motion-energy parameter set (``downsample``, ``reduce``: sum or mean)."""

    definition = """
    motion_params : char(36)
    ---
    motion_params_name : varchar(64)
    params : json
    """

    @classmethod
    def add(cls, name: str = "default", **params) -> str:
        """Insert (idempotently) a parameter set and return its id; ``default`` is ``DEFAULT_PARAMS``."""
        row = param_row(name, params)
        cls.insert1(row, skip_duplicates=True)
        return row["motion_params"]


def param_row(name: str, params: dict) -> dict:
    """The MotionParamSet row of ``params`` (missing ones from ``DEFAULT_PARAMS``), checked."""
    full = check_params({**DEFAULT_PARAMS, **params})
    return {"motion_params": provenance.params_hash(full), "motion_params_name": name, "params": full}


def _rois(key) -> list[dict]:
    return (ROISet.ROI & {"roi_set": key["roi_set"]}).to_dicts(order_by="roi")


def _masks(rois: list[dict], info: dict, where: str) -> dict:
    """Each ROI's pixels in the recording's frame; a mask image must still have its recorded sha256."""
    from pipeline.motion import roi_mask

    masks = {}
    for r in rois:
        spec, path = r["spec"], None
        if r["kind"] == "mask":
            path = resolve(spec["mask"], data_roots())
            if file_checksum(path) != spec["mask_sha256"]:
                raise InputError(path, f"mask of ROI {r['roi']!r} changed since the ROI set was defined (sha256)")
        masks[r["roi"]] = roi_mask(spec, width=info["width"], height=info["height"], source=where, mask_path=path)
    return masks


def _video(key) -> dict:
    return (recording.RecordingInfo * recording.VideoRecording & key).proj(
        "video_path", "n_frames", "width", "height", "video_sha256").fetch1()


@schema
class MotionEnergy(dj.Computed):
    """One row: per-frame motion energy of every ROI of one ROI set in one recording's video, one parameter set.

    ``energy[t, i]`` is ROI ``rois[i]`` at video frame ``t`` (row 0 NaN: no previous frame), so it joins
    pose arrays on frame index (:func:`motion_frames`).  ``n_frames`` is the frames OpenCV decoded;
    where it differs from ``RecordingInfo.n_frames`` (ffmpeg's exact count) both are kept
    (``video_frames``) and ``provenance.params.warnings`` says so.
    """

    definition = """
    -> recording.RecordingInfo
    -> ROISet
    -> MotionParamSet
    ---
    rois : json                    # ROI names, in column order
    pixels : json                  # pixels of each ROI at the analysed resolution
    energy : <array@ethojoint>     # n_frames x n_rois, float64
    n_frames : int32               # frames decoded
    video_frames = null : int32    # RecordingInfo.n_frames
    provenance : json
    """

    @property
    def key_source(self):
        # a rig's camera is not a recording's camera to DataJoint (another lineage): its sets restrict as keys
        rig_sets = [{k: r[k] for k in ("session", "camera", "roi_set")}
                    for r in (calibration.SessionRig * RigROISet).to_dicts()]
        videos = recording.RecordingInfo & "width IS NOT NULL"
        candidates = videos.proj() * ROISet.proj() * MotionParamSet.proj()
        return candidates & RecordingROISet.proj("roi_set") if not rig_sets else \
            candidates & [RecordingROISet.proj("roi_set"), *rig_sets]

    def make_fetch(self, key):
        return _video(key), _rois(key), (MotionParamSet & key).fetch1("params")

    def make_compute(self, key, info, rois, params):
        from pipeline.motion import motion_energy

        started = provenance.now()
        where = f"recording {key['session']}/{key['camera']}"
        video = resolve(info["video_path"], data_roots())
        result = motion_energy(video, _masks(rois, info, where), downsample=params["downsample"],
                               reduce=params["reduce"])
        warnings = [] if result.n_frames == info["n_frames"] else [
            f"{info['video_path']}: OpenCV decoded {result.n_frames} frames, ffmpeg counts {info['n_frames']} "
            f"(container says {result.container_frames})"]
        inputs = {info["video_path"]: info["video_sha256"],
                  **{r["spec"]["mask"]: r["spec"]["mask_sha256"] for r in rois if r["kind"] == "mask"}}
        prov = provenance.record(started=started, inputs=inputs, params={
            **params, "container_frames": result.container_frames, **({"warnings": warnings} if warnings else {})})
        arrays = store.upload_all(self, key, {"energy": result.energy})
        return (dict(key, **arrays, rois=result.rois, pixels=result.pixels, n_frames=result.n_frames,
                     video_frames=info["n_frames"], provenance=prov),)

    def make_insert(self, key, row):
        with store.removed_on_error(row["energy"]):
            self.insert1(row)


@schema
class MotionSVDParamSet(dj.Lookup):
    """One row: one content-hashed motion-SVD parameter set (components, method, batch, memory cap, seed)."""

    definition = """
    svd_params : char(36)
    ---
    svd_params_name : varchar(64)
    params : json
    """

    @classmethod
    def add(cls, name: str = "default", *, n_components: int = 50, method: str = "randomized",
            batch_frames: int = 1000, max_mb: float = 2000.0, seed: int = 0) -> str:
        """Insert (idempotently) a parameter set; returns its id."""
        from pipeline.motion import METHODS

        if method not in METHODS or int(n_components) < 1 or int(batch_frames) < 1:
            raise InputError("motion SVD parameters", f"need method in {METHODS}, n_components >= 1, batch_frames "
                                                      f">= 1; got {method!r}, {n_components}, {batch_frames}")
        params = {"n_components": int(n_components), "method": method, "batch_frames": int(batch_frames),
                  "max_mb": float(max_mb), "seed": int(seed)}
        row = {"svd_params": provenance.params_hash(params), "svd_params_name": name, "params": params}
        cls.insert1(row, skip_duplicates=True)
        return row["svd_params"]


@schema
class MotionSVDTask(dj.Manual):
    """One row: a request for the motion SVD of one ROI of a computed motion energy (same video, parameters)."""

    definition = """
    -> MotionEnergy
    -> ROISet.ROI
    -> MotionSVDParamSet
    """


@schema
class MotionSVD(dj.Computed):
    """One row: the top-k components of one ROI's motion frames (facemap's motion SVD), with their variance."""

    definition = """
    -> MotionSVDTask
    ---
    components : <array@ethojoint>       # k x rows x cols of the ROI's bounding box, NaN outside the ROI
    projections : <array@ethojoint>      # n_frames x k; row 0 NaN
    mean_motion : <array@ethojoint>      # rows x cols
    singular_values : json
    explained_variance_ratio : json      # of the total variance of the ROI's centred motion frames
    n_frames : int32
    provenance : json
    """

    def make_fetch(self, key):
        rois = [r for r in _rois(key) if r["roi"] == key["roi"]]
        return (_video(key), rois, (MotionParamSet & key).fetch1("params"),
                (MotionSVDParamSet & key).fetch1("params"))

    def make_compute(self, key, info, rois, params, svd):
        from pipeline.motion import motion_svd

        started = provenance.now()
        where = f"recording {key['session']}/{key['camera']}"
        mask = _masks(rois, info, where)[key["roi"]]
        out = motion_svd(resolve(info["video_path"], data_roots()), mask, downsample=params["downsample"], **svd)
        arrays = store.upload_all(self, key, {k: out[k] for k in ("components", "projections", "mean_motion")})
        prov = provenance.record(started=started, inputs={info["video_path"]: info["video_sha256"]},
                                 params={"motion": params, "svd": svd})
        return (dict(key, **arrays, singular_values=out["singular_values"].tolist(),
                     explained_variance_ratio=out["explained_variance_ratio"].tolist(), n_frames=out["n_frames"],
                     provenance=prov),)

    def make_insert(self, key, row):
        with store.removed_on_error(row["components"], row["projections"], row["mean_motion"]):
            self.insert1(row)


def add_svd(key: dict, roi: str, **params) -> dict:
    """Request the motion SVD of ``roi`` for every MotionEnergy row matching ``key``; returns the task keys."""
    svd_params = MotionSVDParamSet.add(**params)
    rows = [dict(k, roi=roi, svd_params=svd_params) for k in (MotionEnergy & key).proj().to_dicts()]
    missing = [r for r in rows if not ROISet.ROI & {"roi_set": r["roi_set"], "roi": roi}]
    if not rows or missing:
        raise InputError(f"{key}", f"no MotionEnergy row with an ROI {roi!r} (populate motion.MotionEnergy first)")
    MotionSVDTask.insert(rows, skip_duplicates=True)
    return rows


def motion_frames(key: dict):
    """A MotionEnergy row's trace as a DataFrame indexed by video frame (columns ``motion_<roi>``)."""
    from pipeline.motion import motion_features

    row = (MotionEnergy & key).fetch1()
    return motion_features(store.load_array(store.metadata(row["energy"])), row["rois"])


def define_roi_set(name: str, rois: list, *, session: str | None = None, camera: str, rig: str | None = None,
                   base=None) -> str:
    """Check and store a named ROI set for one recording (``session``, ``camera``) or one rig camera (``rig``).

    ROIs are checked (:func:`pipeline.motion.check_roi_set`) and, for a recording whose video facts are
    known, against its frame size; a mask image must lie under a data root.  The same set again changes
    nothing; another set under a name the recording (or rig camera) already uses is refused.  Returns the
    ``roi_set`` id.

    Raises
    ------
    InputError
        Unknown recording or rig, a malformed ROI, an ROI outside the frame, a name already in use.
    """
    from pipeline.manifest_rois import check_in_frame, motion_param_row, relative_masks, roi_set_rows
    from pipeline.motion import check_roi_set

    where = f"rig {rig}/{camera}" if rig else f"recording {session}/{camera}"
    if not name or len(name) > 64:
        raise InputError(where, f"ROI set name {name!r}: 1-64 characters")
    checked = relative_masks(check_roi_set(rois, source=where, base=base), data_roots(), where)
    if rig:
        owner, table = {"rig": rig, "camera": camera}, RigROISet
        if not calibration.CameraRig & {"rig": rig}:
            raise InputError(where, f"unknown rig {rig!r}")
    else:
        owner, table = {"session": session, "camera": camera}, RecordingROISet
        if not recording.VideoRecording & owner:
            raise InputError(where, "unknown recording (no VideoRecording with that session and camera)")
        if not recording.VideoRecording & owner & "video_path != ''":
            raise InputError(where, "the recording has no video file")
        info = (recording.RecordingInfo & owner & "width IS NOT NULL").to_dicts()
        if info:
            check_in_frame(checked, width=info[0]["width"], height=info[0]["height"], where=where, roots=data_roots())
    master, parts = roi_set_rows(name, checked)
    existing = (table & owner & {"roi_set_name": name}).to_dicts()
    if existing and existing[0]["roi_set"] != master["roi_set"]:
        raise InputError(where, f"ROI set {name!r} exists with other ROIs; choose another name")
    with dj.conn().transaction:
        MotionParamSet.insert1(motion_param_row(), skip_duplicates=True)
        ROISet.insert1(master, skip_duplicates=True)
        ROISet.ROI.insert(parts, skip_duplicates=True)
        table.insert1(dict(owner, roi_set_name=name, roi_set=master["roi_set"]), skip_duplicates=True)
    return master["roi_set"]


def roi_sets_of(session: str, camera: str) -> dict[str, str]:
    """roi_set_name -> roi_set of the sets that apply to a recording (its own, then its session rig's)."""
    key = {"session": session, "camera": camera}
    found = {r["roi_set_name"]: r["roi_set"] for r in (calibration.SessionRig * RigROISet & key).to_dicts()}
    found.update({r["roi_set_name"]: r["roi_set"] for r in (RecordingROISet & key).to_dicts()})
    return found
