"""Agreement between two bout sources of one recording, read from the database.

A source is named as text:

- ``annotation:ANNOTATOR`` or ``annotation:ANNOTATOR/LABEL_SET`` -- an
  imported :class:`~schemas.annotation.AnnotationSet` (label set ``main``
  by default);
- ``rules:RULE_SET`` or ``rules:RULE_SET@POSE_VERSION`` -- the bouts that
  :class:`~schemas.behavior.SocialBouts` scored with a rule set (by name or
  id). Without ``@``, the recording must have exactly one scored pose version
  of its camera, else the versions are listed to choose from;
- ``classifier:NAME`` or ``classifier:NAME@POSE_VERSION`` -- the bouts that
  :class:`~schemas.prediction.BehaviorPrediction` predicted with a trained
  classifier (a solo behaviour's target, the animal itself there, is read as
  no target, as annotations write it).

Both are compared over the frames both cover (:func:`compare`), with the
measures of :mod:`pipeline.behavior.agreement`. ``ethojoint agreement``
prints a comparison; :class:`AgreementTask` + :class:`Agreement` store one
(``ethojoint agreement ... --store``), for reports and audits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import datajoint as dj
import pandas as pd

from pipeline import provenance
from pipeline.behavior.agreement import BOUT_TABLE, compare_sources, relabel
from pipeline.errors import InputError
from pipeline.manifest_values import safe_id

from . import recording  # noqa: F401  (named by the table definitions)
from .annotation import AnnotationSet
from .annotation_import import recording_frames
from .behavior import SocialBouts, SocialRuleSet

schema = dj.Schema()


def load_source(spec: str, *, session: str, camera: str) -> tuple[pd.DataFrame, tuple[int, int], dict]:
    """(bout table, covered frames [first, end), the rows' key) of one source on one recording."""
    kind, _, name = spec.partition(":")
    if kind == "annotation" and name:
        return _annotation(name, session, camera)
    if kind == "rules" and name:
        return _rules(name, session, camera)
    if kind == "classifier" and name:
        return _classifier(name, session, camera)
    raise InputError(spec, "a source is annotation:ANNOTATOR[/LABEL_SET], rules:RULE_SET[@POSE_VERSION] or "
                           "classifier:NAME[@POSE_VERSION]")


def _annotation(name: str, session: str, camera: str):
    annotator, _, label_set = name.partition("/")
    key = {"session": session, "camera": camera, "annotator": annotator, "label_set": label_set or "main"}
    if not AnnotationSet & key:
        have = (AnnotationSet & {"session": session, "camera": camera}).proj().to_dicts()
        known = ", ".join(f"annotation:{k['annotator']}/{k['label_set']}" for k in have) or "none"
        raise InputError(f"annotation:{name}", f"no annotation set on {session}/{camera} (there: {known})")
    rows = (AnnotationSet.Bout & key).proj("behavior", "agent", "target", "start_frame", "end_frame").to_dicts()
    table = _table(rows)
    _, n_frames = recording_frames(key)
    end = n_frames if n_frames is not None else int(table["end_frame"].max() if len(table) else 0)
    return table, (0, end), key


def _rules(name: str, session: str, camera: str):
    rule_name, _, version = name.partition("@")
    sets = (SocialRuleSet & [{"rule_set_name": rule_name}, {"rule_set": rule_name}]).to_arrays("rule_set")
    if len(sets) != 1:
        known = ", ".join(sorted(SocialRuleSet.to_arrays("rule_set_name")))
        raise InputError(f"rules:{name}", f"{len(sets)} rule sets are called {rule_name!r} (known: {known})")
    return _scored(SocialBouts, {"rule_set": sets[0]}, f"rules:{rule_name}", version, session, camera)


def _classifier(name: str, session: str, camera: str):
    from .prediction import BehaviorPrediction

    clf, _, version = name.partition("@")
    table, span, key = _scored(BehaviorPrediction, {"classifier": clf}, f"classifier:{clf}", version, session, camera)
    solo = table["target"] == table["agent"]
    return table.assign(target=table["target"].where(~solo, "")), span, key  # solo: no target, as annotations


def _scored(scored_table, source: dict, spec: str, version: str, session: str, camera: str):
    """(bout table, covered frames, key) of the one pose version of ``camera`` (or ``version``) a source scored."""
    scored = (scored_table & {"session": session, **source}).proj("n_frames", "frame_offset").to_dicts()
    mine = [r for r in scored if (r["pose_version"] == version if version else
                                  r["pose_version"].startswith(f"{camera}/"))]
    if len(mine) != 1:
        options = ", ".join(f"{spec}@{r['pose_version']}" for r in scored) or "none: populate first"
        raise InputError(spec + (f"@{version}" if version else ""),
                         f"{len(mine)} scored pose versions of {session}/{camera} match; choose one of {options}")
    row = mine[0]
    key = {k: row[k] for k in scored_table.primary_key}
    rows = (scored_table.Bout & key).proj("behavior", "agent", "target", "start_frame", "end_frame").to_dicts()
    return _table(rows), (row["frame_offset"], row["frame_offset"] + row["n_frames"]), key


def _source_fps(spec: str, key: dict) -> float:
    if spec.startswith("annotation:"):
        return (AnnotationSet & key).fetch1("fps")
    if spec.startswith("classifier:"):
        from .prediction import BehaviorPrediction

        return (BehaviorPrediction & key).fetch1("fps")
    return (SocialBouts & key).fetch1("fps")


def _table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(BOUT_TABLE)) if rows else pd.DataFrame(columns=list(BOUT_TABLE))
    return table.assign(agent=table["agent"].fillna(""), target=table["target"].fillna(""))


