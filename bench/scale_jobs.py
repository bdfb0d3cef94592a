"""Job overhead for ``bench_scale.py``: a queue of N trivial jobs served by 1 and by 2 ``Worker`` processes.

The table (``<prefix>benchjobs.BenchJob``, one ``insert1`` per key) makes
nothing, so a worker's time per job is the overhead: choosing a key,
reserving it in the jobs table, populate's own bookkeeping (key source
check, transaction, completion). Each worker is a process of its own
(``python bench/scale_jobs.py worker ...``) running :class:`workers.worker.Worker`
with ``once``; it prints its first-job and last-job times, so the process
start-up is not counted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_TABLES: dict = {}


def declare(prefix: str, connection):
    """The bench's queue tables under ``prefix`` (dropped with the prefix)."""
    import datajoint as dj

    if "job" in _TABLES:
        return _TABLES["key"], _TABLES["job"]
    schema = dj.Schema(prefix + "benchjobs", connection=connection)

    @schema
    class BenchKey(dj.Manual):
        definition = "job_id : int32"

    @schema
    class BenchJob(dj.Computed):
        definition = "-> BenchKey\n---\nmade_by : int32"

        def make(self, key):
            self.insert1(dict(key, made_by=os.getpid()))

    _TABLES.update(key=BenchKey, job=BenchJob)
    return BenchKey, BenchJob


def fill(prefix: str, connection, n: int) -> dict:
    """An empty queue of ``n`` pending jobs; returns the seconds that inserting keys and refreshing took."""
    key, job = declare(prefix, connection)
    job.jobs.delete_quick()
    job.delete_quick()
    key.delete_quick()
    started = time.perf_counter()
    key.insert(({"job_id": i} for i in range(n)), skip_duplicates=True)
    inserted = time.perf_counter()
    job.jobs.refresh()
    return {"insert_keys_s": inserted - started, "refresh_s": time.perf_counter() - inserted}


class _Timed(logging.Handler):
    """Collects the worker's job events: first start, last end, count."""

    def __init__(self):
        super().__init__()
        self.first = self.last = None
        self.jobs = 0

    def emit(self, record):
        event = json.loads(record.getMessage())
        if event["event"] == "job_start" and self.first is None:
            self.first = event["time"]
        elif event["event"] == "job":
            self.jobs += 1
            self.last = event["time"]


def serve(prefix: str, profile: str | None = None) -> dict:
    """Run one worker over the queue until it is empty (in this process); its timings."""
    import schemas
    from workers.worker import Worker

    connection = schemas.activate(prefix)
    _, job = declare(prefix, connection)
    log = logging.getLogger(f"bench.worker.{os.getpid()}")
    log.propagate = False
    log.setLevel(logging.INFO)
    timed = _Timed()
    log.addHandler(timed)
    worker = Worker("bench", [job], device="cpu", poll_s=0.2, orphan_timeout_s=3600.0, max_idle_min=None,
                    once=True, priority=None, logger=log)
    if profile:
        import cProfile

        cProfile.runctx("worker.loop()", globals(), {"worker": worker}, profile)
    else:
        worker.loop()
    return {"first": timed.first, "last": timed.last, "jobs": timed.jobs, "pid": os.getpid()}


def run_workers(prefix: str, n_workers: int, env: dict, *, profile: str | None = None) -> dict:
    """Start ``n_workers`` worker processes on the filled queue; wall time from first job to last."""
    cmd = [sys.executable, __file__, "worker", "--prefix", prefix]
    procs = [subprocess.Popen(cmd + (["--profile", f"{profile}.{i}"] if profile else []), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(n_workers)]
    results = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"bench worker failed ({p.returncode}): {err[-2000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    done = [r for r in results if r["jobs"]]
    wall = max(r["last"] for r in done) - min(r["first"] for r in done) if done else float("nan")
    return {"wall_s": wall, "jobs": sum(r["jobs"] for r in results), "per_worker": [r["jobs"] for r in results]}


def measure(prefix: str, connection, n: int, env: dict) -> dict:
    """Per-job overhead with one worker, then throughput of two workers relative to one, on ``n`` jobs."""
    _, job = declare(prefix, connection)
    filled = fill(prefix, connection, n)
    one = run_workers(prefix, 1, env)
    made_once = len(job()) == n
    fill(prefix, connection, n)
    two = run_workers(prefix, 2, env)
    made_twice = len(job()) == n and len(job.jobs.pending) == 0
    return {"n": n, **filled, "one": one, "two": two, "complete": made_once and made_twice,
            "per_job_s": one["wall_s"] / max(one["jobs"], 1),
            "speedup": (one["wall_s"] / one["jobs"]) / (two["wall_s"] / two["jobs"]) if two["jobs"] else float("nan")}


def main() -> int:
    parser = argparse.ArgumentParser(description="one bench worker over the trivial queue (used by bench_scale)")
    parser.add_argument("action", choices=["worker"])
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--profile", default=None, help="write a cProfile of the worker's loop here")
    args = parser.parse_args()
    print(json.dumps(serve(args.prefix, args.profile)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
