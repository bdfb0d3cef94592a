"""The embedded PostgreSQL: created on first use, reused, stopped on exit; backends fail loudly."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(args, env_extra, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJ_", "ETHOJOINT_"))}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "workers.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_embedded_database_created_reused_and_stopped(tmp_path):
    import psutil

    env = {"PYTHONPATH": str(REPO), "ETHOJOINT_PREFIX": "ejt_embedded_"}
    first = run_cli(["db", "status"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    db_dir = tmp_path / ".ethojoint" / "db"
    assert (db_dir / "PG_VERSION").read_text().strip() == "16"
    assert '"embedded": true' in first.stdout and '"backend": "postgresql"' in first.stdout
    marker = (db_dir / "PG_VERSION").stat().st_ino
    second = run_cli(["db", "status"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert (db_dir / "PG_VERSION").stat().st_ino == marker  # reused, not re-created
    assert "Subject" in second.stdout
    # the last process to leave stops the server
    pid_file = db_dir / "postmaster.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().split()[0])
        assert not psutil.pid_exists(pid), "embedded PostgreSQL still running after the CLI exited"


def test_unreachable_listed_backend_fails_not_skips(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJ_", "ETHOJOINT_"))}
    env.update(ETHOJOINT_TEST_BACKENDS="mysql", ETHOJOINT_TEST_MYSQL_HOST="127.0.0.1:9")
    result = subprocess.run(
        # its own basetemp: a second pytest session would otherwise make /tmp/pytest-of-<user> private
        # again (mode 0700) under the running session
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'inner'}",
         "tests/integration/test_ingest.py::test_db_status_cli"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "unreachable" in result.stdout and "skipped" not in result.stdout


STARTER = """
import os, signal, subprocess, sys
from pathlib import Path
from schemas.database import start_embedded
db_dir = Path(sys.argv[1])
start_embedded(db_dir)
if sys.argv[2] == "parent":  # a second user of the server (a worker), killed with SIGKILL
    child = subprocess.Popen([sys.executable, __file__, sys.argv[1], "child"])
    child.wait()
    print("child", child.returncode, flush=True)
else:
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_no_server_is_left_when_a_user_was_killed(tmp_path):
    """A server user killed with SIGKILL (a worker) never leaves pgserver's list: the last one out stops it."""
    import psutil

    script = tmp_path / "starter.py"
    script.write_text(STARTER)
    db_dir = tmp_path / "db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJ_", "ETHOJOINT_"))}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, str(script), str(db_dir), "parent"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "child -9" in done.stdout  # the second user really was killed
    left = [p.info["pid"] for p in psutil.process_iter(["pid", "name", "cmdline"])
            if p.info["name"] == "postgres" and str(db_dir) in " ".join(p.info["cmdline"] or [])]
    assert left == [], f"embedded PostgreSQL processes still running for {db_dir}: {left}"


def test_no_server_is_left_after_sigterm(tmp_path):
    """SIGTERM (a CI timeout, `kill`) ends the owner through its exit hooks, which stop the server."""
    import signal
    import time

    import psutil

    db_dir = tmp_path / "db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJ_", "ETHOJOINT_"))}
    env["PYTHONPATH"] = str(REPO)
    code = ("import sys, time; from pathlib import Path; from schemas.database import start_embedded; "
            "start_embedded(Path(sys.argv[1])); print('up', flush=True); time.sleep(600)")
    owner = subprocess.Popen([sys.executable, "-c", code, str(db_dir)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "up"
        running = [p for p in psutil.process_iter(["name", "cmdline"])
                   if p.info["name"] == "postgres" and str(db_dir) in " ".join(p.info["cmdline"] or [])]
        assert running  # the check below can fail
        owner.send_signal(signal.SIGTERM)
        assert owner.wait(60) == 128 + signal.SIGTERM
        time.sleep(1)
        left = [p.pid for p in running if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert left == [], f"embedded PostgreSQL processes still running for {db_dir}: {left}"
    finally:
        owner.kill()
