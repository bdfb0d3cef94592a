"""Pose versions: every pose array that an analysis can take as input, under one key.

A session's pose exists in several versions: each camera's raw
``PoseEstimation``, its ``FilteredPose`` under each filter chain, its
user-approved ``IdentityCorrection``, and the session's 3D
``Triangulation``.  :class:`PoseVersion` gives each one a key
``(session, pose_version)``; scoring (and every later analysis) takes a
PoseVersion in its key, so that the choice of input is part of the key and
not of the rules.

Versions are registered by :meth:`PoseVersion.sync`, which the tables that
consume them call before they list their jobs (``populate`` and the
workers do it); it inserts a version for every source row that has none.
Deleting a source row deletes its version and what was computed from it:
use ``delete(part_integrity="cascade")`` on the source (the version is a
part row of the merge table below).
"""

from __future__ import annotations

import datajoint as dj
import numpy as np

from pipeline.errors import InputError

from . import pose, quality, recording, session, store, triangulation  # noqa: F401  (named by definitions)

schema = dj.Schema()

KINDS = ("raw", "filtered", "corrected", "3d")


@schema
class PoseVersion(dj.Manual):
    """One row: one pose array that analyses take as input (raw, filtered, identity-corrected or 3D).

    ``pose_version`` reads ``CAMERA/SOURCE`` (raw),
    ``CAMERA/SOURCE/filtered:FILTER_SET``, ``CAMERA/SOURCE/corrected`` or
    ``3d:SOURCE/CALIBRATION/TRI_PARAMS``; the part row of its kind refers
    to the source row.  Filled by :meth:`sync`.
    """

    definition = """
    -> session.Session
    pose_version : varchar(160)
    ---
    kind : varchar(16)                  # raw | filtered | corrected | 3d
    """

    class Raw(dj.Part):
        """One row: the raw 2D pose estimation a version is."""

        definition = """
        -> master
        ---
        -> pose.PoseEstimation
        """

    class Filtered(dj.Part):
        """One row: the filtered pose a version is."""

        definition = """
        -> master
        ---
        -> quality.FilteredPose
        """

    class Corrected(dj.Part):
        """One row: the identity-corrected pose a version is."""

        definition = """
        -> master
        ---
        -> quality.IdentityCorrection
        """

    class Triangulated(dj.Part):
        """One row: the 3D triangulation a version is."""

        definition = """
        -> master
        ---
        -> triangulation.Triangulation
        """

    @classmethod
    def sync(cls) -> int:
        """Register a version for every source row that has none; return how many were added."""
        added = 0
        for kind, part, source in _sources(cls):
            keys = (source.proj() - part.proj(*_source_key(source))).to_dicts()
            if not keys:
                continue
            with cls.connection.transaction:
                cls.insert(({"session": k["session"], "pose_version": version_id(kind, k), "kind": kind}
                            for k in keys), skip_duplicates=True)
                part.insert((dict(k, pose_version=version_id(kind, k)) for k in keys), skip_duplicates=True)
            added += len(keys)
        return added


def _sources(cls) -> list[tuple]:
    return [("raw", cls.Raw, pose.PoseEstimation), ("filtered", cls.Filtered, quality.FilteredPose),
            ("corrected", cls.Corrected, quality.IdentityCorrection),
            ("3d", cls.Triangulated, triangulation.Triangulation)]


def _source_key(source) -> list[str]:
    return [k for k in source.primary_key if k != "session"]


def version_id(kind: str, key: dict) -> str:
    """The ``pose_version`` of a source row's key (ids never contain ``/`` or ``:``)."""
    if kind == "raw":
        return f"{key['camera']}/{key['pose_source']}"
    if kind == "filtered":
        return f"{key['camera']}/{key['pose_source']}/filtered:{key['filter_set']}"
    if kind == "corrected":
        return f"{key['camera']}/{key['pose_source']}/corrected"
    return f"3d:{key['pose_source']}/{key['calibration']}/{key['tri_params']}"


