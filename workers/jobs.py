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
    from workers.worker import return_to_pending

    n = 0
    for t in _tables(table):
        if not t.jobs.is_declared:
            continue
        for key in (t.jobs.errors).keys():  # noqa: SIM118 (DataJoint: the primary keys of the rows)
            n += return_to_pending(t, key)
    return n
