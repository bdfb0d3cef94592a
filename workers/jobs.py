"""``ethojoint jobs``: the DataJoint 2 jobs tables of the computed tables, and retrying failed jobs.

Each auto-populated table has a jobs table (``~~name``) whose rows are
``pending``, ``reserved`` (a worker is making it), ``error`` (the make raised;
the message is kept), ``ignore``, or ``success`` (only kept when
``dj.config['jobs.keep_completed']`` is on; otherwise a finished job's row is
deleted and the ``rows`` column counts what was made). Error jobs are never
retried by populate until :func:`retry_errors` puts them back to ``pending``.
"""

from __future__ import annotations

import json

from schemas.registry import computed_tables, resolve_table, table_name

STATUSES = ("pending", "reserved", "error", "success", "ignore")


def _tables(table=None) -> list:
    if table is None:
        return computed_tables()
    return [resolve_table(table) if isinstance(table, str) else table]


def summary(table=None) -> list[dict]:
    """Per table: counts by job status, made rows, and the error jobs (key, message, host, pid)."""
    out = []
    for t in _tables(table):
        jobs = t.jobs
        counts = jobs.progress()
        errors = []
        if counts["error"]:
            for row in (jobs.errors).proj("error_message", "host", "pid", "completed_time").to_dicts():
                errors.append({"key": {k: row[k] for k in jobs.primary_key}, "message": row["error_message"],
                               "host": row["host"], "pid": row["pid"], "time": row["completed_time"]})
        out.append({"table": table_name(t), **{s: counts[s] for s in STATUSES}, "rows": len(t()),
                    "errors": errors})
    return out


def format_summary(rows: list[dict]) -> str:
    width = max([len(r["table"]) for r in rows] + [5])
    lines = [f"{'table':<{width}}  " + " ".join(f"{s:>8}" for s in (*STATUSES, "rows"))]
    for r in rows:
        lines.append(f"{r['table']:<{width}}  " + " ".join(f"{r[s]:>8}" for s in (*STATUSES, "rows")))
        for e in r["errors"]:
            lines.append(f"  error {json.dumps(e['key'], default=str)} ({e['host']} pid {e['pid']}): {e['message']}")
    return "\n".join(lines)


def retry_errors(table=None) -> int:
    """Put the error jobs of ``table`` (name or class; all computed tables by default) back to pending.

    Returns how many jobs were re-queued; the next populate or worker pass takes them.
    """
    n = 0
    for t in _tables(table):
        if not t.jobs.is_declared:
            continue
        for key in (t.jobs.errors).keys():  # noqa: SIM118 (DataJoint: the primary keys of the rows)
            n += return_to_pending(t, key)
    return n


def return_to_pending(table, key: dict, *, owner: tuple[str, int] | None = None) -> bool:
    """Put one job back to ``pending`` (from reserved or error), keeping its priority.

    With ``owner`` (host, pid), only if that worker holds it (not if another worker took it since).
    """
    jobs = table.jobs
    pk = {k: key[k] for k in jobs.primary_key}
    qi = jobs.adapter.quote_identifier
    where = " AND ".join(f"{qi(k)}=%s" for k in pk)
    args = list(pk.values())
    if owner is not None:
        where += f" AND {qi('host')}=%s AND {qi('pid')}=%s"
        args += list(owner)
    cursor = jobs.connection.query(
        f"UPDATE {jobs.full_table_name} SET {qi('status')}='pending', {qi('reserved_time')}=NULL, "
        f"{qi('completed_time')}=NULL, {qi('error_message')}='', {qi('error_stack')}=NULL "
        f"WHERE {where} AND {qi('status')} IN ('reserved', 'error')", args=args)
    return cursor.rowcount == 1


def reservations(table=None, *, stale_s: float | None = None, orphan_s: float | None = None) -> list[dict]:
    """Every reserved job: table, key, host, pid, age, heartbeat age (None: no heartbeat) and whether it is stale.

    Stale means a worker would put it back to pending now (see :mod:`workers.heartbeat`).
    """
    from workers.heartbeat import age_expr, beat_age_expr, server_uptime_s, stale_condition, stale_limit_default
    from workers.worker import orphan_timeout_default

    stale_s = stale_limit_default() if stale_s is None else stale_s
    orphan_s = orphan_timeout_default() if orphan_s is None else orphan_s
    out = []
    for t in _tables(table):
        jobs = t.jobs
        if not jobs.is_declared:
            continue
        stale = stale_condition(jobs, stale_s=stale_s, orphan_s=orphan_s, uptime_s=server_uptime_s(jobs.connection))
        reserved_time = f"{jobs.full_table_name}.{jobs.adapter.quote_identifier('reserved_time')}"
        rows = jobs.reserved.proj(
            "host", "pid", age_s=age_expr(jobs.connection, reserved_time),
            beat_age_s=beat_age_expr(jobs), stale=f"CASE WHEN {stale} THEN 1 ELSE 0 END").to_dicts()
        for row in rows:
            beat = row["beat_age_s"]
            out.append({"table": table_name(t), "key": {k: row[k] for k in jobs.primary_key}, "host": row["host"],
                        "pid": row["pid"], "age_s": round(float(row["age_s"]), 1),
                        "heartbeat_age_s": None if beat is None else round(float(beat), 1),
                        "stale": bool(row["stale"])})
    return out


def format_reservations(rows: list[dict]) -> str:
    """One line per reserved job; stale ones (their worker is gone) marked STALE."""
    if not rows:
        return "no reserved jobs"
    lines = ["reserved jobs (host pid, age, heartbeat age):"]
    for r in rows:
        beat = "no heartbeat" if r["heartbeat_age_s"] is None else f"heartbeat {r['heartbeat_age_s']:.0f} s ago"
        mark = "  STALE: goes back to pending on the next worker pass" if r["stale"] else ""
        lines.append(f"  {r['table']} {json.dumps(r['key'], default=str)}: {r['host']} pid {r['pid']}, "
                     f"reserved {r['age_s']:.0f} s ago, {beat}{mark}")
    return "\n".join(lines)
