"""Social-behaviour bouts and their summaries, per pose estimation and rule set."""

import datajoint as dj
import numpy as np

from pipeline import provenance
from pipeline.behavior import RuleSet, score_session
from pipeline.pose import PoseData

from . import pose, quality, recording, triangulation

schema = dj.Schema()

DEFAULT_SCORING = {"role_map": None, "bin_s": 60.0, "n_bins": 3}


# part definitions shared by the 2D (SocialBouts) and 3D (SocialBouts3D) scorers
_BOUT = """
        -> master
        bout_index : int32
        ---
        behavior : varchar(32)
        agent : varchar(32)            # subject id
        target : varchar(32)           # subject id
        start_frame : int32            # video frame number
        end_frame : int32              # exclusive
        start_s : float64              # video time (start_frame / fps)
        duration_s : float64
        mean_distance = null : float64 # in the rule set's units
        """

_SUMMARY = """
        -> master
        behavior : varchar(32)
        agent : varchar(32)
        target : varchar(32)
        ---
        mutual : bool
        bout_count : int32
        total_duration_s : float64
        mean_bout_s = null : float64
        median_bout_s = null : float64
        latency_s = null : float64     # from the start of the covered data to the first bout; null when none
        frames_in_contact : int32
        covered_s : float64            # seconds of pose data (first to last covered frame)
        scorable_fraction = null : float64  # of the covered frames; null = no data
        """

_TIMEBIN = """
        -> master
        behavior : varchar(32)
        agent : varchar(32)
        target : varchar(32)
        time_bin : int16
        ---
        bin_start_s : float64
        bin_end_s : float64
        bout_count : int32             # bouts starting in the bin
        total_duration_s : float64     # contact time inside the bin
        latency_s = null : float64     # from the bin start; null when none
        covered_s : float64            # seconds of pose data in the bin (0 = no data: not "0 bouts")
        scorable_fraction = null : float64  # of the bin's covered frames; null = no data
        """


@schema
class SocialRuleSet(dj.Lookup):
    """One row: one content-hashed set of scoring rules (thresholds, units, bouts, bins).

    ``rule_set`` is a uuid of the canonical JSON of ``params``; the same
    parameters always get the same id, whoever inserts them.
    """

    definition = """
    rule_set : char(36)                # uuid of the canonical JSON of params
    ---
    rule_set_name : varchar(64)
    units : enum('mm', 'px')
    params : json                      # {"rules": RuleSet.to_dict(), "role_map", "bin_s", "n_bins"}
    -> [nullable] quality.FilterParamSet  # score the FilteredPose of this chain; null = the raw pose
    identity_corrected = 0 : bool      # score the IdentityCorrection version of the pose instead
    """

    @classmethod
    def add(cls, name: str, rules: RuleSet | None = None, *, filter_set: str | None = None,
            identity_corrected: bool = False, **scoring) -> str:
        """Insert (idempotently) a rule set and return its id.

        With ``filter_set``, the rule set scores the poses filtered by that
        chain (FilteredPose); with ``identity_corrected``, the user-approved
        IdentityCorrection version; otherwise the raw PoseEstimation.
        """
        if filter_set and identity_corrected:
            raise ValueError("a rule set scores either a filter chain's output or the identity-corrected pose")
        rules = rules or RuleSet()
        params = {"rules": rules.to_dict(), **DEFAULT_SCORING, **scoring}
        hashed = dict(params, filter_set=filter_set) if filter_set else dict(params)
        if identity_corrected:
            hashed["identity_corrected"] = True
        rule_set = provenance.params_hash(hashed)
        cls.insert1({"rule_set": rule_set, "rule_set_name": name, "units": rules.units, "params": params,
                     "filter_set": filter_set, "identity_corrected": bool(identity_corrected)},
                    skip_duplicates=True)
        return rule_set


