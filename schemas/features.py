"""Pose features for behaviour classifiers: content-hashed feature sets and features per pose version.

:class:`PoseFeatures` holds, for one pose version under one feature set, the
features of every series (:mod:`pipeline.classify.series`): each animal, for
solo behaviours, and each ordered pair, for directed ones; one array per
series (frames x features, float32) in the store, with its column names.

Features are computed only where a classifier needs them: for the pose
versions of the kind its training set names (``raw``, ``filtered:NAME``,
``corrected``, ``3d``) under its feature set (:func:`wanted`).
"""

from __future__ import annotations

import datajoint as dj
import numpy as np

from pipeline import provenance
from pipeline.behavior.rows import fixed_role_map
from pipeline.errors import InputError
from pipeline.pose import PoseData

from . import pose, session, store, versions  # noqa: F401  (session: named by the part definition)

schema = dj.Schema()


@schema
class FeatureParamSet(dj.Lookup):
    """One row: one content-hashed set of feature parameters (:class:`~pipeline.classify.features.FeatureParams`).

    ``feature_set`` is a uuid of the canonical JSON of ``params``: the same
    parameters always get the same id.
    """

    definition = """
    feature_set : char(36)              # uuid of the canonical JSON of params
    ---
    feature_set_name : varchar(64)
    params : json                       # FeatureParams.to_dict()
    """

    @classmethod
    def add(cls, name: str = "default", params=None) -> str:
        """Insert (idempotently) a feature set and return its id.

        Raises
        ------
        InputError
            Invalid parameters, or a name another feature set already has.

        Examples
        --------
        >>> FeatureParamSet.add("short", {"windows_s": [0.5]})  # doctest: +SKIP
        """
        from pipeline.classify.features import FeatureParams  # (scipy: not at import)

        try:
            params = params if isinstance(params, FeatureParams) else FeatureParams(**dict(params or {}))
        except (TypeError, ValueError) as err:
            raise InputError(f"feature set {name!r}", str(err)) from None
        if not name or len(name) > 64:
            raise InputError("feature set", f"a feature-set name has 1 to 64 characters, got {name!r}")
        values = params.to_dict()
        feature_set = provenance.params_hash(values)
        other = ((cls & {"feature_set_name": name}) - {"feature_set": feature_set}).to_arrays("feature_set")
        if len(other):
            raise InputError(f"feature set {name!r}", f"the name is taken by feature set {other[0]} with other "
                                                      "parameters; choose another name")
        cls.insert1({"feature_set": feature_set, "feature_set_name": name, "params": values}, skip_duplicates=True)
        return feature_set

    @classmethod
    def resolve(cls, name: str) -> str:
        """The id of a feature set given by id or name (InputError when none or several)."""
        rows = (cls & [{"feature_set": name}, {"feature_set_name": name}]).to_arrays("feature_set")
        if len(rows) != 1:
            known = sorted(cls.to_arrays("feature_set_name"))
            raise InputError("feature set", f"{len(rows)} feature sets have the id or name {name!r}; known: {known}")
        return str(rows[0])


