"""Social-behaviour bouts and their summaries, per pose estimation and rule set.

A rule set (:class:`SocialRuleSet`) is either *fixed* (the built-in
vocabulary of :class:`pipeline.behavior.RuleSet`, ``kind = 'fixed'``) or a
*document* (a declarative, content-hashed rule document of
:mod:`pipeline.behavior.ruledoc`, ``kind = 'document'``, e.g. the presets
``deepof-0.9`` and ``amadeus-mabe``).  Both are scored into the same Bout,
Summary and TimeBin rows.

Body-part roles come from the pose's skeleton (``pose.skeleton_roles``), not
from the rule set; the keypoints each role resolved to are recorded in the
provenance of every scored row.

A recording that cannot be scored (fewer than two tracks mapped to subjects,
a role the rule set needs that the skeleton lacks) is recorded once in
:class:`NotScorable` with its reason instead of failing every populate; see
:func:`not_scorable`.  It is tried again when its inputs change: deleting or
re-populating the pose row (or the rule set) deletes it by cascade, and a
change of the skeleton's roles, of the tracks or of the recording's scale
changes its ``inputs_hash`` so that the next populate scores it again.
"""


import datajoint as dj
import numpy as np
import pandas as pd

from pipeline import provenance
from pipeline.behavior import RuleSet
from pipeline.behavior.rows import KINDS, fixed_role_map, score_recording  # noqa: F401  (public here too)
from pipeline.errors import InputError, NotScorableError

