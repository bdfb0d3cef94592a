"""Long-running ``ethojoint worker`` processes coordinated through DataJoint 2's jobs tables.

A worker serves one *stage* (a list of auto-populated tables, in order). Each
pass it refreshes the jobs table of every table of its stage (new keys become
``pending``; reservations older than the orphan timeout go back to
``pending``), then makes pending jobs one at a time with
``table.populate(key, reserve_jobs=True, suppress_errors=True, max_calls=1)``,
most urgent priority first. With nothing to do it sleeps ``poll_s`` and exits
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
Its reservation goes back to ``pending`` once it is older than the orphan
timeout (``orphan_timeout_s``, env ``ETHOJOINT_ORPHAN_TIMEOUT_S``, default 6 h;
set it above your longest job, or a live but slow job would be made twice).
DataJoint 2 has this mechanism (``Table.jobs.refresh(orphan_timeout=...)``) but
it deletes and re-inserts each job, which races between workers; the worker
resets orphans with one conditional UPDATE instead.

Signals. The first SIGTERM or SIGINT lets the current job finish, then the
worker exits 0. (DataJoint's populate installs its own SIGTERM handler that
aborts the make and marks the job ``error``; the worker keeps its own handler
in place during populate instead.) A second signal aborts the job at once:
its transaction is rolled back, the job returns to ``pending`` and the worker
exits 128+signal. No shutdown leaves a job in ``error`` because of a signal.

Logs: one JSON line per job on stderr: ``{"event": "job", "stage", "table",
"key", "status" (success|error), "duration_s", "device" (cpu|cuda:N), "host",
"pid"[, "error"][, "frames", "frames_per_s" for pose inference]}``; plus
``start``, ``orphans``, ``shutdown`` and ``exit`` events.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import signal
import sys
import time

from schemas.registry import computed_tables, resolve_table, table_name

DEFAULT_ORPHAN_TIMEOUT_S = 6 * 3600.0
DEFAULT_POLL_S = 10.0

STAGES: dict[str, list[str]] = {
    "pose": ["pose.PoseEstimation"],
    "train": ["models.ModelTraining"],
    "eval": ["models.ModelEvaluation"],
    "quality": ["quality.FilteredPose", "quality.IdentityCheck", "quality.IdentityCorrection"],
    "behavior": ["behavior.SocialBouts"],
    "calibration": ["calibration.CameraCalibration", "triangulation.Triangulation"],
    # everything a CPU machine should take: no model inference or training
    "analysis": ["recording.RecordingInfo", "quality.FilteredPose", "quality.IdentityCheck",
                 "quality.IdentityCorrection", "calibration.CameraCalibration", "triangulation.Triangulation",
                 "behavior.SocialBouts", "labeling.FrameExtraction",
                 "labeling.LabeledVideo"],
    "all": [],  # every computed table, in schemas.MODULES order (see stage_tables)
}


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


def reset_orphans(table, timeout_s: float) -> list[dict]:
    """Put ``reserved`` jobs older than ``timeout_s`` (server clock) back to ``pending``; return them."""
    jobs = table.jobs
    if not timeout_s or timeout_s <= 0 or not jobs.is_declared:
        return []
    qi, adapter = jobs.adapter.quote_identifier, jobs.adapter
    interval = adapter.interval_expr(max(1, int(round(timeout_s))), "second")
    old = f"{qi('status')}='reserved' AND {qi('reserved_time')} < CURRENT_TIMESTAMP - {interval}"
    found = (jobs & old).proj("host", "pid", "reserved_time").to_dicts()
    if found:  # one conditional UPDATE: safe when several workers reset the same orphans
        jobs.connection.query(
            f"UPDATE {jobs.full_table_name} SET {qi('status')}='pending', {qi('reserved_time')}=NULL WHERE {old}")
    return found


def return_to_pending(table, key: dict) -> bool:
    """Put one job back to ``pending`` (from reserved or error), keeping its priority."""
    jobs = table.jobs
    pk = {k: key[k] for k in jobs.primary_key}
    qi = jobs.adapter.quote_identifier
    where = " AND ".join(f"{qi(k)}=%s" for k in pk)
    cursor = jobs.connection.query(
        f"UPDATE {jobs.full_table_name} SET {qi('status')}='pending', {qi('reserved_time')}=NULL, "
        f"{qi('completed_time')}=NULL, {qi('error_message')}='', {qi('error_stack')}=NULL "
        f"WHERE {where} AND {qi('status')} IN ('reserved', 'error')", args=list(pk.values()))
    return cursor.rowcount == 1


@contextlib.contextmanager
def _keep_our_sigterm_handler():
    """During populate, keep the worker's SIGTERM handler instead of DataJoint's (which marks the job 'error')."""
    from datajoint import autopopulate

    if getattr(autopopulate, "signal", None) is not signal:  # another DataJoint layout: rely on the fallback
        yield
        return

    class _Signal:
        def __getattr__(self, name):
            return getattr(signal, name)

        @staticmethod
        def signal(signum, handler):
            if signum == signal.SIGTERM:
                return signal.getsignal(signum)
            return signal.signal(signum, handler)

    autopopulate.signal = _Signal()
    try:
        yield
    finally:
        autopopulate.signal = signal


class Worker:
    def __init__(self, stage, tables, *, device, poll_s, orphan_timeout_s, max_idle_min, once, priority, logger):
        self.stage, self.tables, self.device = stage, tables, device
        self.poll_s, self.orphan_timeout_s, self.max_idle_min = poll_s, orphan_timeout_s, max_idle_min
        self.once, self.priority, self.log = once, priority, logger
        self.host, self.pid = platform.node(), os.getpid()
        self.stop_signal = None
        self.current = None  # (table, key) being made
        self.errors = 0

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
            orphans = reset_orphans(table, self.orphan_timeout_s)
            if orphans:
                self.emit("orphans", table=table_name(table), count=len(orphans),
                          jobs=orphans)
            if hasattr(table, "refresh_inputs"):  # e.g. SocialBouts registers new pose versions first
                table().refresh_inputs()
            table.jobs.refresh(priority=self.priority)
            tried = []
            while self.stop_signal is None:
                key = self._next_key(table, tried)
                if key is None:
                    break
                tried.append(key)
                done += self._make(table, key)
        return done

    def _next_key(self, table, tried):
        pending = table.jobs.pending & "scheduled_time <= CURRENT_TIMESTAMP(3)"
        if self.priority is not None:
            pending = pending & f"priority <= {int(self.priority)}"
        for key in pending.keys(order_by="priority ASC, scheduled_time ASC", limit=len(tried) + 1):
            if key not in tried:
                return key
        return None

    def _make(self, table, key) -> int:
        started = time.time()
        self.current = (table, key)
        try:
            with _keep_our_sigterm_handler():
                result = table.populate(key, reserve_jobs=True, suppress_errors=True, max_calls=1, processes=1,
                                        refresh=False, priority=self.priority, display_progress=False)
            self.current = None
        except SystemExit:
            # DataJoint's own SIGTERM handler fired (fallback path): the make was aborted and marked 'error'.
            self.current = None
            return_to_pending(table, key)
            self.stop_signal = self.stop_signal or signal.SIGTERM
            self.emit("job", table=table_name(table), key=key, status="interrupted",
                      duration_s=round(time.time() - started, 3))
            return 0
        duration = round(time.time() - started, 3)
        if result["success_count"]:
            self.emit("job", table=table_name(table), key=key, status="success", duration_s=duration,
                      **throughput(table, key))
            return 1
        if result["error_list"]:
            self.errors += 1
            self.emit("job", table=table_name(table), key=key, status="error", duration_s=duration,
                      error=str(result["error_list"][0][1])[:2000])
            return 1
        return 0  # another worker reserved it first, or it was already made

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
            if self.run_pass():
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

    def _sleep(self, seconds):
        end = time.monotonic() + seconds
        while self.stop_signal is None and time.monotonic() < end:
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))


def run_worker(stage: str, *, gpu: int | None = None, max_idle_min: float | None = None,
               poll_s: float = DEFAULT_POLL_S, orphan_timeout_s: float | None = None, once: bool = False,
               priority: int | None = None, logger: logging.Logger | None = None) -> int:
    """Serve ``stage`` until signalled, idle for ``max_idle_min`` minutes, or (``once``) out of work.

    Call after :func:`schemas.activate`. Returns the exit code: 0 (idle, signal,
    or ``once`` without failed jobs), 1 (``once`` with failed jobs), 2 (the
    stage's tables cannot be resolved), 128+signal (aborted by a second signal).
    """
    log = logger or default_logger()
    device = pin_gpu(gpu)
    if orphan_timeout_s is None:
        orphan_timeout_s = orphan_timeout_default()
    try:
        tables = stage_tables(stage)
    except (SystemExit, ImportError, ValueError) as err:
        log.error(json.dumps({"event": "exit", "stage": stage, "reason": f"cannot resolve stage tables: {err}"}))
        return 2
    worker = Worker(stage, tables, device=device, poll_s=poll_s, orphan_timeout_s=orphan_timeout_s,
                    max_idle_min=max_idle_min, once=once, priority=priority, logger=log)
    previous = {s: signal.signal(s, worker.on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    worker.emit("start", tables=[table_name(t) for t in tables], poll_s=poll_s,
                orphan_timeout_s=orphan_timeout_s, max_idle_min=max_idle_min, once=once)
    try:
        return worker.loop()
    except _ForcedStop as stop:
        worker.abort(stop.signum)
        worker.emit("exit", reason="aborted", signal=signal.Signals(stop.signum).name)
        return 128 + stop.signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
