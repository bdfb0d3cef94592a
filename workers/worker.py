"""Long-running ``ethojoint worker`` processes coordinated through DataJoint 2's jobs tables.

A worker serves one *stage* (a list of auto-populated tables, in order). Each
pass it refreshes the jobs table of every table of its stage (new keys become
``pending``; reservations older than the orphan timeout go back to
``pending``), then makes pending jobs one at a time, most urgent priority
first (one of the first ``PICK_AMONG`` at random, so that workers do not all
race for one job): it reserves the key (``jobs.reserve``), logs
``job_start``, runs ``table.populate(key, reserve_jobs=False,
suppress_errors=True)`` and marks the job complete or failed. With nothing
to do it sleeps ``poll_s`` and exits
after ``max_idle_min`` minutes without work (never, by default).

Run as many workers as you like, on as many hosts: the jobs tables make sure
each key is made once. GPUs: run **one worker process per GPU**
(``ethojoint worker --stage pose --gpu 0``, ``... --gpu 1``); ``--gpu N`` sets
``CUDA_VISIBLE_DEVICES=N`` before anything can import torch, so inside the
process the card is ``cuda:0``. Never use ``populate(processes>1)`` with CUDA
(forked children cannot share a CUDA context); the worker always runs
``processes=1``.

Dead workers. A worker killed mid-job (SIGKILL, OOM, power loss) leaves its job
``reserved`` and rolls back its open transaction, so no partial row is left.
Every worker stamps a heartbeat (``operations.WorkerHeartbeat``, every 10 s,
from a thread of its own); a reservation whose worker has not beaten for the
stale limit (``--stale-after`` / ``ETHOJOINT_HEARTBEAT_STALE_S``, default
120 s) goes back to ``pending`` (see :mod:`workers.heartbeat`). Reservations
without a heartbeat (``populate(reserve_jobs=True)`` run outside a worker) go
back after the orphan timeout (``orphan_timeout_s``, env
``ETHOJOINT_ORPHAN_TIMEOUT_S``, default 6 h). DataJoint 2's own
``jobs.refresh(orphan_timeout=...)`` deletes and re-inserts each job, which
races between workers; the worker resets them with one conditional UPDATE.

Database outages. A worker that loses its connection (server restart, network)
logs one ``db_lost`` event, retries with backoff for ``ETHOJOINT_DB_RETRY_S``
seconds (default 900; see :mod:`workers.outage`), logs ``db_back``, puts the
job it was making back to ``pending`` (or marks it done if its rows were
committed) and goes on. An idle worker simply waits. After the retry time it
exits 3 with an ``exit`` event.

Signals. The first SIGTERM or SIGINT lets the current job finish, then the
worker exits 0. (The worker holds the reservation itself, so DataJoint's
populate installs no SIGTERM handler of its own.) A second signal aborts the
job at once: its transaction is rolled back, the job returns to ``pending``
and the worker exits 128+signal. No shutdown leaves a job in ``error``
because of a signal.

Logs: one JSON line per job on stderr: ``{"event": "job", "stage", "table",
"key", "status" (success|error), "duration_s", "device" (cpu|cuda:N), "host",
"pid"[, "error"][, "frames", "frames_per_s" for pose inference]}``; plus
``start``, ``job_start`` (each job, once reserved), ``orphans``, ``db_lost``, ``db_back``, ``shutdown`` and ``exit``
events.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import random
import signal
import sys
import time
import traceback

from schemas.registry import computed_tables, resolve_table, table_name
from workers import heartbeat, outage
from workers.jobs import return_to_pending
from workers.stages import DEFAULT_POLL_S, STAGES

DEFAULT_ORPHAN_TIMEOUT_S = 6 * 3600.0
PICK_AMONG = 8  # a worker takes one of the first k pending jobs at random


class _ForcedStop(BaseException):
    """Second signal: abort the current job. Not an Exception, so DataJoint does not mark the job 'error'."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class _Stderr(logging.Handler):
    """Write to whatever sys.stderr is now (pytest swaps it)."""

    def emit(self, record):
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # pragma: no cover
            self.handleError(record)


