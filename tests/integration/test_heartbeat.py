"""Worker heartbeats decide which reservations are orphans (workers.heartbeat), in-process on each backend."""

import time

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def reserved(clean, tmp_path):
    """A FilteredPose job reserved by this process (as a worker would), and its jobs table."""
    from pipeline.synthetic import simulate_session, write_session_files
    from schemas import quality
    from schemas.ingest import ingest
    from tests.integration.test_workers import _manifest

    sim = simulate_session(seed=5, duration_s=5.0, episode_counts=1, name="hb")
    path = write_session_files(sim, tmp_path, formats=("sleap_h5",))["sleap_h5"]
    ingest(_manifest(tmp_path, "hb", sim, path))
    quality.FilterParamSet.add("hb", [{"step": "interpolate_gaps", "max_gap_frames": 3}])
    jobs = quality.FilteredPose.jobs
    jobs.refresh()
    key = (jobs.pending & {"session": "hb"}).keys()[0]
    assert jobs.reserve(key)
    yield quality.FilteredPose, key
    jobs.delete()


def _status(table, key):
    return (table.jobs & key).fetch1("status")


def _dead_heartbeat(table, *, beat_ago_s: int, started_ago_s: int) -> None:
    """The heartbeat row a dead worker (this process's host and pid) left behind."""
    import os
    import platform

    from schemas.operations import WorkerHeartbeat

    qi, interval = table.jobs.adapter.quote_identifier, table.jobs.adapter.interval_expr
    table.connection.query(
        f"INSERT INTO {WorkerHeartbeat.full_table_name} ({qi('host')}, {qi('pid')}, {qi('stage')}, "
        f"{qi('started_time')}, {qi('beat_time')}) VALUES (%s, %s, 'test', CURRENT_TIMESTAMP(3) - "
        f"{interval(started_ago_s, 'second')}, CURRENT_TIMESTAMP(3) - {interval(beat_ago_s, 'second')})",
        args=(platform.node(), os.getpid()))


@pytest.fixture
def beating(reserved):
    """This process's heartbeat, beating every 0.2 s."""
    import os
    import platform

    from workers.heartbeat import Heartbeat
    from workers.jobs import return_to_pending

    table, key = reserved
    beat = Heartbeat(table.connection, host=platform.node(), pid=os.getpid(), stage="test", beat_s=0.2).start()
    assert return_to_pending(table, key) and table.jobs.reserve(key)  # reserved after the worker started
    yield table, key, beat
    beat.stop()


def test_without_heartbeat_only_the_orphan_timeout_frees_a_job(reserved):
    from workers.heartbeat import reset_stale

    table, key = reserved
    time.sleep(1.2)
    assert reset_stale(table, stale_s=1, orphan_s=3600) == []
    assert _status(table, key) == "reserved"
    found = reset_stale(table, stale_s=3600, orphan_s=1)
    assert [{k: f[k] for k in key} for f in found] == [key]
    assert _status(table, key) == "pending"


def test_a_beating_worker_keeps_its_job_past_every_limit(beating):
    from workers.heartbeat import reset_stale
    from workers.jobs import reservations

    table, key, beat = beating
    beat.set_job("quality.FilteredPose", key)
    time.sleep(1.5)
    assert reset_stale(table, stale_s=1, orphan_s=1) == []
    assert _status(table, key) == "reserved"
    (row,) = reservations(table, stale_s=1, orphan_s=1)
    assert row["key"] == key and not row["stale"] and row["heartbeat_age_s"] < 1 and row["age_s"] >= 1.5


def test_a_silent_heartbeat_frees_the_job(reserved):
    from schemas.operations import WorkerHeartbeat
    from workers.heartbeat import reset_stale, server_uptime_s, stale_condition
    from workers.jobs import format_reservations, reservations

    table, key = reserved
    while server_uptime_s(table.connection) <= 3:  # a server just started gives live workers time to beat
        time.sleep(0.5)
    _dead_heartbeat(table, beat_ago_s=30, started_ago_s=60)  # started before it reserved, silent for 30 s
    try:
        (row,) = reservations(table, stale_s=3, orphan_s=3600)
        assert row["stale"] and row["heartbeat_age_s"] >= 29 and "STALE" in format_reservations([row])
        # a server up for less than the limit: live workers may not have beaten again yet, nothing is stale
        just_up = stale_condition(table.jobs, stale_s=3, orphan_s=3600, uptime_s=2)
        assert table.jobs.reserved.proj(stale=f"CASE WHEN {just_up} THEN 1 ELSE 0 END").to_dicts()[0]["stale"] == 0
        assert reset_stale(table, stale_s=40, orphan_s=3600) == []
        found = reset_stale(table, stale_s=3, orphan_s=3600)
        assert [{k: f[k] for k in key} for f in found] == [key] and _status(table, key) == "pending"
    finally:
        (WorkerHeartbeat & {"stage": "test"}).delete_quick()


def test_a_restarted_process_with_the_same_pid_frees_the_old_job(reserved):
    """A container restarted with the same host name and pid: its fresh heartbeat does not cover the old job."""
    from schemas.operations import WorkerHeartbeat
    from workers.heartbeat import reset_stale

    table, key = reserved
    time.sleep(0.05)
    WorkerHeartbeat.delete_quick()
    _dead_heartbeat(table, beat_ago_s=0, started_ago_s=0)  # started after the job was reserved
    try:
        found = reset_stale(table, stale_s=3600, orphan_s=3600)
        assert [{k: f[k] for k in key} for f in found] == [key] and _status(table, key) == "pending"
    finally:
        (WorkerHeartbeat & {"stage": "test"}).delete_quick()


def test_job_start_is_logged_once_the_job_is_reserved(reserved):
    """A job_start event means the job is this worker's (an outage after it finds the job reserved)."""
    import json
    import logging
    import os

    from schemas.registry import resolve_table
    from workers.jobs import return_to_pending
    from workers.worker import run_worker

    table, key = reserved
    assert return_to_pending(table, key)
    seen = []

    class AtJobStart(logging.Handler):
        def emit(self, record):
            event = json.loads(record.getMessage())
            if event["event"] == "job_start":
                jobs = resolve_table(event["table"]).jobs
                seen.append((event["table"], event["key"], (jobs & event["key"]).fetch1("status", "pid")))

    log = logging.getLogger("test.job_start")
    log.setLevel(logging.INFO)
    log.addHandler(AtJobStart())
    assert run_worker("quality", once=True, poll_s=0.1, logger=log) == 0
    assert seen[0] == ("quality.FilteredPose", key, ("reserved", os.getpid()))
    assert [status for *_, status in seen] == [("reserved", os.getpid())] * len(seen)
    assert len(table & key) == 1 and len(table.jobs & key) == 0  # made, and its job completed