def fetch_sources(a: str, b: str, *, session: str, camera: str) -> dict:
    """Both sources' bouts (plain rows), covered frames, keys and the frame rate: everything a comparison reads."""
    table_a, span_a, key_a = load_source(a, session=session, camera=camera)
    table_b, span_b, key_b = load_source(b, session=session, camera=camera)
    fps = _source_fps(a, key_a)
    return {"a": a, "b": b, "bouts_a": table_a.to_dict(orient="records"), "bouts_b": table_b.to_dict(orient="records"),
            "span_a": list(span_a), "span_b": list(span_b), "key_a": key_a, "key_b": key_b, "fps": float(fps)}


def compute(sources: dict, *, map_a: Mapping[str, Sequence[str]] | None = None,
            map_b: Mapping[str, Sequence[str]] | None = None, pool_animals: bool = False,
            min_iou: float = 0.5) -> tuple[pd.DataFrame, dict]:
    """The agreement table of fetched sources (no database) and what was compared."""
    span_a, span_b = sources["span_a"], sources["span_b"]
    first, end = max(span_a[0], span_b[0]), min(span_a[1], span_b[1])
    if end <= first:
        raise InputError(f"{sources['a']} vs {sources['b']}", f"they cover no common frames ({span_a} and {span_b})")
    table_a = _within(relabel(_table(sources["bouts_a"]), behaviors=map_a, by_agent=not pool_animals), first, end)
    table_b = _within(relabel(_table(sources["bouts_b"]), behaviors=map_b, by_agent=not pool_animals), first, end)
    result = compare_sources(table_a, table_b, fps=sources["fps"], n_frames=end - first, frame_offset=first,
                             min_iou=min_iou)
    return result, {"a": sources["key_a"], "b": sources["key_b"], "frames": [first, end], "fps": sources["fps"],
                    "map_a": map_a, "map_b": map_b, "pool_animals": pool_animals, "min_iou": min_iou}


def compare(a: str, b: str, *, session: str, camera: str, **options) -> tuple[pd.DataFrame, dict]:
    """Agreement of source ``b`` with the reference ``a`` on one recording: (table, what was compared).

    ``map_a`` / ``map_b`` put a source in a shared vocabulary (new name ->
    the behaviours it pools; the others are dropped); ``pool_animals`` pools
    every agent and target (for labels given without animals); ``min_iou``
    pairs bouts.
    """
    return compute(fetch_sources(a, b, session=session, camera=camera), **options)


def _within(table: pd.DataFrame, first: int, end: int) -> pd.DataFrame:
    """Bouts overlapping the compared frames, clipped to them."""
    keep = table[(table["end_frame"] > first) & (table["start_frame"] < end)]
    return keep.assign(start_frame=keep["start_frame"].clip(lower=first), end_frame=keep["end_frame"].clip(upper=end))


