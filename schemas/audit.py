"""Trace a row back through everything it was made from."""

from __future__ import annotations

import json

import datajoint as dj

SKIP = {"positions", "confidence"}  # arrays: shown by shape, not content


def upstream(table: dj.Table, key: dict) -> list[tuple[str, dict]]:
    """The row of ``table`` at ``key`` and every row it depends on, upstream.

    Returns (table name, row) pairs, the row itself first, each upstream row
    once, in breadth-first order along the foreign keys.
    """
    out, seen = [], set()
    frontier = [(table, key)]
    while frontier:
        tbl, restriction = frontier.pop(0)
        for row in (tbl & restriction).to_dicts():
            pk = tuple((k, row[k]) for k in tbl.primary_key)
            if (tbl.full_table_name, pk) in seen:
                continue
            seen.add((tbl.full_table_name, pk))
            out.append((tbl.full_table_name, row))
            own = {k: row[k] for k in tbl.primary_key}
            frontier.extend((dj.FreeTable(tbl.connection, name), own) for name in _parts_of(tbl))
            for parent_name, info in tbl.parents(foreign_key_info=True):
                parent = dj.FreeTable(tbl.connection, parent_name)
                mapping = info["attr_map"]  # child attribute -> parent attribute
                if all(row.get(c) is not None for c in mapping):
                    frontier.append((parent, {p: row[c] for c, p in mapping.items()}))
    return out


def _parts_of(table) -> list[str]:
    """Full names of the part tables of ``table`` (their rows belong to its rows)."""
    master = table.full_table_name.rstrip('`"')
    return [name for name in table.children() if name.rstrip('`"').startswith(master + "__")]


def table_label(full_name: str) -> str:
    """'"p_pose"."_pose_estimation__individual"' → 'p_pose.PoseEstimation.Individual'."""
    from datajoint.utils import to_camel_case

    schema, table = (part.strip('`"') for part in full_name.split("."))
    table = table.lstrip("_#~")
    return schema + "." + ".".join(to_camel_case(t) for t in table.split("__"))


def format_chain(chain: list[tuple[str, dict]]) -> str:
    """Human-readable audit: one block per row, arrays by shape, provenance after the attributes."""
    lines = []
    for depth, (name, row) in enumerate(chain):
        lines.append(("" if depth == 0 else "↑ ") + table_label(name))
        row = dict(row)
        prov = row.pop("provenance", None)
        for attr, value in row.items():
            if attr in SKIP or hasattr(value, "shape"):
                value = f"array {getattr(value, 'shape', '')} {getattr(value, 'dtype', '')}".strip()
            lines.append(f"    {attr}: {value}")
        if prov:
            lines.append("    provenance:")
            for line in json.dumps(prov, indent=2, default=str).splitlines()[1:-1]:
                lines.append("      " + line)
    return "\n".join(lines)