from . import pose, quality, recording, store, triangulation

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
        mean_distance = null : float64 # in the rule set's units; null for document rule sets
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
    parameters always get the same id, whoever inserts them.  ``kind`` says
    how ``params`` reads: ``fixed`` = ``{"rules": RuleSet.to_dict(),
    "role_map", "bin_s", "n_bins"}`` (:meth:`add`), ``document`` =
    ``{"document": RuleDocument.to_dict(), "bin_s", "n_bins"}``
    (:meth:`add_document`).
    """

    definition = """
    rule_set : char(36)                # uuid of the canonical JSON of params
    ---
    rule_set_name : varchar(64)
    kind = 'fixed' : varchar(16)       # 'fixed' (RuleSet params) | 'document' (a rule document)
    units : varchar(16)                # of the thresholds: mm | px | body_lengths
    params : json                      # see the class notes
    document_sha256 = '' : varchar(64) # RuleDocument.content_hash() of a document rule set
    -> [nullable] quality.FilterParamSet  # score the FilteredPose of this chain; null = the raw pose
    identity_corrected = 0 : bool      # score the IdentityCorrection version of the pose instead
    """

    @classmethod
    def add(cls, name: str, rules: RuleSet | None = None, *, filter_set: str | None = None,
            identity_corrected: bool = False, **scoring) -> str:
        """Insert (idempotently) a fixed rule set and return its id.

        With ``filter_set``, the rule set scores the poses filtered by that
        chain (FilteredPose); with ``identity_corrected``, the user-approved
        IdentityCorrection version; otherwise the raw PoseEstimation.
        """
        rules = rules or RuleSet()
        params = {"rules": rules.to_dict(), **DEFAULT_SCORING, **scoring}
        return cls._insert(name, "fixed", rules.units, params, "", filter_set, identity_corrected)

    @classmethod
    def add_document(cls, source, *, name: str | None = None, bin_s: float = 60.0, n_bins: int = 3,
                     filter_set: str | None = None, identity_corrected: bool = False) -> str:
        """Insert (idempotently) a rule document and return its rule-set id.

        Parameters
        ----------
        source : RuleDocument, mapping, str or Path
            A document, a YAML/JSON file, or a preset name (``deepof-0.9``);
            see :func:`pipeline.behavior.ruledoc.load_document`.
        name : str, keyword-only, optional
            ``rule_set_name`` (default: the document's ``name``).
        bin_s, n_bins : keyword-only
            Time bins of the TimeBin rows (default 3 bins of 60 s).
        filter_set, identity_corrected : keyword-only
            As in :meth:`add`.

        Raises
        ------
        InputError
            An invalid document, or a name another rule set already has.

        Examples
        --------
        >>> SocialRuleSet.add_document("deepof-0.9")  # doctest: +SKIP
        """
        from pipeline.behavior.ruledoc import load_document

        doc = load_document(source)
        params = {"document": doc.to_dict(), "bin_s": float(bin_s), "n_bins": int(n_bins)}
        return cls._insert(name or doc.name, "document", doc.units, params, doc.content_hash(), filter_set,
                           identity_corrected)

    @classmethod
    def _insert(cls, name, kind, units, params, sha, filter_set, identity_corrected) -> str:
        if filter_set and identity_corrected:
            raise ValueError("a rule set scores either a filter chain's output or the identity-corrected pose")
        if not name or len(name) > 64:
            raise InputError("rule set", f"a rule-set name has 1 to 64 characters, got {name!r}")
        hashed = dict(params, filter_set=filter_set) if filter_set else dict(params)
        if identity_corrected:
            hashed["identity_corrected"] = True
        rule_set = provenance.params_hash(hashed)
        if kind == "document":
            other = ((cls & {"rule_set_name": name}) - {"rule_set": rule_set}).to_arrays("rule_set")
            if len(other):
                raise InputError(f"rule set {name!r}", f"the name is taken by rule set {other[0]} with other "
                                                       "rules; give another name (--name)")
        cls.insert1({"rule_set": rule_set, "rule_set_name": name, "kind": kind, "units": units, "params": params,
                     "document_sha256": sha, "filter_set": filter_set,
                     "identity_corrected": bool(identity_corrected)}, skip_duplicates=True)
        return rule_set

    @classmethod
    def document(cls, key):
        """The RuleDocument of a document rule set (InputError for a fixed one)."""
        from pipeline.behavior.ruledoc import parse_document

        row = (cls & key).fetch1()
        if row["kind"] != "document":
            raise InputError(f"rule set {row['rule_set_name']!r}", "is a fixed rule set, not a document")
        return parse_document(row["params"]["document"], source=row["rule_set_name"])


@schema
class SocialBouts(dj.Computed):
    """One row: the scored social behaviour of one pose estimation under one rule set.

    Parts: ``Bout`` (one row per bout), ``Summary`` (per behaviour and
    agent → target over the whole recording), ``TimeBin`` (the same per time
    bin over the first minutes). Mutual behaviours (nose-to-nose,
    side-by-side) appear once per pair, credited to the pair with
    agent = the first animal of the recording's track order; directed
    behaviours appear per agent → target.

    A recording that cannot be scored gets a :class:`NotScorable` row
    instead (and no row here); it is left out of ``key_source`` until its
    inputs change.
    """

    definition = """
    -> pose.PoseEstimation
    -> SocialRuleSet
    ---
    units : varchar(16)                 # of distances below: mm | px | body_lengths
    n_frames : int32                    # frames of pose data scored
    frame_offset : int32                # video frame of the first one; bins and latencies count from it
    fps : float64
    n_bouts : int32
    provenance : json                   # params = the rule set's; roles = role -> keypoint(s) used
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
        source = (pairs & [raw, quality.FilteredPose.proj(), corrected]).proj()
        settled = settled_not_scorable()  # recorded as not scorable, inputs unchanged: not retried
        return source - (NotScorable & settled).proj() if settled else source

    def make_fetch(self, key):
        """Everything scoring needs, small: the pose (or its filtered / corrected version) as store metadata,
        tracks, scale, rules, roles."""
        row = store.small((pose.PoseEstimation & key).fetch1())
        rule_set = (SocialRuleSet & key).fetch1()
        raw_tracks = (pose.PoseEstimation.Individual & key).to_dicts(order_by="individual_index")
        tracks = raw_tracks
        arrays = {"positions": row.pop("positions"), "confidence": row.pop("confidence")}
        version = None
        if rule_set["filter_set"]:
            version = (quality.FilteredPose & key & {"filter_set": rule_set["filter_set"]}).fetch1()
        elif rule_set["identity_corrected"]:
            version = (quality.IdentityCorrection & key).fetch1()
            names = list(version["individuals"])  # identities keep the name of their main source track
            tracks = [dict(t, individual_index=names.index(t["track"])) for t in tracks if t["track"] in names]
        if version is not None:
            arrays = {k: store.metadata(version[k]) for k in ("positions", "confidence")}
        mm_per_px = (recording.VideoRecording & key).fetch1("mm_per_px")
        skeleton = (pose.PoseEstimationTask & key).fetch1("skeleton")
        roles = pose.skeleton_roles(skeleton)
        inputs = {"row": row, "arrays": arrays, "tracks": tracks, "mm_per_px": mm_per_px, "rule_set": rule_set,
                  "skeleton": skeleton, "roles": roles, "inputs_hash": inputs_hash(raw_tracks, roles, mm_per_px)}
        return (inputs,)

    def make_compute(self, key, inputs):
        started = provenance.now()
        """Score (no database access); returns (master row, part rows, None) or (None, None, NotScorable row)."""
        rs = inputs["rule_set"]
        try:
            positions, confidence = (store.load_array(m, dtype=np.float64) for m in inputs["arrays"].values())
            result = score_recording(inputs["row"], positions, confidence, inputs["tracks"],
                                     inputs["mm_per_px"], rs["params"], kind=rs["kind"],
                                     skeleton=inputs["skeleton"], roles=inputs["roles"],
                                     rule_set_name=rs["rule_set_name"])
        except NotScorableError as err:
            return None, None, dict(key, reason=str(err)[:2000], inputs_hash=inputs["inputs_hash"])
        row = inputs["row"]
        prov = provenance.record(started=started, inputs=pose.input_checksums(row), params=rs["params"],
                                 skeleton=inputs["skeleton"], roles=result["roles"])
        master = dict(key, units=result["units"], n_frames=row["n_frames"], fps=row["fps"],
                      frame_offset=row["frame_offset"], n_bouts=len(result["bouts"]), provenance=prov)
        return master, result, None

    def make_insert(self, key, master, result, not_scorable):
        (NotScorable & key).delete_quick()  # an earlier verdict whose inputs have changed since
        if not_scorable is not None:
            NotScorable.insert1(not_scorable)
            return
        self.insert1(master)
        insert_parts(self, key, result)


@schema
class NotScorable(dj.Manual):
    """One row: a pose estimation that cannot be scored under a rule set, and why.

    Written by :class:`SocialBouts` populate instead of failing on every run
    (e.g. one track mapped to a subject; a role the rule set needs that the
    skeleton lacks).  Keyed like SocialBouts; populate does not retry it while
    ``inputs_hash`` (tracks, skeleton roles, scale) is unchanged.  Deleting or
    re-importing the pose, or deleting the rule set, deletes it (cascade);
    setting the missing roles (``ethojoint skeleton roles ...``) makes the next
    populate try again.  List them with :func:`not_scorable`.
    """

    definition = """
    -> pose.PoseEstimation
    -> SocialRuleSet
    ---
    reason : varchar(2000)
    inputs_hash : char(36)             # params_hash of tracks, skeleton roles and mm_per_px when recorded
    recorded = CURRENT_TIMESTAMP : datetime
    """


@schema
class SocialBouts3D(dj.Computed):
    """One row: the scored social behaviour of one 3D triangulation (mm) under one mm rule set.

    Same parts as :class:`SocialBouts`; individuals are the session's subjects.
    Only fixed rule sets in mm without a filter chain are used here.  Roles
    come from the skeleton of the session's 2D pose estimations.
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
        # fixed rule sets in mm only: a document rule set that cannot score a triangulation (a role its
        # skeleton lacks) would fail every populate, as 3D has no NotScorable record yet
        rule_sets = SocialRuleSet & "filter_set IS NULL" & "NOT identity_corrected" & {"units": "mm", "kind": "fixed"}
        return (triangulation.Triangulation.proj() * rule_sets).proj()

    def make_fetch(self, key):
        row = store.small((triangulation.Triangulation & key).fetch1())
        skeletons = sorted(set((pose.PoseEstimationTask & {"session": key["session"]}).to_arrays("skeleton")))
        skeleton = skeletons[0] if len(skeletons) == 1 else None
        roles = pose.skeleton_roles(skeleton) if skeleton else {}
        return row, (SocialRuleSet & key).fetch1(), skeleton, roles

    def make_compute(self, key, row, rs, skeleton, roles):
        started = provenance.now()
        positions = store.load_array(row["positions"], dtype=np.float64)
        tracks = [{"individual_index": i, "subject": s} for i, s in enumerate(row["individuals"])]
        as_pose = dict(row, camera="3d", space_units="mm")
        confidence = np.where(np.isnan(positions[..., 0]), np.nan, 1.0)
        result = score_recording(as_pose, positions, confidence, tracks, None, rs["params"], kind=rs["kind"],
                                 skeleton=skeleton, roles=roles, rule_set_name=rs["rule_set_name"])
        prov = provenance.record(started=started, inputs=pose.input_checksums(row), params=rs["params"],
                                 skeleton=skeleton, roles=result["roles"])
        master = dict(key, n_frames=row["n_frames"], frame_offset=row["frame_offset"], fps=row["fps"],
                      n_bouts=len(result["bouts"]), provenance=prov)
        return master, result

    def make_insert(self, key, master, result):
        self.insert1(master)
        insert_parts(self, key, result)


SocialSummary = SocialBouts.Summary
TimeBinnedSummary = SocialBouts.TimeBin


def insert_parts(table, key, result) -> None:
    """The Bout, Summary and TimeBin rows of one scored recording (2D or 3D table)."""
    table.Bout.insert(dict(key, bout_index=i, **b) for i, b in enumerate(result["bouts"]))
    table.Summary.insert(dict(key, **s) for s in result["summary"])
    table.TimeBin.insert(dict(key, **s) for s in result["bins"])


# ---------------------------------------------------------------- not scorable

def inputs_hash(tracks, roles, mm_per_px) -> str:
    """Fingerprint of the inputs that decide whether a pose can be scored (besides the pose row itself)."""
    return provenance.params_hash({
        "tracks": [[int(t["individual_index"]), str(t["track"]), str(t["subject"])] for t in tracks],
        "roles": provenance.jsonable(dict(roles or {})),
        "mm_per_px": None if mm_per_px is None or not np.isfinite(mm_per_px) else float(mm_per_px)})


def _not_scorable_rows() -> pd.DataFrame:
    """NotScorable rows with the rule-set name and whether their inputs changed since (``retry``)."""
    cols = ["session", "camera", "pose_source", "rule_set", "rule_set_name", "reason", "recorded", "retry"]
    rows = (NotScorable * SocialRuleSet.proj("rule_set_name")
            * pose.PoseEstimationTask.proj("skeleton") * recording.VideoRecording.proj("mm_per_px")).to_dicts()
    if not rows:
        return pd.DataFrame(columns=cols)
    individuals = (pose.PoseEstimation.Individual & NotScorable.proj()).to_dicts(order_by="individual_index")
    roles = {s: pose.skeleton_roles(s) for s in {r["skeleton"] for r in rows}}
    pose_key = ("session", "camera", "pose_source")
    for r in rows:
        tracks = [t for t in individuals if all(t[k] == r[k] for k in pose_key)]
        r["retry"] = r["inputs_hash"] != inputs_hash(tracks, roles[r["skeleton"]], r["mm_per_px"])
    return pd.DataFrame(rows)[cols]


def settled_not_scorable() -> list:
    """Keys of NotScorable rows whose inputs have not changed since (populate leaves them alone)."""
    if not len(NotScorable()):
        return []
    df = _not_scorable_rows()
    return df.loc[~df["retry"], ["session", "camera", "pose_source", "rule_set"]].to_dict("records")


def not_scorable() -> pd.DataFrame:
    """Pose estimations that cannot be scored under a rule set, with the reason.

    Returns
    -------
    DataFrame
        ``session, camera, pose_source, rule_set, rule_set_name, reason,
        recorded, retry``; ``retry`` is True when the inputs changed since
        (the next populate scores it again).

    Examples
    --------
    >>> print(not_scorable().to_string(index=False))  # doctest: +SKIP
    """
    return _not_scorable_rows().sort_values(["session", "camera", "pose_source", "rule_set_name"],
                                            ignore_index=True)