def default_logger() -> logging.Logger:
    log = logging.getLogger("ethojoint.worker")
    if not log.handlers:
        log.addHandler(_Stderr())
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def stage_tables(stage: str) -> list:
    """The table classes of ``stage``, resolved now (a missing module only breaks its own stage)."""

    stages = [s.strip() for s in stage.split(",") if s.strip()]  # e.g. "train,eval"
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        raise ValueError(f"unknown stage(s) {unknown or stage!r}; known: {sorted(STAGES)}")
    if "all" in stages:
        return computed_tables()
    return [resolve_table(name) for s in stages for name in STAGES[s]]


def throughput(table, key) -> dict:
    """frames and frames/s of a finished pose job (model inference records them in its provenance)."""
    try:
        wanted = [c for c in ("n_frames", "provenance") if c in table.heading.names]
        row = (table & key).proj(*wanted).fetch1() if wanted else {}
    except Exception:  # noqa: BLE001 -- a log line must never fail a job
        return {}
    params = (row.get("provenance") or {}).get("params") or {}
    out = {"frames": row["n_frames"]} if "n_frames" in row else {}
    if params.get("frames_per_s"):
        out.update(frames_per_s=params["frames_per_s"], inference_device=params.get("device"))
    return out


def pin_gpu(gpu) -> str:
    """Set CUDA_VISIBLE_DEVICES (before torch is imported) and return the log's device name."""
    if gpu is None:
        return "cpu"
    if "torch" in sys.modules and os.environ.get("CUDA_VISIBLE_DEVICES") != str(gpu):
        raise RuntimeError("torch was imported before --gpu could set CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    return f"cuda:{gpu}"


def orphan_timeout_default() -> float:
    return float(os.environ.get("ETHOJOINT_ORPHAN_TIMEOUT_S") or DEFAULT_ORPHAN_TIMEOUT_S)


class _DatabaseLost(Exception):
    """A make failed because the connection was lost (DataJoint reported it as the job's error)."""


class Worker:
    def __init__(self, stage, tables, *, device, poll_s, orphan_timeout_s, max_idle_min, once, priority, logger,
                 stale_s=heartbeat.DEFAULT_STALE_S, retry_s=outage.DEFAULT_RETRY_S):
        self.stage, self.tables, self.device = stage, tables, device
        self.poll_s, self.orphan_timeout_s, self.max_idle_min = poll_s, orphan_timeout_s, max_idle_min
        self.stale_s, self.retry_s = stale_s, retry_s
        self.once, self.priority, self.log = once, priority, logger
        self.host, self.pid = platform.node(), os.getpid()
        self.stop_signal = None
        self.current = None  # (table, key) being made
        self.beat = None  # the Heartbeat, once started
        self.errors = 0
        self._instances = {}  # table -> one instance: its jobs table (and headings) are loaded once, not per job

    def instance(self, table):
        """The worker's instance of ``table`` (``table.jobs`` on the class builds a new jobs object: ~6 queries)."""
        if table not in self._instances:
            self._instances[table] = table()
        return self._instances[table]

    def emit(self, event: str, **fields):
        self.log.info(json.dumps({"event": event, "stage": self.stage, **fields, "device": self.device,
                                  "host": self.host, "pid": self.pid, "time": round(time.time(), 3)},
                                 default=str))

    def on_signal(self, signum, frame):
        if self.stop_signal is None:
            self.stop_signal = signum  # finish the current job, then exit 0
            return
        raise _ForcedStop(signum)

    # -- one pass ---------------------------------------------------------------
    def run_pass(self) -> int:
        """Make every pending job of the stage's tables once; return how many jobs were made (or failed)."""
        done = 0
        for table in self.tables:
            if self.stop_signal is not None:
                break
            orphans = heartbeat.reset_stale(table, stale_s=self.stale_s, orphan_s=self.orphan_timeout_s)
            if orphans:
                self.emit("orphans", table=table_name(table), count=len(orphans),
                          jobs=orphans)
            if hasattr(table, "refresh_inputs"):  # e.g. SocialBouts registers new pose versions first
                table().refresh_inputs()
            table.jobs.refresh(priority=self.priority)
            stuck = set()  # keys tried this pass that stayed pending (populate made nothing): skipped
            while self.stop_signal is None:
                key = self._next_key(table, stuck)
                if key is None:
                    break
                made = self._make(table, key)
                done += made
                if not made:
                    stuck.add(tuple(sorted(key.items())))
        return done

    def _next_key(self, table, stuck: set):
        """One of the first PICK_AMONG pending jobs of the most urgent priority, at random (None: none left).

        Taking the very first one would make every worker race for the same job.
        """
        jobs = self.instance(table).jobs
        pending = jobs.pending & "scheduled_time <= CURRENT_TIMESTAMP(3)"
        if self.priority is not None:
            pending = pending & f"priority <= {int(self.priority)}"
        pk = jobs.primary_key
        rows = pending.proj("priority").to_dicts(order_by="priority ASC, scheduled_time ASC",
                                                 limit=PICK_AMONG + len(stuck))
        keys = [({k: r[k] for k in pk}, r["priority"]) for r in rows]
        keys = [(key, p) for key, p in keys if tuple(sorted(key.items())) not in stuck][:PICK_AMONG]
        if not keys:
            return None
        return random.choice([key for key, p in keys if p == keys[0][1]])

    def _make(self, table, key) -> int:
        """Reserve ``key``, make it (no DataJoint reservation: ours is already held), record the outcome."""
        jobs = self.instance(table).jobs
        if not jobs.reserve(key):
            return 0  # another worker reserved it first
        started = time.time()
        self._doing(table, key)
        self.emit("job_start", table=table_name(table), key=key)  # reserved: the job is this worker's now
        result = self.instance(table).populate(key, reserve_jobs=False, suppress_errors=True, max_calls=1,
                                               processes=1, display_progress=False, return_exception_objects=True)
        error = result["error_list"][0][1] if result["error_list"] else None
        if error is not None and outage.is_connection_error(error):
            raise _DatabaseLost(str(error)) from error
        self._doing(None, None)
        duration = round(time.time() - started, 3)
        if error is not None:
            self.errors += 1
            jobs.error(key, error_message=f"{type(error).__name__}: {error}",
                             error_stack="".join(traceback.format_exception(error)))
            self.emit("job", table=table_name(table), key=key, status="error", duration_s=duration,
                      error=str(error)[:2000])
            return 1
        jobs.complete(key, duration=duration)
        if result["success_count"]:
            self.emit("job", table=table_name(table), key=key, status="success", duration_s=duration,
                      **throughput(table, key))
            return 1
        return 0  # made already (by populate outside a worker)

    def _doing(self, table, key) -> None:
        self.current = None if table is None else (table, key)
        if self.beat is not None:
            self.beat.set_job(table_name(table) if table is not None else "", key)

    # -- database outages ---------------------------------------------------------
    def survive(self, err: Exception) -> bool:
        """After a failed pass: wait out a lost database (True: back, go on); re-raise anything else."""
        connection = self.tables[0].connection
        if not outage.is_connection_error(err) and outage.reachable(connection):
            raise err
        job = self.current and {"table": table_name(self.current[0]), "key": self.current[1]}
        self.emit("db_lost", error=" ".join(str(err).split())[:500], job=job, retry_s=self.retry_s)
        waited = outage.wait_for_database(connection, give_up_s=self.retry_s, sleep=self._sleep)
        if waited is None:
            return self.stop_signal is not None  # a signal while waiting: shut down as usual
        self.emit("db_back", outage_s=waited)
        self._instances.clear()  # table instances cached before the outage may hold state of the lost connection
        self.settle_interrupted()
        return True

    def settle_interrupted(self) -> None:
        """The job cut off by the outage: done if its rows were committed, else back to pending."""
        if self.current is None:
            return
        table, key = self.current
        self._doing(None, None)
        if len(table & key):  # committed before the connection went: only the job's bookkeeping was lost
            (table.jobs & key & {"host": self.host, "pid": self.pid}).delete_quick()
            self.emit("job", table=table_name(table), key=key, status="success", note="committed before the outage")
            return
        returned = return_to_pending(table, key, owner=(self.host, self.pid))
        self.emit("job", table=table_name(table), key=key, status="interrupted", reason="database connection lost",
                  returned_to_pending=returned)

    def abort(self, signum):
        """Second signal: roll back the current make and return its job to pending."""
        table, key = self.current if self.current else (None, None)
        if table is None:
            return
        conn = table.connection
        try:
            if conn.in_transaction:
                conn.cancel_transaction()
            return_to_pending(table, key)
        except Exception:  # the connection may be unusable mid-query: use a fresh one
            try:
                conn.connect()
                return_to_pending(table, key)
            except Exception as err:  # the orphan timeout will recover it
                self.emit("abort_failed", table=table_name(table), key=key, error=str(err))
                return
        self.emit("job", table=table_name(table), key=key, status="interrupted", signal=signal.Signals(signum).name)

    # -- main loop --------------------------------------------------------------
    def loop(self) -> int:
        last_work = time.monotonic()
        while self.stop_signal is None:
            try:
                worked = self.run_pass()
            except Exception as err:  # noqa: BLE001 -- survive() re-raises all but a lost database
                if self.survive(err):
                    continue
                self.emit("exit", reason="database unreachable", retry_s=self.retry_s)
                return 3
            if worked:
                last_work = time.monotonic()
                continue
            if self.once:
                break
            if self.max_idle_min is not None and time.monotonic() - last_work >= self.max_idle_min * 60:
                self.emit("exit", reason="idle", idle_min=self.max_idle_min)
                return 0
            self._sleep(self.poll_s)
        if self.stop_signal is not None:
            self.emit("shutdown", signal=signal.Signals(self.stop_signal).name)
        if self.once:
            self.emit("exit", reason="once", errors=self.errors)
            return 1 if self.errors and self.stop_signal is None else 0
        return 0

    def _sleep(self, seconds) -> bool:
        """Sleep, returning early (False) on a stop signal."""
        end = time.monotonic() + seconds
        while self.stop_signal is None and time.monotonic() < end:
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))
        return self.stop_signal is None