@schema
class SocialBouts(dj.Computed):
    """One row: the scored social behaviour of one pose estimation under one rule set.

    Parts: ``Bout`` (one row per bout), ``Summary`` (per behaviour and
    agent → target over the whole recording), ``TimeBin`` (the same per time
    bin over the first minutes). Mutual behaviours (nose-to-nose,
    side-by-side) appear once per pair, credited to the pair with
    agent = the first animal of the recording's track order; directed
    behaviours appear per agent → target.
    """

    definition = """
    -> pose.PoseEstimation
    -> SocialRuleSet
    ---
    units : enum('mm', 'px')            # of distances below
    n_frames : int32                    # frames of pose data scored
    frame_offset : int32                # video frame of the first one; bins and latencies count from it
    fps : float64
    n_bouts : int32
    provenance : json
    """

    class Bout(dj.Part):
        """One row: one bout of one behaviour of one agent toward one target."""

        definition = _BOUT

    class Summary(dj.Part):
        """One row: one behaviour of one agent toward one target over the recording."""

        definition = _SUMMARY

    class TimeBin(dj.Part):
        """One row: one behaviour of one agent toward one target in one time bin."""

        definition = _TIMEBIN

    @property
    def key_source(self):
        pairs = pose.PoseEstimation * SocialRuleSet
        # a rule set with a filter chain (or on corrected identities) scores only poses whose version exists
        raw = dj.AndList(["filter_set IS NULL", "NOT identity_corrected"])
        corrected = dj.AndList(["identity_corrected", quality.IdentityCorrection.proj()])
        return (pairs & [raw, quality.FilteredPose.proj(), corrected]).proj()

    def make(self, key):
        row, positions, confidence = pose.load_pose(key)
        filter_set, corrected = (SocialRuleSet & key).fetch1("filter_set", "identity_corrected")
        tracks = (pose.PoseEstimation.Individual & key).to_dicts(order_by="individual_index")
        version = None
        if filter_set:
            version = (quality.FilteredPose & key & {"filter_set": filter_set}).fetch1()
        elif corrected:
            version = (quality.IdentityCorrection & key).fetch1()
            names = list(version["individuals"])  # identities keep the name of their main source track
            tracks = [dict(t, individual_index=names.index(t["track"])) for t in tracks if t["track"] in names]
        if version is not None:
            positions = np.asarray(version["positions"], dtype=np.float64)
            confidence = np.asarray(version["confidence"], dtype=np.float64)
        mm_per_px = (recording.VideoRecording & key).fetch1("mm_per_px")
        params = (SocialRuleSet & key).fetch1("params")
        result = score_recording(row, positions, confidence, tracks, mm_per_px, params)
        self.insert1(dict(key, units=result["units"], n_frames=row["n_frames"], fps=row["fps"],
                          frame_offset=row["frame_offset"], n_bouts=len(result["bouts"]),
                          provenance=provenance.record(inputs=pose.input_checksums(row), params=params)))
        insert_parts(self, key, result)


@schema
class SocialBouts3D(dj.Computed):
    """One row: the scored social behaviour of one 3D triangulation (mm) under one mm rule set.

    Same parts as :class:`SocialBouts`; individuals are the session's subjects.
    Rule sets with a filter chain (2D only) are not used here.
    """

    definition = """
    -> triangulation.Triangulation
    -> SocialRuleSet
    ---
    n_frames : int32
    frame_offset : int32                # video frame of the first one; bins and latencies count from it
    fps : float64
    n_bouts : int32
    provenance : json
    """

    class Bout(dj.Part):
        """One row: one bout of one behaviour of one agent toward one target."""

        definition = _BOUT

    class Summary(dj.Part):
        """One row: one behaviour of one agent toward one target over the recording."""

        definition = _SUMMARY

    class TimeBin(dj.Part):
        """One row: one behaviour of one agent toward one target in one time bin."""

        definition = _TIMEBIN

    @property
    def key_source(self):
        rule_sets = SocialRuleSet & "filter_set IS NULL" & "NOT identity_corrected" & {"units": "mm"}
        return (triangulation.Triangulation.proj() * rule_sets).proj()

    def make(self, key):
        row = (triangulation.Triangulation & key).fetch1()
        positions = np.asarray(row["positions"], dtype=np.float64)
        params = (SocialRuleSet & key).fetch1("params")
        tracks = [{"individual_index": i, "subject": s} for i, s in enumerate(row["individuals"])]
        as_pose = dict(row, camera="3d", space_units="mm")
        confidence = np.where(np.isnan(positions[..., 0]), np.nan, 1.0)
        result = score_recording(as_pose, positions, confidence, tracks, None, params)
        self.insert1(dict(key, n_frames=row["n_frames"], frame_offset=row["frame_offset"], fps=row["fps"],
                          n_bouts=len(result["bouts"]),
                          provenance=provenance.record(inputs=pose.input_checksums(row), params=params)))
        insert_parts(self, key, result)


