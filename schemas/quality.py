"""Trajectory quality: filtered poses, identity checks and user-approved corrections.

Every output is a new pose version stored beside the original (same array
layout as PoseEstimation); nothing is overwritten.
"""

import inspect

import datajoint as dj
import numpy as np

from pipeline import provenance
from pipeline.pose import PoseData
from pipeline.quality import apply_chain, correct_identities, detect_swaps

from . import pose, store

schema = dj.Schema()


def _pose_data(row: dict) -> PoseData:
    """The pose of a :func:`pose.fetch_pose` row, read from the store (no database)."""
    positions, confidence = pose.pose_arrays(row)
    return PoseData(positions, confidence, individuals=row["individuals"], keypoints=row["keypoints"],
                    fps=row["fps"], source_software=row["source_software"])


def swap_parameters() -> dict:
    """The keyword arguments IdentityCheck passes to ``detect_swaps``: its defaults, from its signature.

    ``None`` means derived from the data (see ``detect_swaps``).
    """
    return {name: p.default for name, p in inspect.signature(detect_swaps).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _uploaded(table, key, data: PoseData) -> dict:
    """Upload a pose version's arrays before the insert; returns their metadata for the row."""
    return store.upload_all(table, key, {field: getattr(data, field).astype(np.float32)
                                         for field in ("positions", "confidence")})


@schema
class FilterParamSet(dj.Lookup):
    """One row: one content-hashed ordered list of filter steps.

    ``steps`` is e.g. ``[{"step": "max_jump", "max_px_per_frame": 40},
    {"step": "interpolate_gaps", "max_gap_frames": 5}]``; ``filter_set`` is a
    uuid of its canonical JSON.
    """

    definition = """
    filter_set : char(36)
    ---
    filter_set_name : varchar(64)
    steps : json
    """

    @classmethod
    def add(cls, name: str, steps: list[dict]) -> str:
        """Insert (idempotently) a filter chain and return its id."""
        from pipeline.quality.filters import check_chain

        check_chain(steps)  # names and options, before the row exists
        filter_set = provenance.params_hash(steps)
        cls.insert1({"filter_set": filter_set, "filter_set_name": name, "steps": steps}, skip_duplicates=True)
        return filter_set


@schema
class FilteredPose(dj.Computed):
    """One row: one pose estimation passed through one filter chain (a new pose version)."""

    definition = """
    -> pose.PoseEstimation
    -> FilterParamSet
    ---
    positions : <array@ethojoint>
    confidence : <array@ethojoint>
    step_stats : json              # per step: points removed / changed / filled
    provenance : json
    """

    def make_fetch(self, key):
        return pose.fetch_pose(key), (FilterParamSet & key).fetch1("steps")

    def make_compute(self, key, row, steps):
        started = provenance.now()
        filtered, stats = apply_chain(_pose_data(row), steps)
        prov = provenance.record(started=started, inputs=pose.input_checksums(row), params={"steps": steps})
        return (dict(key, **_uploaded(self, key, filtered), step_stats=stats, provenance=prov),)

    def make_insert(self, key, row):
        with store.removed_on_error(row["positions"], row["confidence"]):
            self.insert1(row)


@schema
class IdentityCheck(dj.Computed):
    """One row: the probable identity swaps and track fragments of one pose estimation."""

    definition = """
    -> pose.PoseEstimation
    ---
    n_exchanges : int32
    n_spikes : int32
    n_fragments : int32
    provenance : json
    """

    class Event(dj.Part):
        """One row: one probable swap, coincident velocity spike or fragment start/end."""

        definition = """
        -> master
        event_index : int32
        ---
        frame : int32
        kind : varchar(16)             # exchange | velocity_spike | fragment
        individual_a : varchar(64)
        individual_b : varchar(64)
        confidence = null : float64
        """

    def make_fetch(self, key):
        return (pose.fetch_pose(key),)

    def make_compute(self, key, row):
        started = provenance.now()
        params = swap_parameters()
        events = detect_swaps(_pose_data(row), **params)
        kinds = events["kind"].value_counts()
        master = dict(key, n_exchanges=int(kinds.get("exchange", 0)),
                      n_spikes=int(kinds.get("velocity_spike", 0)), n_fragments=int(kinds.get("fragment", 0)),
                      provenance=provenance.record(started=started, inputs=pose.input_checksums(row),
                                                   params={"detect_swaps": params}))
        parts = [dict(key, event_index=i, frame=int(e["frame"]), kind=str(e["kind"]),
                      individual_a=str(e["individual_a"]), individual_b=str(e["individual_b"]),
                      confidence=None if not np.isfinite(e["confidence"]) else float(e["confidence"]))
                 for i, e in enumerate(events.to_dict("records"))]
        return master, parts

    def make_insert(self, key, master, parts):
        self.insert1(master)
        self.Event.insert(parts)


@schema
class IdentityDecision(dj.Manual):
    """One row: a user's decision whether to apply the identity correction to one pose estimation."""

    definition = """
    -> IdentityCheck
    ---
    apply_correction : bool
    max_individuals = null : int32    # identities to keep (default: from the data)
    max_jump = 1.0 : float64          # motion gate: allowed jump in body sizes (0 = keep every detection)
    max_speed = 8.0 : float64         # motion gate: body sizes per second
    decided_by = '' : varchar(64)
    decided_at = CURRENT_TIMESTAMP : datetime
    """


@schema
class IdentityCorrection(dj.Computed):
    """One row: a corrected pose version (stitched fragments, undone swaps), when the user chose so."""

    definition = """
    -> IdentityDecision
    ---
    positions : <array@ethojoint>
    confidence : <array@ethojoint>
    individuals : json                # identity names, in array order
    report : json
    provenance : json
    """

    @property
    def key_source(self):
        return IdentityDecision & {"apply_correction": True}

    def make_fetch(self, key):
        decision = (IdentityDecision & key).fetch1()
        return pose.fetch_pose(key), {k: decision[k] for k in ("max_individuals", "max_jump", "max_speed")}

    def make_compute(self, key, row, params):
        started = provenance.now()
        corrected, report = correct_identities(_pose_data(row), max_individuals=params["max_individuals"],
                                               max_jump=params["max_jump"] or None, max_speed=params["max_speed"])
        prov = provenance.record(started=started, inputs=pose.input_checksums(row), params=params)
        return (dict(key, **_uploaded(self, key, corrected), individuals=list(corrected.individuals),
                     report=provenance.jsonable(report), provenance=prov),)

    def make_insert(self, key, row):
        with store.removed_on_error(row["positions"], row["confidence"]):
            self.insert1(row)
