"""Keypoint-distance measures: per-frame distances of named keypoint pairs in every pose version.

A :class:`KeypointPairSet` names keypoint pairs of one skeleton (e.g.
jaw_tip–snout_centre) and the spike parameters; :class:`KeypointDistance`
computes, for every pose version of that skeleton, the distance of each
pair in each frame (mm where the recording has a scale, else px; 3D
versions in mm) and per animal its variance, robust spread (MAD) and spike
count (:mod:`pipeline.keypoint_distance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import datajoint as dj
import numpy as np

from pipeline import provenance
from pipeline.errors import InputError
from pipeline.keypoint_distance import DEFAULTS, STAT_COLUMNS, check_pairs, distance_stats, pair_distances

from . import pose, session, store, versions  # noqa: F401  (named by definitions)

if TYPE_CHECKING:
    import pandas as pd

schema = dj.Schema()


@schema
class KeypointPairSet(dj.Lookup):
    """One row: one content-hashed list of named keypoint pairs of a skeleton, with the spike parameters.

    ``pairs`` is ``[{"name": "jaw", "a": "jaw_tip", "b": "snout_centre"}, ...]``;
    ``params`` holds ``k``, ``max_width`` and ``min_spread`` (in the pose's
    own units: px for 2D, mm for 3D) of the spike definition
    (:mod:`pipeline.quality.compare`). ``pair_set`` is a uuid of the
    canonical JSON of skeleton, pairs and params.
    """

    definition = """
    pair_set : char(36)
    ---
    pair_set_name : varchar(64)
    -> pose.Skeleton
    pairs : json
    params : json
    """

    @classmethod
    def add(cls, name: str, skeleton: str, pairs, *, k: float = DEFAULTS["k"],
            max_width: int = DEFAULTS["max_width"], min_spread: float = DEFAULTS["min_spread"]) -> str:
        """Check and insert (idempotently) a pair set; return its id.

        Examples
        --------
        >>> KeypointPairSet.add("jaw", "mouse", [["jaw_tip", "snout_centre"]])   # doctest: +SKIP
        '6f1c...'
        """
        pairs = check_pairs(pairs, source=f"pair set {name!r}")
        rows = (pose.Skeleton & {"skeleton": skeleton}).to_dicts()
        if not rows:
            raise InputError(f"pair set {name!r}", f"skeleton {skeleton!r} is not in the database")
        unknown = sorted({p[s] for p in pairs for s in "ab"} - set(rows[0]["keypoints"]))
        if unknown:
            raise InputError(f"pair set {name!r}", f"keypoint(s) {unknown} are not in skeleton {skeleton!r} "
                                                   f"{rows[0]['keypoints']}")
        if not (k > 0 and int(max_width) >= 1 and min_spread >= 0):
            raise InputError(f"pair set {name!r}", "k > 0, max_width >= 1 and min_spread >= 0 are needed")
        params = {"k": float(k), "max_width": int(max_width), "min_spread": float(min_spread)}
        pair_set = provenance.params_hash({"skeleton": skeleton, "pairs": pairs, "params": params})
        cls.insert1({"pair_set": pair_set, "pair_set_name": name, "skeleton": skeleton, "pairs": pairs,
                     "params": params}, skip_duplicates=True)
        return pair_set


@schema
class KeypointDistance(dj.Computed):
    """One row: the per-frame distances of one pair set's pairs in one pose version of its skeleton.

    ``distances`` is frames × individuals (in the version's array order) ×
    pairs, NaN where a keypoint is missing, in ``units``.
    """

    definition = """
    -> versions.PoseVersion
    -> KeypointPairSet
    ---
    distances : <array@ethojoint>
    units : enum('px', 'mm')
    n_frames : int32
    frame_offset : int32               # video frame of array row 0
    provenance : json
    """

    class Pair(dj.Part):
        """One row: one pair's distance statistics for one animal (a track mapped to a subject)."""

        definition = """
        -> master
        pair : varchar(64)
        -> session.Session.Animal
        ---
        individual_index : int16
        n_frames : int32               # frames with a distance
        mean = null : float64
        variance = null : float64      # ddof 1
        mad = null : float64           # median absolute deviation from the median (unscaled)
        spike_count : int32
        """

    @property
    def key_source(self):
        return versions.PoseVersion * KeypointPairSet & _version_skeletons()

    def refresh_inputs(self) -> None:
        """Register new pose versions (called by populate and by the workers before they list jobs)."""
        versions.PoseVersion.sync()

    def populate(self, *restrictions, **kwargs):
        """DataJoint's populate, after registering new pose versions."""
        self.refresh_inputs()
        return super().populate(*restrictions, **kwargs)

    def make_fetch(self, key):
        given = versions.fetch_version(key)
        given["pair_set"] = (KeypointPairSet & key).fetch1()
        return (given,)

    def make_compute(self, key, given):
        started = provenance.now()
        row, pairs, params = given["row"], given["pair_set"]["pairs"], given["pair_set"]["params"]
        positions, _ = versions.version_arrays(given)
        scale = given["mm_per_px"] if row["space_units"] == "px" and given["mm_per_px"] else 1.0
        units = "mm" if row["space_units"] == "mm" or given["mm_per_px"] else "px"
        distances = pair_distances(positions, row["keypoints"], pairs, scale=scale,
                                   source=f"pose version {key['pose_version']}")
        stats = distance_stats(distances, k=params["k"], max_width=params["max_width"],
                               min_spread=params["min_spread"] * scale)
        parts = [dict(key, pair=p["name"], subject=t["subject"], individual_index=t["individual_index"],
                      **_stat_values(stats[t["individual_index"], j]))
                 for t in given["tracks"] for j, p in enumerate(pairs)]
        prov = provenance.record(started=started, inputs=pose.input_checksums(row),
                                 params=dict(params, pairs=pairs, scale_mm_per_px=given["mm_per_px"]),
                                 pose_version=key["pose_version"], kind=given["kind"])
        master = dict(key, distances=store.upload(self, key, "distances", distances.astype(np.float32)),
                      units=units, n_frames=row["n_frames"], frame_offset=row["frame_offset"], provenance=prov)
        return (Measured(master=master, parts=parts),)

    def make_insert(self, key, measured):
        with store.removed_on_error(measured.master["distances"]):
            self.insert1(measured.master)
            self.Pair.insert(measured.parts)


@dataclass(frozen=True)
class Measured:
    """What KeypointDistance.make_compute produced: the master row (array uploaded) and its part rows."""

    master: dict
    parts: list


def _stat_values(values) -> dict:
    out = {c: (None if np.isnan(v) else float(v)) for c, v in zip(STAT_COLUMNS, values)}
    out["n_frames"], out["spike_count"] = int(values[0]), int(values[4])
    return out


def _version_skeletons() -> list[dict] | str:
    """``{session, pose_version, skeleton}`` of every pose version whose skeleton is known."""
    tasks = pose.PoseEstimationTask.proj("skeleton")
    found = []
    for part in (versions.PoseVersion.Raw, versions.PoseVersion.Filtered, versions.PoseVersion.Corrected):
        found += (part * tasks).proj("skeleton").to_dicts()
    for t in versions.PoseVersion.Triangulated.to_dicts():
        skeletons = set((tasks & {"session": t["session"], "pose_source": t["pose_source"]}).to_arrays("skeleton"))
        if len(skeletons) == 1:  # the cameras' skeleton; several: the 3D body parts are not one skeleton's
            found.append({"session": t["session"], "pose_version": t["pose_version"], "skeleton": skeletons.pop()})
    return found or "0 = 1"  # no version: nothing to compute


def per_animal(*, pair_set: str | None = None, pose: str = "raw") -> pd.DataFrame:
    """One row per session × animal × pair: the distance statistics, with the animal's group attributes.

    ``pair_set`` is a pair set's name or id (default: the only one);
    ``pose`` chooses the pose version (:func:`versions.selection`).

    Raises
    ------
    InputError
        No or an ambiguous pair set; an animal measured in two recordings of
        a session (it would count twice); distances in px and in mm mixed.
    """
    chosen = resolve_pair_set(pair_set)
    rows = (KeypointDistance.Pair * KeypointDistance.proj("units") & {"pair_set": chosen}
            & versions.selection(pose).proj()).to_pandas().reset_index()
    if rows.empty:
        return rows
    twice = rows.groupby(["session", "subject", "pair"])["pose_version"].nunique()
    if (twice > 1).any():
        s, subj, _ = twice[twice > 1].index[0]
        raise InputError("keypoint distance", f"subject {subj!r} of session {s!r} is measured in "
                                              f"{twice.max()} {pose} pose versions; choose one (--pose)")
    if rows["units"].nunique() > 1:
        px = sorted(set(rows.loc[rows["units"] == "px", "session"]))
        raise InputError("keypoint distance", f"distances in px and mm mixed: sessions {px[:5]} have no mm "
                                              "scale (set mm_per_px on their recordings)")
    animals = session.animals().to_pandas().reset_index()
    return rows.merge(animals, on=["session", "subject"], how="inner")


def resolve_pair_set(name: str | None) -> str:
    """A pair set's id from its name or id (None: the only pair set there is)."""
    rows = KeypointPairSet.proj("pair_set_name").to_dicts()
    match = [r for r in rows if name in (None, r["pair_set"], r["pair_set_name"])]
    if len(match) != 1:
        known = sorted({r["pair_set_name"] for r in rows})
        why = ("no pair set" if not rows else "give --pair-set" if name is None and match
               else f"{name!r} names {len(match)} pair sets")
        raise InputError("--pair-set", f"{why}; known: {', '.join(known) or 'none (KeypointPairSet.add)'}")
    return match[0]["pair_set"]
