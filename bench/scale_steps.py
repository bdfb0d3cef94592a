"""The measures of ``bench_scale.py`` on one backend (already activated under the bench's prefix)."""

from __future__ import annotations

import contextlib
import cProfile
import io
import subprocess
import sys
import time
from pathlib import Path

from bench import scale_data, scale_jobs
from bench.scale_report import Row, bound_line, fmt, merge_profiles

INGEST_TARGET_S = 2.0      # P3: one-hour two-animal pose file, per file
JOB_TARGET_S = 0.050       # P5: reserve + bookkeeping per job
SPEEDUP_TARGET = 1.8       # two workers vs one
GROUP_TARGET_S = 1.0       # P6: per-animal group statistics over 1,000 sessions
STATUS_TARGET_S = 2.0      # ethojoint db status
LAB_HOURS = 1000.0         # 1,000 one-hour sessions


class Steps:
    def __init__(self, args, backend: str, prefix: str, env: dict, work: Path, profiles: Path):
        self.args, self.backend, self.prefix, self.env, self.work = args, backend, prefix, env, work
        self.profiles = profiles
        profiles.mkdir(parents=True, exist_ok=True)

    def run_all(self, connection) -> list[Row]:
        rows = [self.startup()]
        rows += self.ingest_one()
        rows += self.ingest_many()
        rows += self.scoring()
        rows += self.group_query()
        rows += self.jobs(connection)
        return rows

    # -- helpers ----------------------------------------------------------------
    def _profile_path(self, name: str) -> Path:
        return self.profiles / f"{self.backend}_{name}.prof"

    def cli(self, *argv, profile: str | None = None) -> tuple[float, str]:
        """Wall seconds of one ``ethojoint`` command (a process of its own) and its output."""
        cmd = [sys.executable]
        if profile:
            cmd += ["-m", "cProfile", "-o", str(self._profile_path(profile))]
        cmd += ["-m", "workers.cli", "--prefix", self.prefix, *argv]
        started = time.perf_counter()
        done = subprocess.run(cmd, env=self.env, cwd=self.work, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-3000:]}")
        return wall, done.stdout

    def profiled(self, name: str, func):
        """Run ``func`` under cProfile; the 'bounded by' line."""
        path = self._profile_path(name)
        profiler = cProfile.Profile()
        profiler.runcall(func)
        profiler.dump_stats(str(path))
        return bound_line(path)

    # -- the measures -------------------------------------------------------------
    def startup(self) -> Row:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import schemas"], env=self.env, cwd=self.work, check=True)
        return Row("CLI start-up: import schemas", fmt(time.perf_counter() - started, "s"), "(part of each command)")

    def ingest_one(self) -> list[Row]:
        files = scale_data.pose_files(1, minutes=60.0, distinct=1, seed=11)
        manifest = scale_data.manifest(files, tag="one", folder=self.work)
        first, _ = self.cli("ingest", str(manifest), "--quiet")
        again, out = self.cli("ingest", str(manifest), "--quiet")
        rows = [Row("ingest 1 file (1 h, 2 animals), CLI wall", fmt(first, "s"), f"<= {INGEST_TARGET_S:g} s/file",
                    first <= INGEST_TARGET_S),
                Row("  its no-op re-run, CLI wall", fmt(again, "s"), f"<= {INGEST_TARGET_S:g} s, no re-read",
                    again <= INGEST_TARGET_S and "unchanged since it was read" in out)]
        if not rows[0].ok:  # what bounds it: profile a fresh session's ingest through the command
            files2 = scale_data.pose_files(2, minutes=60.0, distinct=1, seed=11)[1:]
            manifest2 = scale_data.manifest(files2, tag="onep", folder=self.work)
            self.cli("ingest", str(manifest2), "--quiet", profile="ingest_one")
            rows[0].bound = bound_line(self._profile_path("ingest_one"))
        if not rows[1].ok:
            self.cli("ingest", str(manifest), "--quiet", profile="ingest_one_rerun")
            rows[1].bound = bound_line(self._profile_path("ingest_one_rerun"))
        return rows

    def ingest_many(self) -> list[Row]:
        n, minutes = self.args.sessions, self.args.minutes
        files = scale_data.pose_files(n, minutes=minutes)
        manifest = scale_data.manifest(files, tag="man", folder=self.work)
        first, _ = self.cli("ingest", str(manifest), "--quiet")
        again, out = self.cli("ingest", str(manifest), "--quiet")
        unread = out.count("unchanged since it was read")
        rows = [Row(f"ingest {n}-session manifest ({minutes:g} min each), CLI", fmt(first / n, "s/file", 3),
                    f"<= {INGEST_TARGET_S:g} s/file", first / n <= INGEST_TARGET_S, notes=[f"{first:.1f} s in all"]),
                Row("  its no-op re-run", fmt(again / n, "s/file", 3), "checksums, not contents",
                    unread == n, notes=[f"{again:.1f} s in all; {unread} of {n} files recognised without reading"])]
        if not rows[1].ok or again > first / 2:
            self.cli("ingest", str(manifest), "--quiet", profile="ingest_many_rerun")
            rows[1].bound = bound_line(self._profile_path("ingest_many_rerun"))
            if rows[1].ok:
                rows[1].notes.append("re-run profile: " + rows[1].bound)
        return rows

    def scoring(self) -> list[Row]:
        from schemas import behavior, pose

        timer = _InsertTimer(behavior)
        started = time.perf_counter()
        with timer:
            behavior.SocialBouts.populate()
        wall = time.perf_counter() - started
        scored = pose.PoseEstimation.proj("n_frames", "fps").to_dicts()  # every one is scored once (one rule set)
        hours = sum(r["n_frames"] / r["fps"] for r in scored) / 3600.0
        per_s = hours / wall if wall else float("nan")
        rows_total = sum(timer.rows.values())
        insert_s = timer.seconds["all"]
        timebin = timer.seconds["TimeBin"] / insert_s if insert_s else float("nan")
        extrapolated = LAB_HOURS / per_s if per_s else float("nan")
        rows = [
            Row(f"SocialBouts populate: {len(scored)} sessions, {hours:.1f} h of pose", fmt(per_s, "h pose/s", 3),
                "(no number set)", None,
                notes=[f"{wall:.1f} s wall; EXTRAPOLATED to 1,000 one-hour sessions: {extrapolated / 60:.1f} min "
                       f"(one process; sessions of {self.args.minutes:g} min measured, not 1 h each)"]),
            Row("  insert rows/s (master + Bout + Summary + TimeBin)", fmt(rows_total / insert_s, "rows/s", 0),
                "(no number set)", None,
                notes=[f"{rows_total} rows in {insert_s:.2f} s = {100 * insert_s / wall:.0f}% of populate; "
                       + ", ".join(f"{k} {v} rows {timer.seconds[k]:.2f} s" for k, v in timer.rows.items())]),
            Row("  TimeBin share of insert time", f"{100 * timebin:.0f} %", "must not dominate (< 50 %)",
                timebin < 0.5),
        ]
        if not rows[2].ok:
            rows[2].bound = (f"TimeBin rows {timer.rows['TimeBin']} of {rows_total}; "
                             f"{timer.rows['TimeBin'] / max(timer.seconds['TimeBin'], 1e-9):.0f} rows/s")
        return rows

    def group_query(self) -> list[Row]:
        from schemas import behavior, session
        from schemas.ingest import ingest

        have = len(session.Session())
        extra = max(0, self.args.group_sessions - have)
        notes = []
        if extra:
            files = scale_data.pose_files(extra, minutes=self.args.group_minutes, seed=7)
            manifest = scale_data.manifest(files, tag="grp", folder=self.work)
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # one 'read ...' line per file
                ingest(manifest)
            behavior.SocialBouts.populate()
            notes.append(f"{extra} sessions of {self.args.group_minutes:g} min added for it "
                         f"(ingest + scoring {time.perf_counter() - started:.0f} s)")
        n = len(session.Session())
        wall = _time(_group_statistics)
        status, _ = self.cli("db", "status")
        rows = [Row(f"group statistics per animal, {n} sessions", fmt(wall, "s", 3),
                    f"<= {GROUP_TARGET_S:g} s (1,000 sessions)", wall <= GROUP_TARGET_S, notes=notes),
                Row(f"ethojoint db status, {n} sessions, CLI wall", fmt(status, "s"), f"<= {STATUS_TARGET_S:g} s",
                    status <= STATUS_TARGET_S)]
        if n < 1000:
            rows[0].notes.append(f"over {n} sessions, not 1,000 (use --group-sessions 1000 or --full)")
        if not rows[0].ok:
            rows[0].bound = self.profiled("group_query", _group_statistics)
        if not rows[1].ok:
            self.cli("db", "status", profile="db_status")
            rows[1].bound = bound_line(self._profile_path("db_status"))
        return rows

    def jobs(self, connection) -> list[Row]:
        n = self.args.jobs
        result = scale_jobs.measure(self.prefix, connection, n, self.env)
        per_job, speedup = result["per_job_s"], result["speedup"]
        rows = [Row(f"job overhead per job, 1 worker, {n} trivial jobs", fmt(1000 * per_job, "ms", 1),
                    f"<= {1000 * JOB_TARGET_S:g} ms (10,000 jobs)", per_job <= JOB_TARGET_S and result["complete"],
                    notes=[f"keys inserted in {result['insert_keys_s']:.2f} s, jobs.refresh "
                           f"{result['refresh_s']:.2f} s; every job made once: {result['complete']}"]),
                Row(f"throughput, 2 workers vs 1 ({n} jobs)", f"{speedup:.2f} x", f">= {SPEEDUP_TARGET:g} x",
                    speedup >= SPEEDUP_TARGET, notes=[f"jobs per worker {result['two']['per_worker']}"])]
        if n < 10000:
            rows[0].notes.append(f"queue of {n}, not 10,000 (use --jobs 10000 or --full)")
        if not rows[0].ok or not rows[1].ok:
            scale_jobs.fill(self.prefix, connection, min(n, 500))
            base = self.profiles / f"{self.backend}_jobs_worker.prof"
            scale_jobs.run_workers(self.prefix, 1 if not rows[0].ok else 2, self.env, profile=str(base))
            merged = merge_profiles(sorted(base.parent.glob(base.name + ".*")), base)
            line = bound_line(merged)
            for r in rows:
                if not r.ok:
                    r.bound = line
            if not rows[1].ok:
                rows[1].bound += f"; this machine has {_cores()} CPU core(s) for the workers and the database"
        return rows


