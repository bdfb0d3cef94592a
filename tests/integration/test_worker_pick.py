"""Which pending job a worker takes (issue 13 §5): one of the first few of the most urgent priority, at
random, so that two workers do not race for the same key; keys that stayed pending are skipped, not retried."""

import logging
import os

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def queue(clean):
    """A trivial computed table of 20 keys under the test prefix; jobs 15-19 at priority 1, the rest at 5."""
    import datajoint as dj

    schema = dj.Schema(clean["prefix"] + "pickjobs", connection=clean["connection"])

    @schema
    class PickKey(dj.Manual):
        definition = "job_id : int32"

    @schema
    class PickMade(dj.Computed):
        definition = "-> PickKey\n---\nmade_by : int32"

        def make(self, key):
            self.insert1(dict(key, made_by=os.getpid()))

    PickMade.jobs.delete_quick()
    PickMade.delete_quick()
    PickKey.delete_quick()
    PickKey.insert({"job_id": i} for i in range(20))
    PickMade.jobs.refresh("job_id >= 15", priority=1)
    PickMade.jobs.refresh(priority=5)
    return PickMade


def _worker(table):
    from workers.worker import Worker

    return Worker("test", [table], device="cpu", poll_s=0.1, orphan_timeout_s=3600.0, max_idle_min=None, once=True,
                  priority=None, logger=logging.getLogger("ethojoint.test_pick"))


def test_workers_spread_over_the_most_urgent_jobs(queue):
    worker = _worker(queue)
    picked = [worker._next_key(queue, set())["job_id"] for _ in range(40)]
    assert set(picked) <= {15, 16, 17, 18, 19}  # priority 1 first, whatever the draw
    assert len(set(picked)) > 1  # not every worker on the same key (8 ** -39 to fail by chance)


def test_keys_that_stayed_pending_are_skipped(queue):
    worker = _worker(queue)
    stuck = {(("job_id", i),) for i in (15, 16, 17, 18)}
    assert {worker._next_key(queue, stuck)["job_id"] for _ in range(10)} == {19}
    stuck |= {(("job_id", i),) for i in range(20)}
    assert worker._next_key(queue, stuck) is None


def test_a_pass_makes_every_job_once(queue):
    worker = _worker(queue)
    assert worker.loop() == 0
    assert sorted(queue.to_arrays("job_id")) == list(range(20))
    assert len(queue.jobs.pending) == 0 and len(queue.jobs.reserved) == 0 and len(queue.jobs.errors) == 0


def test_choosing_a_job_is_one_query(queue):
    """The worker keeps one instance per table: ``table.jobs`` on the class would rebuild the jobs table
    object (existence check and heading: several queries) for every job."""
    worker = _worker(queue)
    worker._next_key(queue, set())  # the first call loads the jobs table's heading
    connection, sent = queue.connection, []
    query = connection.query
    connection.query = lambda sql, *args, **kwargs: (sent.append(sql), query(sql, *args, **kwargs))[1]
    try:
        assert worker._next_key(queue, set()) is not None
    finally:
        del connection.query  # the class's method again
    assert len(sent) == 1, sent


def test_making_a_job_starts_no_process(queue, monkeypatch):
    """DataJoint's job version 'git' ran `git rev-parse` three times per job; provenance records the commit."""
    import subprocess

    started, run = [], subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: (started.append(a[0] if a else k["args"]), run(*a, **k))[1])
    worker = _worker(queue)
    assert worker._make(queue, worker._next_key(queue, set())) == 1
    assert started == []
