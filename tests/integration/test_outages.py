"""Workers survive a database restart (issue 13 §1), on each backend, with real servers and processes.

The server is a private one: on ``mysql`` a MariaDB started by the test on its
own port and data folder; on ``postgresql`` the embedded PostgreSQL of a
private home, stopped and started in place. Worker A (stage quality) is making
a 20-minute Kalman FilteredPose when the server stops; worker B (stage
calibration, nothing to do) is idle. The server stays down until both have
reported the lost connection, then comes back. Both must survive, every job
must complete once, and the stored results must equal the computation redone
without disturbance.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import _ENV_KEYS, backend_env

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MIN_OUTAGE_S = 5.0


class PrivateMariaDB:
    """A MariaDB server of the test's own (data folder, port); stop() and start() restart it."""

    def __init__(self, folder: Path):
        self.folder, self.data = folder, folder / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.data}", "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True, timeout=120)
        self.proc = None
        self.start()

    def env(self) -> dict:
        return {"ETHOJOINT_DB": "server", "DJ_BACKEND": "mysql", "DJ_HOST": "127.0.0.1", "DJ_PORT": str(self.port),
                "DJ_USER": "root", "DJ_PASS": "", "ETHOJOINT_TLS": "off"}

    def start(self) -> None:
        import pymysql

        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.data}", f"--port={self.port}", "--user=root",
             f"--socket={self.folder / 'sock'}", "--bind-address=127.0.0.1", "--skip-name-resolve",
             f"--log-error={self.folder / 'error.log'}", f"--pid-file={self.folder / 'pid'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="").close()
                return
            except pymysql.err.OperationalError as err:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    log = (self.folder / "error.log").read_text()
                    raise RuntimeError(f"private MariaDB did not start: {log}") from err
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)


class EmbeddedRestart:
    """Stop and start, in place, the embedded PostgreSQL that the processes of a home share."""

    def __init__(self, home: Path):
        self.home = home

    def env(self) -> dict:
        return {}

    def _server(self):
        from schemas.embedded import Account, client_name

        return Account.named("pgserver" if os.geteuid() == 0 else client_name())  # who runs PostgreSQL

    def stop(self) -> None:
        from pgserver.utils import PostmasterInfo

        from schemas.embedded import stop_postgres

        pgdata = (self.home / "db").resolve()
        self.socket_dir = PostmasterInfo.read_from_pgdata(pgdata).socket_dir
        stop_postgres(pgdata, self._server())

    def start(self) -> None:
        from schemas.embedded import run_postgres

        run_postgres((self.home / "db").resolve(), self._server(), self.socket_dir)

    def close(self) -> None:
        pass  # the last worker to exit stops it


@pytest.fixture(scope="module")
def long_session(tmp_path_factory):
    """Twenty minutes of two-animal pose (SLEAP file; its Kalman pass takes seconds) and its manifest."""
    from pipeline.synthetic import simulate_session, write_session_files
    from tests.integration.test_workers import _manifest

    folder = tmp_path_factory.mktemp("outage_pose")
    sim = simulate_session(seed=21, duration_s=1200.0, episode_counts=2, name="outage")
    path = Path(write_session_files(sim, folder, formats=("sleap_h5",))["sleap_h5"])
    return _manifest(folder, "outage", sim, path)


@pytest.fixture
def private_db(backend, tmp_path, tmp_path_factory):
    """(environment for processes, server handle) of a fresh private database of ``backend``."""
    base = tmp_path / "db"
    base.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _ENV_KEYS}
    env.update(backend_env(backend, base, tmp_path_factory.getbasetemp()), ETHOJOINT_PREFIX="outage_",
               ETHOJOINT_SAFEMODE="0")
    server = PrivateMariaDB(tmp_path / "mariadb") if backend == "mysql" else EmbeddedRestart(base / "home")
    env.update(server.env())
    yield env, server
    server.close()


def _run(env, *args) -> dict:
    done = subprocess.run([sys.executable, "-m", "tests.integration.outage_check", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _worker(env, folder: Path, name: str, stage: str) -> subprocess.Popen:
    log = open(folder / f"{name}.log", "w")  # noqa: SIM115 (the worker writes to it until it ends)
    proc = subprocess.Popen([sys.executable, "-m", "workers.cli", "worker", "--stage", stage, "--poll", "0.3",
                             "--beat", "0.5", "--stale-after", "30", "--db-retry", "180"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = folder / f"{name}.log"
    return proc


def _events(proc) -> list[dict]:
    return [json.loads(line) for line in proc.log_path.read_text().splitlines() if line.startswith("{")]


def _wait(predicate, what: str, procs, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        for p in procs:
            assert p.poll() is None, f"a worker exited ({p.returncode}) waiting for {what}:\n{p.log_path.read_text()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n" + "\n".join(
            p.log_path.read_text()[-3000:] for p in procs)
        time.sleep(0.1)


def _has(proc, event: str, **fields) -> bool:
    return any(e["event"] == event and all(e.get(k) == v for k, v in fields.items()) for e in _events(proc))


def test_workers_survive_a_database_restart(private_db, long_session, tmp_path):
    env, server = private_db
    fset = _run(env, "setup", str(long_session))["filter_set"]
    key = {"session": "outage", "camera": "top", "pose_source": "sleap", "filter_set": fset}
    busy, idle = _worker(env, tmp_path, "busy", "quality"), _worker(env, tmp_path, "idle", "calibration")
    procs = [busy, idle]
    try:
        _wait(lambda: _has(idle, "start"), "the idle worker", procs)
        _wait(lambda: _has(busy, "job_start", table="quality.FilteredPose"), "the FilteredPose job", procs)
        server.stop()  # mid-job (the Kalman pass takes seconds) and while the other worker idles
        down = time.monotonic()
        _wait(lambda: _has(busy, "db_lost") and _has(idle, "db_lost"), "both workers to see the outage", procs)
        time.sleep(max(0.0, MIN_OUTAGE_S - (time.monotonic() - down)))
        server.start()
        _wait(lambda: _has(busy, "db_back") and _has(idle, "db_back"), "both workers to reconnect", procs)
        _wait(lambda: sum(e["event"] == "job" and e["status"] == "success" for e in _events(busy)) == 2,
              "the two quality jobs (FilteredPose, IdentityCheck)", procs)
        state = _run(env, "check")
        for p in procs:
            p.send_signal(signal.SIGTERM)
        assert [p.wait(60) for p in procs] == [0, 0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    lost = [e for e in _events(busy) if e["event"] == "db_lost"]
    assert len(lost) == 1 and lost[0]["job"]["table"] == "quality.FilteredPose" and lost[0]["job"]["key"] == key
    interrupted = [e for e in _events(busy) if e["event"] == "job" and e["status"] == "interrupted"]
    assert [(e["key"], e["reason"], e["returned_to_pending"]) for e in interrupted] == [
        (key, "database connection lost", True)]
    made = [e["table"] for e in _events(busy) if e["event"] == "job" and e["status"] == "success"]
    assert sorted(made) == ["quality.FilteredPose", "quality.IdentityCheck"]
    assert not any(e["event"] == "job" for e in _events(idle)) and _events(idle)[-1]["event"] == "shutdown"
    assert state["rows"] == {"FilteredPose": 1, "IdentityCheck": 1}
    assert state["jobs"] == {"FilteredPose": {}, "IdentityCheck": {}}  # none pending, reserved or failed
    assert state["equal"] == [True]
