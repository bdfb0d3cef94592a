"""The embedded PostgreSQL is its owner's alone (issue 13 §2), with a long ETHOJOINT_HOME, started as root.

pgserver alone moved the socket of a data folder with a long path to a
world-writable folder under /tmp and trusted every local user: ``nobody``
became the ``postgres`` superuser. An unprivileged system user probes the
server here, from a forked child that drops root.
"""

import json
import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
SOCKET_LIMIT = 107  # bytes of a Unix socket path on Linux
OWNER = """
import json, sys
import datajoint as dj
from schemas.database import connect
row = connect().query("SELECT current_user, current_setting('listen_addresses'), "
                      "current_setting('unix_socket_permissions')").fetchone()
print(json.dumps({"host": dj.config["database.host"], "port": dj.config["database.port"],
                  "password": dj.config["database.password"], "row": list(row)}), flush=True)
sys.stdin.read()  # keeps the server up until the test closes stdin
"""
OLD_OWNER = """
import sys, warnings
warnings.filterwarnings("ignore")
import pgserver
info = pgserver.get_server(sys.argv[1], cleanup_mode="stop").get_postmaster_info()
print(info.socket_dir, info.port, flush=True)
sys.stdin.read()
"""


@pytest.fixture
def unprivileged():
    """An unprivileged system user (``nobody``, else one made for the test); the test runs as root (CI does)."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to probe as another system user (CI and the lab machines run it as root)")
    try:
        yield pwd.getpwnam("nobody")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "ethojoint_probe"], check=True)
        try:
            yield pwd.getpwnam("ethojoint_probe")
        finally:
            subprocess.run(["userdel", "ethojoint_probe"], check=False)


@pytest.fixture
def long_home(tmp_path):
    """An ETHOJOINT_HOME whose data folder is too long for a socket next to it (the reported case: ≈ 94 chars)."""
    home = tmp_path / ("h" * max(10, 100 - len(str(tmp_path))))
    assert len(str(home)) >= 94 and len(os.fsencode(home / "db" / ".s.PGSQL.5432")) > SOCKET_LIMIT
    return home


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJ_", "ETHOJOINT_"))}
    env.update(PYTHONPATH=str(REPO), ETHOJOINT_DB="embedded", ETHOJOINT_HOME=str(home),
               ETHOJOINT_PREFIX="ejt_security_")
    return env


def _start(code: str, *args, env: dict) -> tuple[subprocess.Popen, str]:
    """A process that starts (or joins) the server and holds it until its stdin closes; its first line."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        proc.stdin.close()
        pytest.fail(f"the server did not start: {proc.stderr.read()[-3000:]}")
    return proc, line


def _end(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.stdin.close()
    for proc in procs:
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def probe_as(user: pwd.struct_passwd, folder: str, port: int) -> str:
    """What ``user`` gets connecting to the socket as ``postgres`` without a password: "connected" or the error."""
    import psycopg2

    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # drop root for good, then try
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            psycopg2.connect(host=folder, port=port, user="postgres", dbname="postgres", connect_timeout=10).close()
            answer = "connected"
        except BaseException as err:  # noqa: BLE001 -- reported to the parent, whatever it is
            answer = " ".join(str(err).split()) or repr(err)
        finally:
            os.write(write, answer.encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read().decode()
    os.waitpid(child, 0)
    return answer


def _postmaster(home: Path) -> psutil.Process:
    return psutil.Process(int((home / "db" / "postmaster.pid").read_text().split()[0]))


def _password_checked(folder: str, port: int) -> str:
    """The error root gets for a role other than ``postgres`` with a wrong password (trust would let it past)."""
    import psycopg2

    try:
        psycopg2.connect(host=folder, port=port, user="ethojoint_no_such_role", password="wrong",
                         dbname="postgres").close()
    except psycopg2.OperationalError as err:
        return " ".join(str(err).split())
    return "connected"


def _assert_private(folder: str, home: Path, *, started_here: bool = True) -> None:
    """Socket folder 0700 of the server's user; no TCP port; no ``trust`` left in pg_hba.conf."""
    info = os.lstat(folder)
    server = _postmaster(home)
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700, oct(info.st_mode)
    assert info.st_uid == server.uids().real
    if started_here:  # PostgreSQL no longer runs in root's group
        assert server.gids().real != 0 or server.uids().real == 0
    assert not [c for p in (server, *server.children()) for c in p.net_connections("inet")], "listens on TCP"
    rules = [line.split() for line in (home / "db" / "pg_hba.conf").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert rules and not [r for r in rules if "trust" in r], rules


def test_other_users_cannot_reach_the_embedded_server(long_home, unprivileged):
    owner, line = _start(OWNER, env=_env(long_home))
    try:
        found = json.loads(line)
        folder, port = found["host"], found["port"]
        assert "Permission denied" in probe_as(unprivileged, folder, port)
        # the owner connects as before (postgres, no password, through the socket folder); no TCP port
        assert found["row"] == ["postgres", "", "0700"] and found["password"] == ""
        assert len(os.fsencode(Path(folder) / f".s.PGSQL.{port}")) <= SOCKET_LIMIT
        _assert_private(folder, long_home)
        assert "password authentication failed" in _password_checked(folder, port)
        # second line of defence: with the folder and the socket opened up, peer authentication still refuses
        os.chmod(folder, 0o755)
        os.chmod(Path(folder) / f".s.PGSQL.{port}", 0o777)
        assert "Peer authentication failed" in probe_as(unprivileged, folder, port)
    finally:
        _end(owner)
    assert not Path(folder).exists()  # the last one out stops the server and removes its socket folder


def test_an_open_database_of_an_older_version_is_closed(long_home, unprivileged):
    """A server started by pgserver alone (trust, world-writable socket folder) is closed when EthoJoint joins it."""
    long_home.mkdir()
    old, line = _start(OLD_OWNER, str(long_home / "db"), env=_env(long_home))
    new = None
    try:
        folder, port = line.split()
        assert probe_as(unprivileged, folder, int(port)) == "connected"  # the hole (and a probe that works)
        new, line = _start(OWNER, env=_env(long_home))
        assert json.loads(line)["host"] == folder and json.loads(line)["row"][0] == "postgres"
        _assert_private(folder, long_home, started_here=False)
        assert "password authentication failed" in _password_checked(folder, int(port))  # reloaded: no trust
        assert "Permission denied" in probe_as(unprivileged, folder, int(port))
    finally:
        _end(*[p for p in (new, old) if p is not None])
