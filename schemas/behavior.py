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

from collections.abc import Mapping

import datajoint as dj
import numpy as np
import pandas as pd

from pipeline import provenance
from pipeline.behavior import RuleSet, find_bouts, score_session, summarise_bouts
from pipeline.behavior.roles import ROLES as FIXED_ROLES
from pipeline.behavior.roles import resolve_roles
from pipeline.errors import InputError
from pipeline.pose import PoseData

from . import pose, quality, recording, triangulation

schema = dj.Schema()

DEFAULT_SCORING = {"role_map": None, "bin_s": 60.0, "n_bins": 3}
KINDS = ("fixed", "document")


class NotScorableError(InputError):
    """The recording cannot be scored under the rule set until its inputs change (recorded, not retried)."""


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

    def make(self, key):
        """make_fetch → make_compute → make_insert, in populate's transaction.

        Not DataJoint's generator form: it deep-hashes the fetched data twice,
        element by element, which takes minutes for the pose array of a 1 h
        recording; scoring itself takes well under a second.
        """
        fetched = self.make_fetch(key)
        computed = self.make_compute(key, *fetched)
        self.make_insert(key, *computed)

    def make_fetch(self, key):
        """Everything scoring needs: the pose (or its filtered / corrected version), tracks, scale, rules, roles."""
        row, positions, confidence = pose.load_pose(key)
        row = {k: v for k, v in row.items() if k not in ("positions", "confidence")}
        rule_set = (SocialRuleSet & key).fetch1()
        raw_tracks = (pose.PoseEstimation.Individual & key).to_dicts(order_by="individual_index")
        tracks = raw_tracks
        version = None
        if rule_set["filter_set"]:
            version = (quality.FilteredPose & key & {"filter_set": rule_set["filter_set"]}).fetch1()
        elif rule_set["identity_corrected"]:
            version = (quality.IdentityCorrection & key).fetch1()
            names = list(version["individuals"])  # identities keep the name of their main source track
            tracks = [dict(t, individual_index=names.index(t["track"])) for t in tracks if t["track"] in names]
        if version is not None:
            positions = np.asarray(version["positions"], dtype=np.float64)
            confidence = np.asarray(version["confidence"], dtype=np.float64)
        mm_per_px = (recording.VideoRecording & key).fetch1("mm_per_px")
        skeleton = (pose.PoseEstimationTask & key).fetch1("skeleton")
        roles = pose.skeleton_roles(skeleton)
        inputs = {"row": row, "positions": positions, "confidence": confidence, "tracks": tracks,
                  "mm_per_px": mm_per_px, "rule_set": rule_set, "skeleton": skeleton, "roles": roles,
                  "inputs_hash": inputs_hash(raw_tracks, roles, mm_per_px)}
        return (inputs,)

    def make_compute(self, key, inputs):
        """Score (no database access); returns (master row, part rows, None) or (None, None, NotScorable row)."""
        rs = inputs["rule_set"]
        try:
            result = score_recording(inputs["row"], inputs["positions"], inputs["confidence"], inputs["tracks"],
                                     inputs["mm_per_px"], rs["params"], kind=rs["kind"],
                                     skeleton=inputs["skeleton"], roles=inputs["roles"],
                                     rule_set_name=rs["rule_set_name"])
        except NotScorableError as err:
            return None, None, dict(key, reason=str(err)[:2000], inputs_hash=inputs["inputs_hash"])
        row = inputs["row"]
        prov = provenance.record(inputs=pose.input_checksums(row), params=rs["params"],
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

    def make(self, key):
        row = (triangulation.Triangulation & key).fetch1()
        positions = np.asarray(row["positions"], dtype=np.float64)
        rs = (SocialRuleSet & key).fetch1()
        skeletons = sorted(set((pose.PoseEstimationTask & {"session": key["session"]}).to_arrays("skeleton")))
        skeleton = skeletons[0] if len(skeletons) == 1 else None
        roles = pose.skeleton_roles(skeleton) if skeleton else {}
        tracks = [{"individual_index": i, "subject": s} for i, s in enumerate(row["individuals"])]
        as_pose = dict(row, camera="3d", space_units="mm")
        confidence = np.where(np.isnan(positions[..., 0]), np.nan, 1.0)
        result = score_recording(as_pose, positions, confidence, tracks, None, rs["params"], kind=rs["kind"],
                                 skeleton=skeleton, roles=roles, rule_set_name=rs["rule_set_name"])
        prov = provenance.record(inputs=pose.input_checksums(row), params=rs["params"], skeleton=skeleton,
                                 roles=result["roles"])
        self.insert1(dict(key, n_frames=row["n_frames"], frame_offset=row["frame_offset"], fps=row["fps"],
                          n_bouts=len(result["bouts"]), provenance=prov))
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


# ---------------------------------------------------------------- scoring

def _role_arg(role: str, spec) -> str | None:
    """One ``ROLE=...`` argument of ``ethojoint skeleton roles`` (None: not expressible there)."""
    if isinstance(spec, str):
        return f"{role}={spec}"
    if isinstance(spec, (list, tuple)) and all(isinstance(k, str) for k in spec):
        return f"{role}={','.join(spec)}"
    if isinstance(spec, Mapping) and list(spec) == ["centroid"]:
        return f"{role}={'+'.join(spec['centroid'])}"
    return None


def _how_to_set(skeleton, missing, suggested: Mapping | None = None) -> str:
    """The command that sets the missing roles (with suggested values where known)."""
    args = [(_role_arg(r, suggested[r]) if suggested and r in suggested else None) or f"{r}=<keypoint>"
            for r in missing]
    return f"set them with `ethojoint skeleton roles {skeleton} {' '.join(args)}`"


def fixed_role_map(skeleton_roles: Mapping, legacy: Mapping | None, *, source: str, skeleton) -> dict:
    """The fixed scorer's ``role_map`` from a skeleton's roles, overridden by a rule set's legacy ``role_map``.

    A keypoint name stays; a one-element list or centroid becomes that
    keypoint; ``{"centroid": [a, b]}`` for ``neck`` becomes
    ``("midpoint", a, b)``; roles the fixed scorer does not know are dropped.

    Raises
    ------
    NotScorableError
        A role of the fixed scorer mapped to a form it cannot use.
    """
    out, legacy = {}, dict(legacy or {})
    for role, spec in (skeleton_roles or {}).items():
        if role not in FIXED_ROLES or role in legacy:
            continue
        points = spec
        if isinstance(spec, Mapping) and len(spec) == 1:
            (kind, points), = spec.items()
            if kind == "centroid" and role == "neck" and isinstance(points, (list, tuple)) and len(points) == 2:
                out[role] = ("midpoint", str(points[0]), str(points[1]))
                continue
        if isinstance(points, (list, tuple)) and len(points) == 1:
            points = points[0]
        if not isinstance(points, str):
            raise NotScorableError(source, f"skeleton {skeleton!r} maps role {role!r} to {spec!r}, which the fixed "
                                           "rule set cannot use (it needs one keypoint, or for neck a centroid of "
                                           f"two); {_how_to_set(skeleton, [role])}")
        out[role] = points
    for role, spec in legacy.items():
        out[role] = tuple(spec) if isinstance(spec, list) else spec
    return out


def _fixed_roles(data: PoseData, params, skeleton, roles, source) -> dict:
    merged = fixed_role_map(roles, params.get("role_map"), source=source, skeleton=skeleton)
    try:
        return resolve_roles(data.keypoints, merged, source=source)
    except InputError as err:
        missing = [r for r in ("nose", "neck", "tail_base") if r not in merged]
        raise NotScorableError(source, f"{err.problem}. The fixed rule set needs "
                                       f"roles nose, neck (or left_ear and right_ear) and tail_base; skeleton "
                                       f"{skeleton!r} sets {sorted(roles or {})}; "
                                       f"{_how_to_set(skeleton, missing or ['nose'])}") from None


def _document_hint(doc, keypoints, skeleton, missing) -> str:
    """How to set the missing roles, with the document's ``known_skeletons`` map when one fits the keypoints."""
    known = doc.to_dict().get("known_skeletons") or {}

    def names(spec):
        if isinstance(spec, Mapping):
            spec = next(iter(spec.values()))
        return [spec] if isinstance(spec, str) else list(spec)

    fits = [s for s, m in known.items() if all(r in m for r in missing)
            and all(k in keypoints for r in missing for k in names(m[r]))]
    if fits:
        return (_how_to_set(skeleton, missing, known[fits[0]])
                + f" (rule set {doc.name!r} suggests these for its known skeleton {fits[0]!r})")
    hint = f"; rule set {doc.name!r} knows the role maps of skeleton(s) {sorted(known)}" if known else ""
    return _how_to_set(skeleton, missing) + hint


def _document_scores(data: PoseData, doc, roles, mm_per_px, windows, skeleton, source):
    """Bouts and summaries (as ScoreResult's tables) of a rule document; roles as resolved."""
    from pipeline.behavior.ruleengine import score_document

    missing = [r for r in doc.used_roles if r not in (roles or {})]
    if missing:
        raise NotScorableError(source, f"rule set {doc.name!r} needs role(s) {missing} that skeleton {skeleton!r} "
                                       f"does not define (its roles: {sorted(roles or {})}; its keypoints: "
                                       f"{list(data.keypoints)}); "
                                       + _document_hint(doc, list(data.keypoints), skeleton, missing))
    res = score_document(data, doc, roles=roles, mm_per_px=mm_per_px, fps=data.fps)
    fps = float(res.fps)
    agents = np.array([res.individuals[a] for a, _ in res.pairs], dtype=object)
    targets = np.array([res.individuals[b] for _, b in res.pairs], dtype=object)
    lower = np.array([a < b for a, b in res.pairs])
    tables, summaries = [], []
    for beh in res.behaviors:
        contact, ok = res.contact[beh], res.scorable[beh]
        # the engine has already bridged gaps and dropped short runs: bouts are its runs of contact
        b = find_bouts(contact, ok, fps=fps, min_bout_s=0.0, max_gap_s=0.0)
        p, start, end = (b[c].to_numpy() for c in ("pair", "start_frame", "end_frame"))
        tables.append(pd.DataFrame({"behavior": beh, "agent": agents[p], "target": targets[p], "start_frame": start,
                                    "end_frame": end, "start_s": start / fps, "duration_s": (end - start) / fps,
                                    "mean_distance": np.full(len(p), np.nan)}))
        s = summarise_bouts(b, fps=fps, n_frames=data.n_frames, scorable=ok, windows=windows)
        sp = s["pair"].to_numpy()
        s.insert(0, "behavior", beh)
        s.insert(1, "agent", agents[sp])
        s.insert(2, "target", targets[sp])
        s.insert(3, "mutual", bool(res.mutual[beh]))
        summaries.append(s[lower[sp]] if res.mutual[beh] else s)
    bouts = pd.concat(tables, ignore_index=True).astype({"start_frame": np.int64, "end_frame": np.int64})
    summary = pd.concat(summaries, ignore_index=True).drop(columns="pair")
    resolved = {r: ((names[0] if len(names) == 1 else list(names)) if kind == "set" else {kind: list(names)})
                for r, (kind, names) in res.roles.items()}  # in SkeletonRole's spec form
    return bouts, summary, doc.units, resolved


def score_recording(row, positions, confidence, tracks, mm_per_px, params, *, kind: str = "fixed",
                    skeleton: str | None = None, roles: Mapping | None = None, rule_set_name: str = "") -> dict:
    """Score the subject-mapped tracks of one pose row; plain rows to insert (no database access).

    Parameters
    ----------
    row : dict
        The pose row's attributes (``session, camera, pose_source,
        keypoints, fps, n_frames, frame_offset, space_units``).
    positions, confidence : ndarray
        Its arrays (time, individual, keypoint[, space]).
    tracks : list of dict
        ``individual_index, subject`` of the tracks mapped to subjects, in order.
    mm_per_px : float or None
    params : dict
        The rule set's ``params``.
    kind : {"fixed", "document"}, keyword-only
    skeleton : str, keyword-only
        Named in messages.
    roles : mapping, keyword-only
        The skeleton's roles (role -> keypoint, list, centroid, median).
    rule_set_name : str, keyword-only

    Returns
    -------
    dict
        ``units, bouts, summary, bins`` (rows) and ``roles`` (role -> keypoint(s) used).

    Raises
    ------
    NotScorableError
        Fewer than two tracks mapped to subjects, or a role the rules need is missing.
    InputError
        Any other problem (e.g. mm rules without a scale).
    """
    source = f"PoseEstimation {row['session']}/{row['camera']}/{row['pose_source']}"
    if len(tracks) < 2:
        mapped = [t.get("track", t["subject"]) + " -> " + t["subject"] for t in tracks]
        raise NotScorableError(source, f"needs ≥ 2 tracks mapped to subjects for social scoring, has {len(tracks)} "
                                       f"({mapped or 'none'}); map the tracks in the manifest's pose 'tracks'")
    index = [t["individual_index"] for t in tracks]
    data = PoseData(positions[:, index], confidence[:, index], individuals=[t["subject"] for t in tracks],
                    keypoints=row["keypoints"], fps=row["fps"])
    scale = 1.0 if row["space_units"] == "mm" and data.n_space == 3 else mm_per_px
    n_bins, bin_s = int(params["n_bins"]), float(params["bin_s"])
    windows = {"all": (0.0, None), **{k: (k * bin_s, (k + 1) * bin_s) for k in range(n_bins)}}
    if kind == "document":
        from pipeline.behavior.ruledoc import parse_document

        doc = parse_document(params["document"], source=rule_set_name or "rule set")
        bouts, summary, units, used = _document_scores(data, doc, roles, scale, windows, skeleton, source)
    elif kind == "fixed":
        rules = RuleSet.from_dict(params["rules"])
        role_map = _fixed_roles(data, params, skeleton, roles, source)
        result = score_session(data, rules, mm_per_px=scale if data.n_space == 2 else None, role_map=role_map,
                               windows=windows, source=source)
        bouts, summary, units = result.bouts, result.summary, result.units
        used = {r: (list(v[1:]) if isinstance(v, tuple) else v) for r, v in result.roles.items()}
        used = {r: ({"centroid": v} if isinstance(v, list) else v) for r, v in used.items()}
    else:
        raise InputError(f"rule set {rule_set_name!r}", f"unknown kind {kind!r}; known: {list(KINDS)}")
    return dict(_rows(row, bouts, summary), units=units, roles=used)


def _rows(row, bouts: pd.DataFrame, summary: pd.DataFrame) -> dict:
    """Bout, Summary and TimeBin rows in video frames (bins and latencies from the covered start)."""
    offset = int(row.get("frame_offset") or 0)
    table = bouts.assign(start_frame=bouts["start_frame"] + offset, end_frame=bouts["end_frame"] + offset,
                         start_s=(bouts["start_frame"] + offset) / float(row["fps"]))
    out_bouts = [provenance.jsonable(b) for b in table.to_dict("records")]
    out_summary, bins = [], []
    for s in summary.to_dict("records"):
        s = provenance.jsonable(s)
        window = s.pop("window")
        base = {k: s[k] for k in ("behavior", "agent", "target")}
        base.update(covered_s=s["window_end_s"] - s["window_start_s"], scorable_fraction=s["scorable_fraction"],
                    bout_count=s["bout_count"], total_duration_s=s["total_duration_s"], latency_s=s["latency_s"])
        if window == "all":
            out_summary.append(dict(base, mutual=bool(s["mutual"]), mean_bout_s=s["mean_bout_s"],
                                    median_bout_s=s["median_bout_s"], frames_in_contact=s["frames_in_contact"]))
        else:
            bins.append(dict(base, time_bin=int(window), bin_start_s=s["window_start_s"],
                             bin_end_s=s["window_end_s"]))
    return {"bouts": out_bouts, "summary": out_summary, "bins": bins}