def _group_statistics():
    """What a group report computes: per-animal rows, then the group table per behaviour."""
    from pipeline.stats import group_table
    from schemas import stats

    animals = stats.per_animal()
    return group_table(animals, group_by=["sex", "age_group"], value="bout_count")


def _time(func) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class _InsertTimer:
    """Times SocialBouts.make_insert and each part's insert (the bench's copy of behavior.insert_parts)."""

    def __init__(self, behavior):
        self.behavior = behavior
        self.seconds = {"all": 0.0, "master": 0.0, "Bout": 0.0, "Summary": 0.0, "TimeBin": 0.0}
        self.rows = {"master": 0, "Bout": 0, "Summary": 0, "TimeBin": 0}

    def _parts(self, table, key, result):
        parts = (("Bout", [dict(key, bout_index=i, **b) for i, b in enumerate(result["bouts"])]),
                 ("Summary", [dict(key, **s) for s in result["summary"]]),
                 ("TimeBin", [dict(key, **s) for s in result["bins"]]))
        for name, rows in parts:
            started = time.perf_counter()
            getattr(table, name).insert(rows)
            self.seconds[name] += time.perf_counter() - started
            self.rows[name] += len(rows)

    def __enter__(self):
        cls, timer = self.behavior.SocialBouts, self
        self._saved = (self.behavior.insert_parts, cls.make_insert)
        original = cls.make_insert

        def make_insert(table, key, master, result, not_scorable):
            started = time.perf_counter()
            original(table, key, master, result, not_scorable)
            timer.seconds["all"] += time.perf_counter() - started
            timer.rows["master"] += master is not None

        self.behavior.insert_parts = self._parts
        cls.make_insert = make_insert
        return self

    def __exit__(self, *exc):
        self.behavior.insert_parts, self.behavior.SocialBouts.make_insert = self._saved
        self.seconds["master"] = self.seconds["all"] - sum(self.seconds[k] for k in ("Bout", "Summary", "TimeBin"))
        return False
