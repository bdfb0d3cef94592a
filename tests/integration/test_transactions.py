"""A long job holds no transaction while it computes (issue 12 §1), on every backend.

A one-hour recording is filtered with a Kalman smoother (several seconds of
compute).  While the worker runs it, a second, independent connection
watches the database's own record of open transactions (MySQL/MariaDB:
``information_schema.innodb_trx.trx_started``; PostgreSQL:
``pg_stat_activity.xact_start``), inserts into an upstream table and a
sibling table under a short lock timeout, reads the pose being filtered and
reads the job's own row in the jobs table.
"""

import threading
import time

import pytest

pytestmark = pytest.mark.integration

KALMAN = [{"step": "kalman_rts", "process_noise": 1.0, "measurement_noise": 4.0},  # two passes: the job must
          {"step": "kalman_rts", "process_noise": 0.5, "measurement_noise": 4.0}]  # last well past LONGEST_S
LONGEST_S = 2.0  # the longest transaction allowed


class Observer:
    """A second connection to the same database, not DataJoint's."""

    def __init__(self, connection):
        info = connection.conn_info
        self.backend = connection.adapter.backend
        if self.backend == "mysql":
            import pymysql

            self.conn = pymysql.connect(host=info["host"], port=int(info["port"]), user=info["user"],
                                        password=info["passwd"] or "", autocommit=True)
            self.sql("SET SESSION innodb_lock_wait_timeout = 5")
        else:
            import psycopg2

            self.conn = psycopg2.connect(host=info["host"], port=int(info["port"]), user=info["user"],
                                         password=info["passwd"] or None,
                                         dbname=info.get("database_name") or "postgres")
            self.conn.autocommit = True
            self.sql("SET lock_timeout = '5s'")

    def sql(self, query: str, args=()) -> list:
        with self.conn.cursor() as cur:
            cur.execute(query, args)
            return cur.fetchall() if cur.description else []

    def oldest_transaction_s(self) -> float:
        """Age in seconds of the oldest transaction open on any other connection (0 if none)."""
        if self.backend == "mysql":
            query = ("SELECT COALESCE(MAX(TIMESTAMPDIFF(MICROSECOND, trx_started, NOW(6))), 0) / 1e6 "
                     "FROM information_schema.innodb_trx WHERE trx_mysql_thread_id <> CONNECTION_ID()")
        else:
            query = ("SELECT COALESCE(EXTRACT(EPOCH FROM MAX(clock_timestamp() - xact_start)), 0) "
                     "FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database() "
                     "AND xact_start IS NOT NULL AND state <> 'idle'")
        return float(self.sql(query)[0][0])

    def close(self):
        self.conn.close()


def quote(backend: str, schema: str, table: str) -> str:
    return f"`{schema}`.`{table}`" if backend == "mysql" else f'"{schema}"."{table}"'


@pytest.fixture
def hour_long_pose(clean, tmp_path):
    from pipeline.synthetic import simulate_cohort
    from pipeline.synthetic.cohort import GROUPS
    from schemas import pose
    from schemas.ingest import ingest
    from workers.demo import build_manifest

    cohort = simulate_cohort(seed=3, groups=GROUPS[:1], sessions_per_group=1, duration_s=3600)
    ingest(build_manifest(cohort, tmp_path))
    key = pose.PoseEstimation.fetch1("KEY")
    assert (pose.PoseEstimation & key).fetch1("n_frames") == 108_000
    return key


def test_a_one_hour_job_holds_no_transaction_while_it_computes(hour_long_pose, db):
    from schemas import quality, subject

    filter_set = quality.FilterParamSet.add("kalman", KALMAN)
    job_key = dict(hour_long_pose, filter_set=filter_set)
    observer = Observer(db["connection"])
    jobs = quality.FilteredPose.jobs
    jobs_table = quote(observer.backend, jobs.database, jobs.table_name)
    upstream = quote(observer.backend, subject.Subject.database, subject.Subject.table_name)
    sibling = quote(observer.backend, quality.FilterParamSet.database, quality.FilterParamSet.table_name)
    poses = quote(observer.backend, quality.pose.PoseEstimation.database, quality.pose.PoseEstimation.table_name)

    watch = Watch(observer, jobs_table, upstream, sibling, poses)
    started = time.perf_counter()
    watch.start()
    try:
        quality.FilteredPose.populate(job_key, reserve_jobs=True)  # in the main thread: DataJoint sets signals
        duration = time.perf_counter() - started
    finally:
        watch.stop.set()
        watch.join()
        observer.close()
    ages, states, writes, failures = watch.ages, watch.states, watch.writes, watch.failures
    assert not failures, failures
    assert len(quality.FilteredPose & job_key) == 1
    longest = max(ages)
    print(f"\n[{db['backend']}] FilteredPose (Kalman, 1 h at 30 fps) took {duration:.1f} s; "
          f"{len(ages)} samples; longest open transaction seen {longest:.3f} s; "
          f"{writes} upstream + sibling inserts while it ran; job states seen {sorted(states)}")
    assert duration > 2 * LONGEST_S  # long enough for the check to mean something
    assert "reserved" in states  # the job's own row was readable, and reserved, while it ran
    assert writes == 3
    assert longest < LONGEST_S, f"a transaction stayed open {longest:.1f} s of a {duration:.1f} s job"


class Watch(threading.Thread):
    """Polls from the second connection until stopped: transaction ages, job states, writes beside the job."""

    def __init__(self, observer, jobs_table, upstream, sibling, poses):
        super().__init__(daemon=True)
        self.observer, self.tables = observer, (jobs_table, upstream, sibling, poses)
        self.stop = threading.Event()
        self.ages, self.states, self.writes, self.failures = [], set(), 0, []

    def run(self):
        try:
            while not self.stop.is_set():
                self.poll()
                time.sleep(0.05)
        except Exception as err:  # reported by the test
            self.failures.append(repr(err))

    def poll(self):
        jobs_table, upstream, sibling, poses = self.tables
        sql = self.observer.sql
        self.ages.append(self.observer.oldest_transaction_s())
        self.states.update(r[0] for r in sql(f"SELECT status FROM {jobs_table}"))
        if self.writes < 3 and "reserved" in self.states:  # write upstream and beside the job while it runs
            n = len(self.ages)
            sql(f"INSERT INTO {upstream} (subject, sex, age_group) VALUES (%s, 'F', 'adult')", (f"probe{n}",))
            sql(f"INSERT INTO {sibling} (filter_set, filter_set_name, steps) VALUES (%s, 'probe', '[]')",
                (f"probe-{n:030d}",))
            if sql(f"SELECT COUNT(*) FROM {poses}")[0][0] != 1:
                raise AssertionError("the pose being filtered could not be read")
            self.writes += 1