@schema
class PoseFeatures(dj.Computed):
    """One row: the features of one pose version under one feature set (its ``Series`` parts hold the arrays).

    ``units`` says what distances are in (``mm`` when the recording has a
    scale or the version is 3D, else the pose's units).
    """

    definition = """
    -> versions.PoseVersion
    -> FeatureParamSet
    ---
    n_frames : int32
    frame_offset : int32                # video frame of the first row
    fps : float64
    units : varchar(16)
    n_series : int32
    provenance : json                   # params, roles used, pose inputs
    """

    class Series(dj.Part):
        """One row: the features of one animal (agent = target) or one ordered pair (agent -> target)."""

        definition = """
        -> master
        series : varchar(80)            # 'SUBJECT' or 'AGENT>TARGET'
        ---
        -> session.Session.Animal.proj(agent="subject")
        -> session.Session.Animal.proj(target="subject")
        names : json                    # the feature columns
        features : <array@ethojoint>    # frames x features, float32; NaN = missing
        """

    @property
    def key_source(self):
        return wanted()

    def make_fetch(self, key):
        """The version (store metadata), its tracks, scale and skeleton roles, and the parameters."""
        given = versions.fetch_version(key)
        given["roles"] = pose.skeleton_roles(given["skeleton"]) if given["skeleton"] else {}
        given["params"] = (FeatureParamSet & key).fetch1("params")
        return (given,)

    def make_compute(self, key, given):
        """Compute and upload every series' features (no database access)."""
        from pipeline.classify.features import FeatureParams
        from pipeline.classify.series import series_features, series_names

        started = provenance.now()
        data, units, scale, role_map = version_pose(given)
        params = FeatureParams.from_dict(given["params"])
        computed = series_features(data, params=params, role_map=role_map, mm_per_unit=scale)
        parts = []
        try:
            for name, agent, target in series_names(list(data.individuals)):
                values, names = computed.pop(name)
                meta = store.upload(PoseFeatures.Series, dict(key, series=name), "features", values)
                parts.append(dict(key, series=name, agent=agent, target=target, names=list(names), features=meta))
        except BaseException:
            store.remove(p["features"] for p in parts)
            raise
        row = given["row"]
        prov = provenance.record(started=started, inputs=pose.input_checksums(row) if "provenance" in row else {},
                                 params=given["params"], pose_version=key["pose_version"], roles=role_map,
                                 units=units)
        master = dict(key, n_frames=int(row["n_frames"]), frame_offset=int(row.get("frame_offset") or 0),
                      fps=float(row["fps"]), units=units, n_series=len(parts), provenance=prov)
        return master, parts

    def make_insert(self, key, master, parts):
        with store.removed_on_error(*(p["features"] for p in parts)):
            self.insert1(master)
            self.Series.insert(parts)


def version_pose(given: dict) -> tuple[PoseData, str, float | None, dict]:
    """(pose of the subject-mapped tracks, units, mm per unit, role map) of a :func:`versions.fetch_version` result.

    Raises
    ------
    InputError
        No track of the version is mapped to a subject.
    """
    row, tracks = given["row"], given["tracks"]
    source = f"pose version {row['session']}/{given.get('kind', '')} {row.get('camera', '')}"
    if not tracks:
        raise InputError(source, "no track is mapped to a subject; map the tracks in the manifest's pose 'tracks'")
    positions, confidence = versions.version_arrays(given)
    index = [t["individual_index"] for t in tracks]
    data = PoseData(positions[:, index], confidence[:, index], individuals=[t["subject"] for t in tracks],
                    keypoints=row["keypoints"], fps=row["fps"])
    mm = given.get("mm_per_px")
    if data.n_space == 3 or row.get("space_units") == "mm":
        units, scale = "mm", None
    elif mm is not None and np.isfinite(mm):
        units, scale = "mm", float(mm)
    else:
        units, scale = str(row.get("space_units") or "px"), None
    role_map = fixed_role_map(given["roles"], None, source=source, skeleton=given["skeleton"])
    return data, units, scale, role_map


def wanted():
    """The (pose version, feature set) pairs some classifier needs: versions of its training set's pose kind."""
    from .classifier import Classifier, ClassifierParamSet, ClassifierTrainingSet

    needs = (Classifier * ClassifierTrainingSet.proj("pose_kind") * ClassifierParamSet.proj("feature_set")).proj(
        "pose_kind", "feature_set").to_dicts()
    pairs = sorted({(n["pose_kind"], n["feature_set"]) for n in needs})
    base = versions.PoseVersion.proj() * FeatureParamSet.proj()
    if not pairs:
        return base & "FALSE"
    parts = [(versions.selection(kind).proj() * (FeatureParamSet & {"feature_set": fs}).proj()).proj()
             for kind, fs in pairs]
    return base & parts
