"""``ethojoint worker`` / ``ethojoint jobs``: killed workers, SIGTERM, error retry (real subprocesses).

The slow job is a FilteredPose of 30 minutes of two-animal pose at 30 fps with
two Kalman/RTS passes (about 3-4 s), so a worker can be killed mid-job.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SLOW_STEPS = [{"step": "kalman_rts", "process_noise": 1.0, "measurement_noise": 4.0},
              {"step": "kalman_rts", "process_noise": 0.5, "measurement_noise": 4.0}]


def _manifest(folder: Path, session: str, sim, pose_file: Path) -> Path:
    from tests.integration.test_ingest import write_manifest

    subjects = [f"{session}_a", f"{session}_b"]
    return write_manifest(folder, {
        "subjects": [{"subject": s, "sex": "F", "age_group": "adult"} for s in subjects],
        "sessions": [{"session": session, "datetime": "2026-05-01 10:00:00",
                      "animals": [{"subject": s} for s in subjects],
                      "recordings": [{"camera": "top", "fps": sim.fps, "mm_per_px": sim.mm_per_px, "pose": [
                          {"source": "sleap", "file": str(pose_file),
                           "tracks": dict(zip(sim.pose.individuals, subjects))}]}]}]},
        name=f"{session}.yaml")


@pytest.fixture(autouse=True)
def no_jobs(clean):
    """Empty jobs tables before and after each test (``clean`` deletes rows, not jobs)."""
    from schemas.registry import computed_tables

    def clear():
        for table in computed_tables():
            if table.jobs.is_declared:
                table.jobs.delete()

    clear()
    yield
    clear()


@pytest.fixture(scope="module")
def pose_files(tmp_path_factory):
    """One long (30 min) and one short (20 s) synthetic two-animal session, as SLEAP files."""
    from pipeline.synthetic import simulate_session, write_session_files

    folder = tmp_path_factory.mktemp("worker_pose")
    out = {}
    for name, duration in (("long", 1800.0), ("short", 20.0)):
        sim = simulate_session(seed=11, duration_s=duration, episode_counts=2, name=name)
        out[name] = (sim, Path(write_session_files(sim, folder, formats=("sleap_h5",))["sleap_h5"]))
    return out


@pytest.fixture
def slow_job(clean, pose_files, tmp_path):
    """The long session ingested, a Kalman filter set: one pending-to-be FilteredPose job (its key)."""
    from schemas import quality
    from schemas.ingest import ingest

    sim, path = pose_files["long"]
    ingest(_manifest(tmp_path, "long", sim, path))
    fset = quality.FilterParamSet.add("kalman x2", SLOW_STEPS)
    return {"session": "long", "camera": "top", "pose_source": "sleap", "filter_set": fset}


def _worker_env() -> dict:
    """This process's environment, with the store folder this process uses (a worker must share it)."""
    import datajoint as dj

    from schemas.config import STORE

    env = dict(os.environ)
    store = dj.config.stores.get(STORE, {})
    if store.get("protocol") == "file":
        env["ETHOJOINT_STORE"] = str(store["location"])
    return env


