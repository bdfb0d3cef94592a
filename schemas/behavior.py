"""Social-behaviour bouts and their summaries, per pose version and rule set.

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

from . import pose, session, versions  # noqa: F401  (session: named by the part definitions)

schema = dj.Schema()

DEFAULT_SCORING = {"role_map": None, "bin_s": 60.0, "n_bins": 3}


# part definitions (agent and target are animals of the session)
_BOUT = """
        -> master
        bout_index : int32
        ---
        behavior : varchar(32)
        -> session.Session.Animal.proj(agent="subject")
        -> session.Session.Animal.proj(target="subject")
        start_frame : int32            # video frame number
        end_frame : int32              # exclusive
        start_s : float64              # video time (start_frame / fps)
        duration_s : float64
        mean_distance = null : float64 # in the rule set's units; null for document rule sets
        """

_SUMMARY = """
        -> master
        behavior : varchar(32)
        -> session.Session.Animal.proj(agent="subject")
        -> session.Session.Animal.proj(target="subject")
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
        -> session.Session.Animal.proj(agent="subject")
        -> session.Session.Animal.proj(target="subject")
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
    """

    @classmethod
    def add(cls, name: str, rules: RuleSet | None = None, **scoring) -> str:
        """Insert (idempotently) a fixed rule set and return its id.

        A rule set says only how to score; every pose version
        (:class:`versions.PoseVersion`: raw, filtered, identity-corrected, 3D)
        is scored under it, and reports choose the version.
        """
        rules = rules or RuleSet()
        params = {"rules": rules.to_dict(), **DEFAULT_SCORING, **scoring}
        return cls._insert(name, "fixed", rules.units, params, "")

    @classmethod
    def add_document(cls, source, *, name: str | None = None, bin_s: float = 60.0, n_bins: int = 3) -> str:
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
        return cls._insert(name or doc.name, "document", doc.units, params, doc.content_hash())

    @classmethod
    def _insert(cls, name, kind, units, params, sha) -> str:
        if not name or len(name) > 64:
            raise InputError("rule set", f"a rule-set name has 1 to 64 characters, got {name!r}")
        rule_set = provenance.params_hash(params)  # the rules only: the same whatever pose they score
        if kind == "document":
            other = ((cls & {"rule_set_name": name}) - {"rule_set": rule_set}).to_arrays("rule_set")
            if len(other):
                raise InputError(f"rule set {name!r}", f"the name is taken by rule set {other[0]} with other "
                                                       "rules; give another name (--name)")
        cls.insert1({"rule_set": rule_set, "rule_set_name": name, "kind": kind, "units": units, "params": params,
                     "document_sha256": sha}, skip_duplicates=True)
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
    """One row: the scored social behaviour of one pose version under one rule set.

    Every version (:class:`versions.PoseVersion`: raw, filtered,
    identity-corrected, 3D) is scored under every rule set; a 3D version (in
    mm) only under rule sets in mm.

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
    -> versions.PoseVersion
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
        # 3D versions are in mm: only rule sets in mm score them
        source = ((versions.PoseVersion * SocialRuleSet.proj("units")) & ["kind <> '3d'", "units = 'mm'"]).proj()
        settled = settled_not_scorable()  # recorded as not scorable, inputs unchanged: not retried
        return source - (NotScorable & settled).proj() if settled else source

    def refresh_inputs(self) -> None:
        """Register new pose versions (called by populate and by the workers before they list jobs)."""
        versions.PoseVersion.sync()

    def populate(self, *restrictions, **kwargs):
        """DataJoint's populate, after registering new pose versions."""
        self.refresh_inputs()
        return super().populate(*restrictions, **kwargs)

    def make_fetch(self, key):
        """Everything scoring needs, small: the version's pose as store metadata, tracks, scale, rules, roles."""
        given = versions.fetch_version(key)
        given["rule_set"] = (SocialRuleSet & key).fetch1()
        given["roles"] = pose.skeleton_roles(given["skeleton"]) if given["skeleton"] else {}
        given["inputs_hash"] = inputs_hash(given["tracks"], given["roles"], given["mm_per_px"])
        return (given,)

    def make_compute(self, key, given):
        """Score (no database access); returns (master row, part rows, None) or (None, None, NotScorable row)."""
        started = provenance.now()
        rs, row = given["rule_set"], given["row"]
        try:
            positions, confidence = versions.version_arrays(given)
            result = score_recording(row, positions, confidence, given["tracks"], given["mm_per_px"], rs["params"],
                                     kind=rs["kind"], skeleton=given["skeleton"], roles=given["roles"],
                                     rule_set_name=rs["rule_set_name"])
        except NotScorableError as err:
            return None, None, dict(key, reason=str(err)[:2000], inputs_hash=given["inputs_hash"])
        prov = provenance.record(started=started, inputs=pose.input_checksums(row), params=rs["params"],
                                 pose_version=key["pose_version"], kind=given["kind"], skeleton=given["skeleton"],
                                 roles=result["roles"])
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
    """One row: a pose version that cannot be scored under a rule set, and why.

    Written by :class:`SocialBouts` populate instead of failing on every run
    (e.g. one track mapped to a subject; a role the rule set needs that the
    skeleton lacks).  Keyed like SocialBouts; populate does not retry it while
    ``inputs_hash`` (tracks, skeleton roles, scale) is unchanged.  Deleting or
    re-importing the pose, or deleting the rule set, deletes it (cascade);
    setting the missing roles (``ethojoint skeleton roles ...``) makes the next
    populate try again.  List them with :func:`not_scorable`.
    """

    definition = """
    -> versions.PoseVersion
    -> SocialRuleSet
    ---
    reason : varchar(2000)
    inputs_hash : char(36)             # params_hash of tracks, skeleton roles and mm_per_px when recorded
    recorded = CURRENT_TIMESTAMP : datetime
    """


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
    cols = ["session", "pose_version", "rule_set", "rule_set_name", "reason", "recorded", "retry"]
    rows = (NotScorable * SocialRuleSet.proj("rule_set_name")).to_dicts()
    if not rows:
        return pd.DataFrame(columns=cols)
    roles = {}
    for r in rows:
        given = versions.fetch_version({"session": r["session"], "pose_version": r["pose_version"]})
        skeleton = given["skeleton"]
        if skeleton not in roles:
            roles[skeleton] = pose.skeleton_roles(skeleton) if skeleton else {}
        r["retry"] = r["inputs_hash"] != inputs_hash(given["tracks"], roles[skeleton], given["mm_per_px"])
    return pd.DataFrame(rows)[cols]


def settled_not_scorable() -> list:
    """Keys of NotScorable rows whose inputs have not changed since (populate leaves them alone)."""
    if not len(NotScorable()):
        return []
    df = _not_scorable_rows()
    return df.loc[~df["retry"], ["session", "pose_version", "rule_set"]].to_dict("records")


def not_scorable() -> pd.DataFrame:
    """Pose versions that cannot be scored under a rule set, with the reason.

    Returns
    -------
    DataFrame
        ``session, pose_version, rule_set, rule_set_name, reason,
        recorded, retry``; ``retry`` is True when the inputs changed since
        (the next populate scores it again).

    Examples
    --------
    >>> print(not_scorable().to_string(index=False))  # doctest: +SKIP
    """
    return _not_scorable_rows().sort_values(["session", "pose_version", "rule_set_name"], ignore_index=True)