def run_worker(stage: str, *, gpu: int | None = None, max_idle_min: float | None = None,
               poll_s: float = DEFAULT_POLL_S, orphan_timeout_s: float | None = None, once: bool = False,
               priority: int | None = None, logger: logging.Logger | None = None, stale_s: float | None = None,
               retry_s: float | None = None, beat_s: float = heartbeat.DEFAULT_BEAT_S) -> int:
    """Serve ``stage`` until signalled, idle for ``max_idle_min`` minutes, or (``once``) out of work.

    Call after :func:`schemas.activate`. Returns the exit code: 0 (idle, signal,
    or ``once`` without failed jobs), 1 (``once`` with failed jobs), 2 (the
    stage's tables cannot be resolved), 3 (the database stayed unreachable for
    ``retry_s`` seconds), 128+signal (aborted by a second signal).
    """
    log = logger or default_logger()
    device = pin_gpu(gpu)
    orphan_timeout_s = orphan_timeout_default() if orphan_timeout_s is None else orphan_timeout_s
    stale_s = heartbeat.stale_limit_default() if stale_s is None else stale_s
    retry_s = outage.retry_default() if retry_s is None else retry_s
    try:
        tables = stage_tables(stage)
    except (SystemExit, ImportError, ValueError) as err:
        log.error(json.dumps({"event": "exit", "stage": stage, "reason": f"cannot resolve stage tables: {err}"}))
        return 2
    worker = Worker(stage, tables, device=device, poll_s=poll_s, orphan_timeout_s=orphan_timeout_s,
                    max_idle_min=max_idle_min, once=once, priority=priority, logger=log, stale_s=stale_s,
                    retry_s=retry_s)
    previous = {s: signal.signal(s, worker.on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    worker.beat = heartbeat.Heartbeat(tables[0].connection, host=worker.host, pid=worker.pid, stage=stage,
                                      beat_s=beat_s).start()
    worker.emit("start", tables=[table_name(t) for t in tables], poll_s=poll_s, orphan_timeout_s=orphan_timeout_s,
                stale_s=stale_s, beat_s=beat_s, retry_s=retry_s, max_idle_min=max_idle_min, once=once)
    try:
        return worker.loop()
    except _ForcedStop as stop:
        worker.abort(stop.signum)
        worker.emit("exit", reason="aborted", signal=signal.Signals(stop.signum).name)
        return 128 + stop.signum
    finally:
        worker.beat.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
