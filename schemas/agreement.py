"""Agreement between two bout sources of one recording, read from the database.

A source is named as text:

- ``annotation:ANNOTATOR`` or ``annotation:ANNOTATOR/LABEL_SET`` -- an
  imported :class:`~schemas.annotation.AnnotationSet` (label set ``main``
  by default);
- ``rules:RULE_SET`` or ``rules:RULE_SET@POSE_VERSION`` -- the bouts that
  :class:`~schemas.behavior.SocialBouts` scored with a rule set (by name or
  id). Without ``@``, the recording must have exactly one scored pose version
  of its camera, else the versions are listed to choose from.

Both are compared over the frames both cover (:func:`compare`), with the
measures of :mod:`pipeline.behavior.agreement`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from pipeline.behavior.agreement import BOUT_TABLE, compare_sources, relabel
from pipeline.errors import InputError

from .annotation import AnnotationSet
from .annotation_import import recording_frames
from .behavior import SocialBouts, SocialRuleSet


def load_source(spec: str, *, session: str, camera: str) -> tuple[pd.DataFrame, tuple[int, int], dict]:
    """(bout table, covered frames [first, end), the rows' key) of one source on one recording."""
    kind, _, name = spec.partition(":")
    if kind == "annotation" and name:
        return _annotation(name, session, camera)
    if kind == "rules" and name:
        return _rules(name, session, camera)
    raise InputError(spec, "a source is annotation:ANNOTATOR[/LABEL_SET] or rules:RULE_SET[@POSE_VERSION]")


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
    scored = (SocialBouts & {"session": session, "rule_set": sets[0]}).to_dicts()
    mine = [r for r in scored if (r["pose_version"] == version if version else
                                  r["pose_version"].startswith(f"{camera}/"))]
    if len(mine) != 1:
        options = ", ".join(f"rules:{rule_name}@{r['pose_version']}" for r in scored) or "none: populate first"
        raise InputError(f"rules:{name}", f"{len(mine)} scored pose versions of {session}/{camera} match; "
                                          f"choose one of {options}")
    row = mine[0]
    key = {k: row[k] for k in ("session", "pose_version", "rule_set")}
    rows = (SocialBouts.Bout & key).proj("behavior", "agent", "target", "start_frame", "end_frame").to_dicts()
    return _table(rows), (row["frame_offset"], row["frame_offset"] + row["n_frames"]), key


def _table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(BOUT_TABLE)) if rows else pd.DataFrame(columns=list(BOUT_TABLE))
    return table.assign(agent=table["agent"].fillna(""), target=table["target"].fillna(""))


def compare(a: str, b: str, *, session: str, camera: str, map_a: Mapping[str, Sequence[str]] | None = None,
            map_b: Mapping[str, Sequence[str]] | None = None, pool_animals: bool = False,
            min_iou: float = 0.5) -> tuple[pd.DataFrame, dict]:
    """Agreement of source ``b`` with the reference ``a`` on one recording: (table, what was compared).

    ``map_a`` / ``map_b`` put a source in a shared vocabulary (new name ->
    the behaviours it pools; the others are dropped); ``pool_animals`` pools
    every agent and target (for labels given without animals).
    """
    table_a, span_a, key_a = load_source(a, session=session, camera=camera)
    table_b, span_b, key_b = load_source(b, session=session, camera=camera)
    first, end = max(span_a[0], span_b[0]), min(span_a[1], span_b[1])
    if end <= first:
        raise InputError(f"{a} vs {b}", f"they cover no common frames ({span_a} and {span_b})")
    fps = (AnnotationSet & key_a).fetch1("fps") if a.startswith("annotation:") else \
        (SocialBouts & key_a).fetch1("fps")
    table_a = _within(relabel(table_a, behaviors=map_a, by_agent=not pool_animals), first, end)
    table_b = _within(relabel(table_b, behaviors=map_b, by_agent=not pool_animals), first, end)
    result = compare_sources(table_a, table_b, fps=fps, n_frames=end - first, frame_offset=first, min_iou=min_iou)
    return result, {"a": key_a, "b": key_b, "frames": [first, end], "fps": fps, "map_a": map_a, "map_b": map_b,
                    "pool_animals": pool_animals, "min_iou": min_iou}


def _within(table: pd.DataFrame, first: int, end: int) -> pd.DataFrame:
    """Bouts overlapping the compared frames, clipped to them."""
    keep = table[(table["end_frame"] > first) & (table["start_frame"] < end)]
    return keep.assign(start_frame=keep["start_frame"].clip(lower=first), end_frame=keep["end_frame"].clip(upper=end))