def selection(pose_kind: str = "raw"):
    """A restriction to the versions of one kind: ``raw``, ``corrected``, ``3d`` or ``filtered:NAME``.

    Raises
    ------
    InputError
        An unknown kind, or a filter-chain name that no FilterParamSet has.
    """
    kind, _, name = pose_kind.partition(":")
    if kind not in KINDS or (kind == "filtered") != bool(name):
        raise InputError("pose version", f"{pose_kind!r}: use raw, corrected, 3d or filtered:NAME "
                                         "(NAME = a filter chain's name)")
    if kind != "filtered":
        return PoseVersion & {"kind": kind}
    chains = quality.FilterParamSet & {"filter_set_name": name}
    if not chains:
        known = sorted(set(quality.FilterParamSet.to_arrays("filter_set_name")))
        raise InputError("pose version", f"no filter chain is named {name!r}; known: {known}")
    return PoseVersion & (PoseVersion.Filtered & chains.proj())


# ---------------------------------------------------------------- fetching a version (make_fetch / make_compute)

def fetch_version(key: dict) -> dict:
    """Everything about one version that scoring needs, small (arrays as store metadata).

    Returns ``{"kind", "row", "arrays", "tracks", "mm_per_px", "skeleton"}``:
    ``row`` has the pose attributes (``n_frames, fps, frame_offset,
    individuals, keypoints, space_units, provenance``, and ``session,
    camera, pose_source``); ``arrays`` maps ``positions`` (and
    ``confidence`` for 2D) to store metadata; ``tracks`` lists
    ``{individual_index, track, subject}``.
    """
    kind = (PoseVersion & key).fetch1("kind")
    if kind == "3d":
        return _fetch_3d(key)
    part = {"raw": PoseVersion.Raw, "filtered": PoseVersion.Filtered, "corrected": PoseVersion.Corrected}[kind]
    source = (part & key).fetch1()
    pose_key = {k: source[k] for k in pose.PoseEstimation.primary_key}
    row = pose.fetch_pose(pose_key)
    arrays = {k: row.pop(k) for k in ("positions", "confidence")}
    tracks = (pose.PoseEstimation.Individual & pose_key).to_dicts(order_by="individual_index")
    if kind != "raw":
        table = quality.FilteredPose if kind == "filtered" else quality.IdentityCorrection
        version = store.small((table & {k: source[k] for k in table.primary_key}).fetch1())
        arrays = {k: version[k] for k in ("positions", "confidence")}
        if kind == "corrected":  # identities keep the name of their main source track
            names = list(version["individuals"])
            tracks = [dict(t, individual_index=names.index(t["track"])) for t in tracks if t["track"] in names]
            row["individuals"] = names
    return {"kind": kind, "row": row, "arrays": arrays, "tracks": tracks,
            "mm_per_px": (recording.VideoRecording & pose_key).fetch1("mm_per_px"),
            "skeleton": (pose.PoseEstimationTask & pose_key).fetch1("skeleton")}


def _fetch_3d(key: dict) -> dict:
    part = (PoseVersion.Triangulated & key).fetch1()
    tri = {k: part[k] for k in triangulation.Triangulation.primary_key}
    row = store.small((triangulation.Triangulation & tri).fetch1())
    arrays = {"positions": row.pop("positions")}
    for name in ("reprojection_error", "n_cameras"):
        row.pop(name, None)
    task = pose.PoseEstimationTask & {"session": key["session"], "pose_source": tri["pose_source"]}
    skeletons = sorted(set(task.to_arrays("skeleton")))
    row.update(camera="3d", space_units="mm")
    tracks = [{"individual_index": i, "track": s, "subject": s} for i, s in enumerate(row["individuals"])]
    return {"kind": "3d", "row": row, "arrays": arrays, "tracks": tracks, "mm_per_px": None,
            "skeleton": skeletons[0] if len(skeletons) == 1 else None}  # None: the rule set's default names


def version_arrays(fetched: dict) -> tuple[np.ndarray, np.ndarray]:
    """(positions, confidence) float64 of a :func:`fetch_version` result, read from the store (no database).

    A 3D version has no confidence: 1 where a point was triangulated, NaN elsewhere.
    """
    if "confidence" in fetched["arrays"]:
        return pose.pose_arrays(fetched["arrays"])
    positions = store.load_array(fetched["arrays"]["positions"], dtype=np.float64)
    return positions, np.where(np.isnan(positions[..., 0]), np.nan, 1.0)