@schema
class AgreementTask(dj.Manual):
    """One row: a comparison asked for -- source B judged against reference A on one recording, with its options.

    ``comparison`` is a uuid of the canonical JSON of (A, B, options), so the
    same request is the same row. Add rows with :meth:`add` (it checks that
    both sources exist).
    """

    definition = """
    -> recording.VideoRecording
    comparison : char(36)
    ---
    source_a : varchar(200)         # annotation:ANNOTATOR[/LABEL_SET] | rules:RULE_SET[@POSE_VERSION]
    source_b : varchar(200)
    options : json                  # map_a, map_b, pool_animals, min_iou
    """

    @classmethod
    def add(cls, a: str, b: str, *, session: str, camera: str, map_a=None, map_b=None, pool_animals: bool = False,
            min_iou: float = 0.5) -> dict:
        """Check both sources, insert the request (idempotent) and return its key."""
        for name in {**(map_a or {}), **(map_b or {})}:
            safe_id(name, "agreement", "behaviour name", "behavior")
        options = {"map_a": map_a, "map_b": map_b, "pool_animals": bool(pool_animals), "min_iou": float(min_iou)}
        compute(fetch_sources(a, b, session=session, camera=camera), **options)  # errors now, not in a worker
        key = {"session": session, "camera": camera, "comparison": provenance.params_hash([a, b, options])}
        cls.insert1({**key, "source_a": a, "source_b": b, "options": options}, skip_duplicates=True)
        return key


@schema
class Agreement(dj.Computed):
    """One row: the agreement computed for one :class:`AgreementTask`; ``Behavior`` holds the measures.

    ``provenance`` names the compared rows (annotation set, or pose version
    and rule set) and the frames compared. Undefined measures are null.
    """

    definition = """
    -> AgreementTask
    ---
    first_frame : int32             # video frames compared: [first_frame, end_frame)
    end_frame : int32
    fps : float64
    inputs_hash : char(36)          # uuid of both sources' bouts and frames as compared (see is_stale)
    provenance : json
    """

    class Behavior(dj.Part):
        """One row: one behaviour and agent -> target ('' = pooled or none): every measure of the comparison."""

        definition = """
        -> master
        behavior : varchar(32)
        agent : varchar(32)
        target : varchar(32)
        ---
        n_frames : int32
        precision = null : float64
        recall = null : float64
        f1 = null : float64
        kappa = null : float64
        accuracy = null : float64
        matched : int32
        bout_precision = null : float64
        bout_recall = null : float64
        bout_f1 = null : float64
        n_bouts_a : int32
        n_bouts_b : int32
        time_s_a : float64
        time_s_b : float64
        mean_bout_s_a = null : float64
        mean_bout_s_b = null : float64
        """

    def make_fetch(self, key):
        task = (AgreementTask & key).fetch1()
        return task["options"], fetch_sources(task["source_a"], task["source_b"], session=key["session"],
                                              camera=key["camera"])

    def make_compute(self, key, options, sources):
        table, meta = compute(sources, **options)
        columns = [c for c in table.columns if c in _MEASURES]
        parts = [{**key, **{c: _value(row[c]) for c in columns}} for row in table.to_dict(orient="records")]
        master = {**key, "first_frame": meta["frames"][0], "end_frame": meta["frames"][1], "fps": meta["fps"],
                  "inputs_hash": inputs_hash(sources), "provenance": provenance.record(params=meta)}
        return master, parts

    def make_insert(self, key, master, parts):
        self.insert1(master)
        self.Behavior.insert(parts)


def inputs_hash(sources: dict) -> str:
    """uuid of what a comparison read (both sources' bouts, frames, keys, fps)."""
    return provenance.params_hash(json.loads(json.dumps(sources, default=str)))


def is_stale(key: Mapping) -> bool:
    """True when a stored agreement's sources changed since (re-scored, re-imported or deleted)."""
    key = {k: key[k] for k in AgreementTask.primary_key}
    task = (AgreementTask & key).fetch1()
    try:
        now = fetch_sources(task["source_a"], task["source_b"], session=task["session"], camera=task["camera"])
    except InputError:
        return True  # a source is gone
    return (Agreement & key).fetch1("inputs_hash") != inputs_hash(now)


def store(a: str, b: str, *, session: str, camera: str, **options) -> tuple[dict, str]:
    """Store a comparison: (its key, 'stored' | 'already stored' | 'recomputed: its sources changed')."""
    key = AgreementTask.add(a, b, session=session, camera=camera, **options)
    status = "stored"
    if Agreement & key:
        if not is_stale(key):
            return key, "already stored"
        (Agreement & key).delete(prompt=False)
        status = "recomputed: its sources changed since it was stored"
    Agreement.populate(key)
    return key, status


_MEASURES = ("behavior", "agent", "target", "n_frames", "precision", "recall", "f1", "kappa", "accuracy", "matched",
             "bout_precision", "bout_recall", "bout_f1", "n_bouts_a", "n_bouts_b", "time_s_a", "time_s_b",
             "mean_bout_s_a", "mean_bout_s_b")


def _value(value):
    """NaN -> None (null); numpy scalars -> Python."""
    if isinstance(value, str):
        return value
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and math.isnan(value) else value
