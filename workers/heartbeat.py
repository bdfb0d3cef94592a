"""Worker heartbeats, and which reservations are orphans.

A worker keeps one row in ``operations.WorkerHeartbeat`` and stamps it every
``beat_s`` seconds (default 10) from a thread with its own database
connection, so a long ``make_compute`` (no database) still beats. A
reservation in a jobs table is **stale** (its worker is dead) when

- its worker (the jobs row's ``host`` and ``pid``) has a heartbeat older than
  the stale limit (``ETHOJOINT_HEARTBEAT_STALE_S``, default 120 s), and the
  database server has been up for longer than that limit (after a server
  restart, live workers get the time to beat again); or
- that heartbeat row was written by a later process with the same host and
  pid (a restarted container) than the one that reserved the job; or
- no heartbeat row exists for it (a job reserved by ``populate()`` outside a
  worker) and it is older than the orphan timeout (hours; see
  :mod:`workers.worker`).

Any worker puts stale reservations back to ``pending`` (one conditional
UPDATE, safe when several do it at once).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading

DEFAULT_BEAT_S = 10.0
DEFAULT_STALE_S = 120.0
FORGET_AFTER_S = 24 * 3600  # heartbeat rows of workers dead this long are deleted


def stale_limit_default() -> float:
    return float(os.environ.get("ETHOJOINT_HEARTBEAT_STALE_S") or DEFAULT_STALE_S)


def _heartbeat_table():
    from schemas.operations import WorkerHeartbeat

    return WorkerHeartbeat


def server_uptime_s(connection) -> float:
    """Seconds since the database server started."""
    if connection.adapter.backend == "mysql":
        return float(connection.query("SHOW GLOBAL STATUS LIKE 'Uptime'").fetchone()[1])
    return float(connection.query("SELECT EXTRACT(EPOCH FROM now() - pg_postmaster_start_time())").fetchone()[0])


def stale_condition(jobs, *, stale_s: float, orphan_s: float, uptime_s: float) -> str:
    """SQL condition on the jobs table (its columns named in full) selecting its stale reservations."""
    hb = _heartbeat_table()
    qi, interval = jobs.adapter.quote_identifier, jobs.adapter.interval_expr
    t = jobs.full_table_name
    same = f"h.{qi('host')} = {t}.{qi('host')} AND h.{qi('pid')} = {t}.{qi('pid')}"
    dead = [f"h.{qi('started_time')} > {t}.{qi('reserved_time')}"]  # a later process with the same host and pid
    if uptime_s > stale_s:
        dead.append(f"h.{qi('beat_time')} < CURRENT_TIMESTAMP(3) - {interval(max(1, round(stale_s)), 'second')}")
    clauses = [f"EXISTS (SELECT 1 FROM {hb.full_table_name} h WHERE {same} AND ({' OR '.join(dead)}))"]
    if orphan_s and orphan_s > 0:
        old = f"{t}.{qi('reserved_time')} < CURRENT_TIMESTAMP(3) - {interval(max(1, round(orphan_s)), 'second')}"
        clauses.append(f"(NOT EXISTS (SELECT 1 FROM {hb.full_table_name} h WHERE {same}) AND {old})")
    return f"{t}.{qi('status')} = 'reserved' AND ({' OR '.join(clauses)})"


def beat_age_expr(jobs) -> str:
    """SQL: seconds since the heartbeat of the worker holding a job (NULL: no heartbeat row)."""
    hb, qi, t = _heartbeat_table(), jobs.adapter.quote_identifier, jobs.full_table_name
    return (f"(SELECT {age_expr(jobs.connection, 'h.' + qi('beat_time'))} FROM {hb.full_table_name} h "
            f"WHERE h.{qi('host')} = {t}.{qi('host')} AND h.{qi('pid')} = {t}.{qi('pid')})")


def age_expr(connection, column: str) -> str:
    """SQL: seconds from ``column`` (a server-clock datetime) to now."""
    if connection.adapter.backend == "mysql":
        return f"TIMESTAMPDIFF(MICROSECOND, {column}, CURRENT_TIMESTAMP(3)) / 1e6"
    return f"EXTRACT(EPOCH FROM (LOCALTIMESTAMP(3) - {column}))"


def reset_stale(table, *, stale_s: float, orphan_s: float) -> list[dict]:
    """Put the stale reservations of ``table``'s jobs back to ``pending``; return them (key, host, pid)."""
    jobs = table.jobs
    if not jobs.is_declared:
        return []
    qi = jobs.adapter.quote_identifier
    where = stale_condition(jobs, stale_s=stale_s, orphan_s=orphan_s, uptime_s=server_uptime_s(jobs.connection))
    rows = jobs.reserved.proj("host", "pid", "reserved_time", stale=f"CASE WHEN {where} THEN 1 ELSE 0 END").to_dicts()
    found = [{k: v for k, v in row.items() if k != "stale"} for row in rows if row["stale"]]
    if found:
        jobs.connection.query(f"UPDATE {jobs.full_table_name} SET {qi('status')}='pending', "
                              f"{qi('reserved_time')}=NULL WHERE {where}")
    return found


