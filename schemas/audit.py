"""Trace a row back through everything it was made from."""

from __future__ import annotations

import json
import math

import datajoint as dj
from datajoint.user_tables import is_tier

from pipeline.errors import InputError

SKIP = {"positions", "confidence"}  # arrays: shown by shape, not content
SCALARS = (str, int, float)  # lists and dicts would reach the SQL unescaped (DataJoint 2.3.5)


def upstream(table: dj.Table, key: dict) -> list[tuple[str, dict]]:
    """The row of ``table`` at ``key`` and every row it depends on, upstream.

    Parameters
    ----------
    table : datajoint.Table
        A master or part table (an instance).
    key : dict
        Primary-key attributes of ``table`` to scalar values; a partial key
        audits every matching row.

    Returns
    -------
    list of (str, dict)
        (full table name, row) pairs, the rows of ``table`` first, each row
        once, in breadth-first order along the foreign keys. Besides the
        parents, the chain holds the part rows of the audited rows and of
        their parents (not the other parts of an audited part's master), and
        the imported facts of every parent row (``dj.Imported`` tables with
        exactly its primary key, e.g. ``RecordingInfo`` of a ``VideoRecording``).

    Raises
    ------
    InputError
        A key attribute that is not in the table's primary key, or a value
        that is not a scalar.
    """
    check_key(table, key)
    out, seen = [], set()
    frontier = [(table, key, "root")]
    while frontier:
        tbl, restriction, role = frontier.pop(0)
        for row in (tbl & restriction).to_dicts():
            pk = tuple((k, row[k]) for k in tbl.primary_key)
            if (tbl.full_table_name, pk) in seen:
                continue
            seen.add((tbl.full_table_name, pk))
            out.append((tbl.full_table_name, row))
            frontier.extend(_next_steps(tbl, row, role))
    return out


def _next_steps(tbl, row: dict, role: str) -> list[tuple]:
    """(table, restriction, role) of the rows to visit after ``row`` of ``tbl``.

    ``role`` says how the row was reached: "root" (audited), "parent",
    "master" (the master of a visited part row; its other parts are not
    inputs of that row), "part" or "fact" (an imported fact of a parent).
    """
    own = {k: row[k] for k in tbl.primary_key}
    steps = []
    if role in ("root", "parent"):
        steps += [(_free(tbl, name), own, "part") for name in _parts_of(tbl)]
    if role in ("parent", "master"):
        steps += [(_free(tbl, name), own, "fact") for name in imported_facts(tbl)]
    for parent_name, info in tbl.parents(foreign_key_info=True):
        mapping = info["attr_map"]  # child attribute -> parent attribute
        if all(row.get(c) is not None for c in mapping):
            step_role = "master" if _is_part_of(tbl.full_table_name, parent_name) else "parent"
            steps.append((_free(tbl, parent_name), {p: row[c] for c, p in mapping.items()}, step_role))
    return steps


def _free(tbl, name: str) -> dj.FreeTable:
    return dj.FreeTable(tbl.connection, name)


def check_key(table: dj.Table, key: dict) -> None:
    """Refuse a key that names an attribute outside the primary key or has a non-scalar value.

    DataJoint ignores a restriction attribute that the table does not have
    (the audit would silently cover every row), and writes list or dict
    values into the SQL unescaped.

    Raises
    ------
    InputError
        Naming the attribute (and the table's primary key) or the value.
    """
    label = table_label(table.full_table_name)
    if not isinstance(key, dict):
        raise InputError(label, f"a key must be a mapping of attributes to values, got {type(key).__name__}")
    for attr, value in key.items():
        if attr not in table.primary_key:
            raise InputError(label, f"unknown key attribute {attr!r}; the primary key is "
                                    f"{', '.join(table.primary_key)}")
        if (not isinstance(value, SCALARS) or isinstance(value, bool)
                or (isinstance(value, float) and not math.isfinite(value))):
            raise InputError(label, f"the value of {attr!r} must be a single string or number, "
                                    f"got {json.dumps(value, default=str)}")


def imported_facts(table: dj.Table) -> list[str]:
    """Full names of the ``dj.Imported`` children that have exactly the primary key of ``table``.

    They hold facts read from the same input as the row (``RecordingInfo``,
    the checksum and metadata of a ``VideoRecording``'s video).
    """
    names = []
    for name, info in table.children(primary=True, foreign_key_info=True):
        if not is_tier(name.split(".")[-1].strip('`"'), dj.Imported):
            continue
        child = dj.FreeTable(table.connection, name)
        if set(child.primary_key) == set(info["attr_map"]) and set(info["attr_map"].values()) == set(table.primary_key):
            names.append(name)
    return names


def _parts_of(table) -> list[str]:
    """Full names of the part tables of ``table`` (their rows belong to its rows)."""
    return [name for name in table.children() if _is_part_of(name, table.full_table_name)]


def _is_part_of(name: str, master: str) -> bool:
    """Whether the table ``name`` is a part of the table ``master`` (full names)."""
    return name.rstrip('`"').startswith(master.rstrip('`"') + "__")


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