def _start(tmp_path, name, *args, stage="quality"):
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 (the worker process writes to it until it ends)
    proc = subprocess.Popen([sys.executable, "-m", "workers.cli", "worker", "--stage", stage, *args],
                            cwd=REPO, env=_worker_env(), stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = tmp_path / f"{name}.log"
    return proc


def _events(proc) -> list[dict]:
    lines = proc.log_path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def _wait_for(predicate, timeout, what, procs=()):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        for p in procs:
            if p.poll() is not None:
                pytest.fail(f"worker exited ({p.returncode}) while waiting for {what}:\n{p.log_path.read_text()}")
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def _wait_reserved(table, key, procs, what):
    def reserved():
        status = _status(table, key)
        if status == "error":
            pytest.fail(f"the job failed instead:\n{procs[-1].log_path.read_text()}")
        return status == "reserved"

    _wait_for(reserved, 60, what, procs)


def _status(table, key):
    jobs = table.jobs
    if not jobs.is_declared:
        return None
    rows = (jobs & key).proj("status").to_dicts()
    return rows[0]["status"] if rows else None


def _no_reserved_or_error():
    from schemas import quality

    for table in (quality.FilteredPose, quality.IdentityCheck, quality.IdentityCorrection):
        counts = table.jobs.progress()
        assert counts["reserved"] == 0 and counts["error"] == 0, (table.__name__, counts)


def _kill_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def test_killed_worker_job_returns_when_its_heartbeat_stops(slow_job, tmp_path):
    """The orphan timeout is hours; the dead worker's heartbeat going stale (2 s here) frees its job."""
    import numpy as np

    from schemas import pose, quality
    from workers.jobs import format_reservations, reservations

    procs = []
    try:
        w1 = _start(tmp_path, "w1", "--poll", "0.2", "--orphan-timeout", "3600", "--beat", "0.5")
        procs.append(w1)
        _wait_reserved(quality.FilteredPose, slow_job, procs, "worker 1's reservation")
        held = reservations(quality.FilteredPose, stale_s=2, orphan_s=3600)
        assert [(r["key"], r["pid"], r["stale"]) for r in held] == [(slow_job, w1.pid, False)]
        assert held[0]["heartbeat_age_s"] < 2
        w1.send_signal(signal.SIGKILL)
        assert w1.wait(10) == -signal.SIGKILL
        assert len(quality.FilteredPose & slow_job) == 0
        assert _status(quality.FilteredPose, slow_job) == "reserved"  # orphaned: nobody will finish it
        time.sleep(2.5)
        held = reservations(quality.FilteredPose, stale_s=2, orphan_s=3600)
        assert [(r["pid"], r["stale"]) for r in held] == [(w1.pid, True)] and held[0]["heartbeat_age_s"] > 2
        assert f"pid {w1.pid}" in format_reservations(held) and "STALE" in format_reservations(held)

        started = time.monotonic()
        w2 = _start(tmp_path, "w2", "--poll", "0.3", "--orphan-timeout", "3600", "--stale-after", "2",
                    "--max-idle", "0.1")
        procs.append(w2)
        assert w2.wait(90) == 0, w2.log_path.read_text()
        print(f"worker 2 took over and exited in {time.monotonic() - started:.1f} s")
        rows = (quality.FilteredPose & slow_job).to_dicts()
        assert len(rows) == 1
        original = np.asarray((pose.PoseEstimation & slow_job).fetch1("positions"))
        assert np.asarray(rows[0]["positions"]).shape == original.shape
        assert [s["step"] for s in rows[0]["step_stats"]] == ["kalman_rts", "kalman_rts"]
        _no_reserved_or_error()
        events = _events(w2)
        orphans = [e for e in events if e["event"] == "orphans"]
        assert orphans and orphans[0]["table"] == "quality.FilteredPose" and orphans[0]["jobs"][0]["pid"] == w1.pid
        jobs = [e for e in events if e["event"] == "job" and e["table"] == "quality.FilteredPose"]
        assert len(jobs) == 1 and jobs[0]["status"] == "success" and jobs[0]["duration_s"] > 1
        assert {"stage", "key", "device", "host", "pid"} <= set(jobs[0]) and jobs[0]["device"] == "cpu"
        assert events[-1]["event"] == "exit" and events[-1]["reason"] == "idle"
    finally:
        _kill_all(procs)


def test_sigterm_lets_the_current_job_finish(slow_job, tmp_path):
    from schemas import quality

    procs = []
    try:
        w = _start(tmp_path, "w", "--poll", "0.2")  # would run forever
        procs.append(w)
        _wait_reserved(quality.FilteredPose, slow_job, procs, "the reservation")
        w.send_signal(signal.SIGTERM)
        assert w.wait(90) == 0, w.log_path.read_text()
        _no_reserved_or_error()
        assert len(quality.FilteredPose & slow_job) == 1  # the README's promise: the current job finishes
        events = _events(w)
        done = [e for e in events if e.get("event") == "job" and e.get("status") == "success"]
        assert [e["key"]["filter_set"] for e in done] == [slow_job["filter_set"]]  # made by this worker
        assert [e["event"] for e in events].index("shutdown") > events.index(done[0])  # then it stopped
        assert any(e["event"] == "shutdown" and e["signal"] == "SIGTERM" for e in events)
        assert not any(e.get("status") in ("error", "interrupted") for e in events)
    finally:
        _kill_all(procs)


def test_second_signal_aborts_and_returns_the_job(slow_job, tmp_path):
    from schemas import quality

    procs = []
    try:
        w = _start(tmp_path, "w", "--poll", "0.2")
        procs.append(w)
        _wait_reserved(quality.FilteredPose, slow_job, procs, "the reservation")
        w.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # two separate signals (a second one sent at once could be merged into the first)
        w.send_signal(signal.SIGTERM)
        assert w.wait(30) == 128 + signal.SIGTERM, w.log_path.read_text()
        assert len(quality.FilteredPose & slow_job) == 0
        assert _status(quality.FilteredPose, slow_job) == "pending"  # runnable again, not 'error'
        assert any(e.get("status") == "interrupted" for e in _events(w))
    finally:
        _kill_all(procs)


def test_jobs_command_and_retry_errors(clean, pose_files, tmp_path, capsys):
    """A pose file corrupted after ingest fails its import; after --retry-errors (and a fix) it is made."""
    from schemas import pose, recording
    from schemas.ingest import ingest
    from workers.cli import main

    sim, original = pose_files["short"]
    path = tmp_path / "short.analysis.h5"
    good = original.read_bytes()
    path.write_bytes(good)
    ingest(_manifest(tmp_path, "short", sim, path), populate=False)
    recording.RecordingInfo.populate()
    path.write_bytes(b"not an HDF5 file" * 100)  # corrupt after validation
    key = {"session": "short", "camera": "top", "pose_source": "sleap"}

    assert main(["worker", "--stage", "pose", "--once", "--poll", "0.1"]) == 1  # one failed job
    assert _status(pose.PoseEstimation, key) == "error"
    capsys.readouterr()
    assert main(["jobs", "--table", "pose.PoseEstimation"]) == 0
    out = capsys.readouterr().out
    header, line = out.splitlines()[:2]
    counts = dict(zip(header.split()[1:], line.split()[1:]))
    assert line.split()[0] == "pose.PoseEstimation"
    assert counts == {"pending": "0", "reserved": "0", "error": "1", "success": "0", "ignore": "0", "rows": "0"}
    assert '"session": "short"' in out and "error" in out.splitlines()[2]

    path.write_bytes(good)  # fixed; an error job is not retried by itself
    assert main(["worker", "--stage", "pose", "--once", "--poll", "0.1"]) == 0
    assert len(pose.PoseEstimation & key) == 0 and _status(pose.PoseEstimation, key) == "error"

    assert main(["jobs", "--retry-errors", "--table", "pose.PoseEstimation"]) == 0
    assert "1 error job(s) back to pending" in capsys.readouterr().out
    assert _status(pose.PoseEstimation, key) == "pending"
    assert main(["worker", "--stage", "pose", "--once", "--poll", "0.1"]) == 0
    assert len(pose.PoseEstimation & key) == 1 and _status(pose.PoseEstimation, key) is None
    assert len(pose.PoseEstimation.Individual & key) == 2
    assert main(["jobs"]) == 0
    assert "quality.FilteredPose" in capsys.readouterr().out