SocialSummary = SocialBouts.Summary
TimeBinnedSummary = SocialBouts.TimeBin


def insert_parts(table, key, result) -> None:
    """The Bout, Summary and TimeBin rows of one scored recording (2D or 3D table)."""
    table.Bout.insert(dict(key, bout_index=i, **b) for i, b in enumerate(result["bouts"]))
    table.Summary.insert(dict(key, **s) for s in result["summary"])
    table.TimeBin.insert(dict(key, **s) for s in result["bins"])


def score_recording(row, positions, confidence, tracks, mm_per_px, params) -> dict:
    """Score the subject-mapped tracks of one pose row; plain rows to insert."""
    from pipeline.errors import InputError

    source = f"PoseEstimation {row['session']}/{row['camera']}/{row['pose_source']}"
    if len(tracks) < 2:
        raise InputError(source, f"needs ≥ 2 tracks mapped to subjects for social scoring, has {len(tracks)}")
    index = [t["individual_index"] for t in tracks]
    data = PoseData(positions[:, index], confidence[:, index], individuals=[t["subject"] for t in tracks],
                    keypoints=row["keypoints"], fps=row["fps"])
    rules = RuleSet.from_dict(params["rules"])
    scale = 1.0 if row["space_units"] == "mm" and data.n_space == 3 else mm_per_px
    n_bins, bin_s = int(params["n_bins"]), float(params["bin_s"])
    windows = {"all": (0.0, None), **{k: (k * bin_s, (k + 1) * bin_s) for k in range(n_bins)}}
    result = score_session(data, rules, mm_per_px=scale if data.n_space == 2 else None,
                           role_map=params.get("role_map"), windows=windows, source=source)
    offset = int(row.get("frame_offset") or 0)  # bouts in video frames; latencies and bins from the covered start
    table = result.bouts.assign(start_frame=result.bouts["start_frame"] + offset,
                                end_frame=result.bouts["end_frame"] + offset,
                                start_s=(result.bouts["start_frame"] + offset) / float(row["fps"]))
    bouts = [provenance.jsonable(b) for b in table.to_dict("records")]
    summary, bins = [], []
    for s in result.summary.to_dict("records"):
        s = provenance.jsonable(s)
        window = s.pop("window")
        base = {k: s[k] for k in ("behavior", "agent", "target")}
        base.update(covered_s=s["window_end_s"] - s["window_start_s"], scorable_fraction=s["scorable_fraction"],
                    bout_count=s["bout_count"], total_duration_s=s["total_duration_s"], latency_s=s["latency_s"])
        if window == "all":
            summary.append(dict(base, mutual=bool(s["mutual"]), mean_bout_s=s["mean_bout_s"],
                                median_bout_s=s["median_bout_s"], frames_in_contact=s["frames_in_contact"]))
        else:
            bins.append(dict(base, time_bin=int(window), bin_start_s=s["window_start_s"],
                             bin_end_s=s["window_end_s"]))
    return {"units": result.units, "bouts": bouts, "summary": summary, "bins": bins}