class Heartbeat:
    """Keep this worker's heartbeat row fresh from a daemon thread with its own connection.

    Parameters
    ----------
    connection : datajoint.Connection
        The worker's connection; the thread opens another one like it.
    host, pid, stage : str, int, str
        The worker's identity (as the jobs tables record it) and stage.
    beat_s : float, keyword-only
        Seconds between beats.
    """

    def __init__(self, connection, *, host: str, pid: int, stage: str, beat_s: float = DEFAULT_BEAT_S):
        self.main, self.host, self.pid, self.stage, self.beat_s = connection, host, pid, stage, beat_s
        self.job: tuple[str, str | None] = ("", None)  # (table name, key as JSON)
        self._stop, self._now = threading.Event(), threading.Event()
        self._conn = None
        self._thread = threading.Thread(target=self._run, name="ethojoint-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        """Write this worker's row (replacing one left by a dead process with the same host and pid), start beating."""
        hb, qi = _heartbeat_table(), self.main.adapter.quote_identifier
        where = f"{qi('host')}=%s AND {qi('pid')}=%s"
        self.main.query(f"DELETE FROM {hb.full_table_name} WHERE {where}", args=(self.host, self.pid))
        self.main.query(
            f"INSERT INTO {hb.full_table_name} ({qi('host')}, {qi('pid')}, {qi('stage')}, {qi('started_time')}, "
            f"{qi('beat_time')}) VALUES (%s, %s, %s, CURRENT_TIMESTAMP(3), CURRENT_TIMESTAMP(3))",
            args=(self.host, self.pid, self.stage))
        forget = self.main.adapter.interval_expr(FORGET_AFTER_S, "second")
        self.main.query(f"DELETE FROM {hb.full_table_name} WHERE {qi('beat_time')} < CURRENT_TIMESTAMP(3) - {forget}")
        self._thread.start()
        return self

    def set_job(self, table_name: str = "", key: dict | None = None) -> None:
        """Record the job being made (or none) and beat now."""
        self.job = (table_name, None if key is None else json.dumps(key, default=str, sort_keys=True))
        self._now.set()

    def stop(self) -> None:
        """Stop beating and delete the row (a clean exit leaves no heartbeat behind)."""
        self._stop.set()
        self._now.set()
        if self._thread.is_alive():
            self._thread.join(10)
        hb, qi = _heartbeat_table(), self.main.adapter.quote_identifier
        with contextlib.suppress(Exception):  # database gone at exit: the row goes stale and is forgotten later
            self.main.query(f"DELETE FROM {hb.full_table_name} WHERE {qi('host')}=%s AND {qi('pid')}=%s",
                            args=(self.host, self.pid))

    def beat(self) -> None:
        """Stamp the row now (from the thread's own connection, opened on first use and after failures)."""
        if self._conn is None:
            self._conn = _like(self.main)
        hb, qi = _heartbeat_table(), self._conn.adapter.quote_identifier
        table, key = self.job
        cursor = self._conn.query(
            f"UPDATE {hb.full_table_name} SET {qi('beat_time')}=CURRENT_TIMESTAMP(3), {qi('job_table')}=%s, "
            f"{qi('job_key')}=%s WHERE {qi('host')}=%s AND {qi('pid')}=%s", args=(table, key, self.host, self.pid))
        if cursor.rowcount == 0:  # the row was removed (e.g. a restored database): write it again
            self._conn.query(
                f"INSERT INTO {hb.full_table_name} ({qi('host')}, {qi('pid')}, {qi('stage')}, {qi('started_time')}, "
                f"{qi('beat_time')}, {qi('job_table')}, {qi('job_key')}) VALUES "
                "(%s, %s, %s, '2000-01-01 00:00:00', CURRENT_TIMESTAMP(3), %s, %s)",  # not 'later' than our jobs
                args=(self.host, self.pid, self.stage, table, key))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except Exception:  # noqa: BLE001 -- database away: the worker's main loop reports the outage
                self._drop()
            self._now.wait(self.beat_s)
            self._now.clear()
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def _like(connection):
    """A new DataJoint connection to the same server, as the same user, with the same TLS setting."""
    import datajoint as dj

    info = connection.conn_info
    return dj.Connection(info["host"], info["user"], info["passwd"], port=info["port"],
                         use_tls=info.get("ssl_input"), backend=connection.adapter.backend)
