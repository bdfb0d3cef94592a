"""TLS to a database server: ``require`` | ``prefer`` | ``off`` (``ETHOJOINT_TLS`` / ``ethojoint.tls``).

Checked on real servers, each mode in a subprocess (a connection changes
DataJoint's process-wide state):

- the MariaDB of the integration tests (``ETHOJOINT_TEST_MYSQL_*``) and the
  PostgreSQL at ``ETHOJOINT_TEST_PG_HOST`` (default 127.0.0.1:5432, user
  ``ETHOJOINT_TEST_PG_USER``, default postgres), as they are configured: when
  the server offers no TLS, ``require`` must refuse with a clear error and
  ``prefer`` connect with one warning line on stderr;
- a MariaDB and a PostgreSQL started here with a self-signed certificate:
  ``require`` and ``prefer`` encrypt (no warning), ``off`` does not.

Every server and tool these tests need is on every machine of this project
(and CI's); one that is missing or unreachable fails the test, never skips it.
"""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pipeline.errors import InputError
from schemas.config import load_settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
_ROOT = os.geteuid() == 0
_CLEAR = ("ETHOJOINT_TLS", "DJ_USE_TLS", "ETHOJOINT_CONFIG", "ETHOJOINT_DB", "ETHOJOINT_PREFIX", "ETHOJOINT_STORE",
          "DJ_HOST", "DJ_USER", "DJ_PASS", "DJ_BACKEND", "DJ_PORT")

# Runs in a subprocess: connect once per mode given on the command line, print one JSON object.
_PROBE = r"""
import contextlib, io, json, os, sys
from schemas.database import TLSError, connect, is_encrypted
out = {}
for mode in sys.argv[1:]:
    os.environ["ETHOJOINT_TLS"] = mode
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            connection = connect()
            out[mode] = {"encrypted": is_encrypted(connection)}
            connection.close()
        except TLSError as e:
            out[mode] = {"error": str(e)}
    out[mode]["stderr"] = err.getvalue()
print(json.dumps(out))
"""


def _env(backend: str, host: str, port: int, user: str, password: str, home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _CLEAR}
    env.update(ETHOJOINT_DB="server", DJ_BACKEND=backend, DJ_HOST=host, DJ_PORT=str(port), DJ_USER=user,
               DJ_PASS=password, ETHOJOINT_HOME=str(home), PYTHONPATH=str(REPO))
    return env


def _probe(env: dict, cwd: Path, modes=("require", "prefer", "off")) -> dict:
    result = subprocess.run([sys.executable, "-c", _PROBE, *modes], env=env, cwd=cwd, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _check(found: dict, server_has_tls: bool, backend: str) -> None:
    """What each mode must do against a server with or without TLS."""
    if server_has_tls:
        for mode in ("require", "prefer"):
            assert found[mode] == {"encrypted": True, "stderr": ""}, (mode, found[mode])
    else:
        error = found["require"].get("error", "")
        assert "tls=require" in error and f"{backend} " in error and "TLS could not be negotiated" in error, found
        assert "ETHOJOINT_TLS=prefer" in error and found["require"]["stderr"] == "", found
        assert found["prefer"]["encrypted"] is False, found
        warning = found["prefer"]["stderr"]
        assert warning.count("\n") == 1 and warning.startswith("ethojoint: warning:"), warning
        assert "NOT encrypted" in warning and "ETHOJOINT_TLS=require" in warning, warning
    assert found["off"] == {"encrypted": False, "stderr": ""}, found["off"]  # never tries, never warns


# --- the setting ---------------------------------------------------------------------------------------------


def test_tls_setting_precedence(tmp_path, monkeypatch):
    for key in _CLEAR:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ETHOJOINT_HOME", str(tmp_path / "home"))
    assert load_settings(tmp_path).tls == "prefer"  # the default
    conf = tmp_path / "dj_local_conf.json"
    conf.write_text(json.dumps({"database.host": "db.lab", "database.use_tls": False}))
    assert load_settings(tmp_path).tls == "off"  # DataJoint's own boolean, when ethojoint.tls is unset
    conf.write_text(json.dumps({"database.host": "db.lab", "database.use_tls": False, "ethojoint": {"tls": "require"}}))
    assert load_settings(tmp_path).tls == "require"  # ethojoint.tls (nested or dotted) wins over it
    monkeypatch.setenv("DJ_USE_TLS", "false")
    assert load_settings(tmp_path).tls == "off"  # the environment wins over the file
    monkeypatch.setenv("ETHOJOINT_TLS", "Prefer")
    assert load_settings(tmp_path).tls == "prefer"  # ETHOJOINT_TLS wins over DJ_USE_TLS
    monkeypatch.setenv("ETHOJOINT_TLS", "maybe")
    with pytest.raises(InputError, match=r"ETHOJOINT_TLS: 'maybe': use one of require, prefer, off"):
        load_settings(tmp_path)
    monkeypatch.delenv("ETHOJOINT_TLS")
    monkeypatch.delenv("DJ_USE_TLS")
    conf.write_text(json.dumps({"ethojoint.tls": "on"}))
    with pytest.raises(InputError, match=r"ethojoint.tls: 'on'"):
        load_settings(tmp_path)


# --- the servers of this machine, as configured -----------------------------------------------------------------


def _server(variable: str, default: str, what: str) -> tuple[str, int]:
    """(host, port) of a server named by ``variable``; fails the test when nothing answers there."""
    host, _, port = os.environ.get(variable, default).partition(":")
    port = int(port or default.rpartition(":")[2])
    try:
        with socket.create_connection((host, port), timeout=3):
            return host, port
    except OSError:
        pytest.fail(f"{what} at {host}:{port} ({variable}) is unreachable")


def _tool(path: str | None, what: str) -> str:
    if not path:
        pytest.fail(f"{what} is not installed (the TLS tests start their own server)")
    return path


def test_mariadb_as_configured(tmp_path):
    import pymysql

    host, port = _server("ETHOJOINT_TEST_MYSQL_HOST", "127.0.0.1:3306", "MariaDB")
    user = os.environ.get("ETHOJOINT_TEST_MYSQL_USER", "ethojoint")
    password = os.environ.get("ETHOJOINT_TEST_MYSQL_PASS", "ethojoint")
    conn = pymysql.connect(host=host, port=port, user=user, password=password, ssl_disabled=True)
    with conn, conn.cursor() as cursor:
        cursor.execute("SHOW VARIABLES LIKE 'have_ssl'")
        has_tls = (cursor.fetchone() or ("", ""))[1] == "YES"
    found = _probe(_env("mysql", host, port, user, password, tmp_path / "home"), tmp_path)
    print(f"MariaDB {host}:{port} TLS {'on' if has_tls else 'off'}: {found}")
    _check(found, has_tls, "mysql")


def test_postgresql_server_as_configured(tmp_path):
    import psycopg2

    host, port = _server("ETHOJOINT_TEST_PG_HOST", "127.0.0.1:5432", "PostgreSQL")
    user = os.environ.get("ETHOJOINT_TEST_PG_USER", "postgres")
    password = os.environ.get("ETHOJOINT_TEST_PG_PASS", "")
    with psycopg2.connect(host=host, port=port, user=user, password=password, dbname="postgres",
                          sslmode="disable") as conn, conn.cursor() as cursor:
        cursor.execute("SHOW ssl")
        has_tls = cursor.fetchone()[0] == "on"
    conn.close()
    found = _probe(_env("postgresql", host, port, user, password, tmp_path / "home"), tmp_path)
    print(f"PostgreSQL {host}:{port} TLS {'on' if has_tls else 'off'}: {found}")
    _check(found, has_tls, "postgresql")


def test_prefer_warning_goes_to_stderr_only(tmp_path):
    """Commands that print JSON (``db status``) keep a clean stdout when the warning is printed."""
    host, port = _server("ETHOJOINT_TEST_MYSQL_HOST", "127.0.0.1:3306", "MariaDB")
    env = _env("mysql", host, port, os.environ.get("ETHOJOINT_TEST_MYSQL_USER", "ethojoint"),
               os.environ.get("ETHOJOINT_TEST_MYSQL_PASS", "ethojoint"), tmp_path / "home")
    code = ("import json; from schemas.database import connect, is_encrypted; c = connect(); "
            "print(json.dumps({'encrypted': is_encrypted(c)}))")
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    encrypted = json.loads(result.stdout)["encrypted"]  # stdout is exactly the JSON
    assert len(result.stderr.splitlines()) == (0 if encrypted else 1), result.stderr


# --- servers started here with TLS --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _self_signed(folder: Path, owner: str | None) -> tuple[Path, Path]:
    openssl = _tool(shutil.which("openssl"), "openssl")
    cert, key = folder / "server.crt", folder / "server.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    key.chmod(0o600)
    if owner:
        for path in (cert, key):
            shutil.chown(path, owner, owner)
    return cert, key


def _as(owner: str | None) -> dict:
    """subprocess arguments that run a server as ``owner`` (only when we are root)."""
    return {"user": owner, "group": owner, "extra_groups": []} if owner else {}


def _wait_until(ready, proc: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            ready()
            return
        except Exception:  # noqa: BLE001 -- not up yet
            time.sleep(0.3)
    pytest.fail(f"{what} did not start in 60 s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def tls_folder():
    folder = Path(tempfile.mkdtemp(prefix="ej_tls_"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def mariadb_tls(tls_folder):
    """A throw-away MariaDB with a self-signed certificate on a free port (root, no password)."""
    mariadbd = _tool(shutil.which("mariadbd") or next((p for p in ("/usr/sbin/mariadbd",) if Path(p).exists()), None),
                     "mariadbd")
    install = _tool(shutil.which("mariadb-install-db"), "mariadb-install-db")
    owner = "mysql" if _ROOT else None
    folder = tls_folder / "mariadb"
    folder.mkdir()
    if owner:
        shutil.chown(folder, owner, owner)
    cert, key = _self_signed(folder, owner)
    subprocess.run([install, "--no-defaults", f"--datadir={folder / 'data'}",
                    "--auth-root-authentication-method=normal", "--skip-test-db",
                    *([f"--user={owner}"] if owner else [])],
                   check=True, capture_output=True, timeout=120)
    port, log = _free_port(), folder / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([mariadbd, "--no-defaults", f"--datadir={folder / 'data'}", f"--port={port}",
                                 "--bind-address=127.0.0.1", f"--socket={folder / 'sock'}",
                                 f"--pid-file={folder / 'pid'}", f"--ssl-cert={cert}", f"--ssl-key={key}",
                                 "--innodb-buffer-pool-size=16M", "--skip-log-bin",
                                 *([f"--user={owner}"] if owner else [])],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        import pymysql

        _wait_until(lambda: pymysql.connect(host="127.0.0.1", port=port, user="root", ssl_disabled=True).close(),
                    proc, log, "the TLS MariaDB")
        yield {"host": "127.0.0.1", "port": port, "user": "root", "password": ""}
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def postgresql_tls(tls_folder):
    """A throw-away PostgreSQL cluster with ``ssl=on`` and a self-signed certificate (trust auth)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = _tool(found[-1] if found else shutil.which("initdb"), "PostgreSQL's initdb")
    postgres = str(Path(initdb).with_name("postgres"))
    owner = "postgres" if _ROOT else None
    folder = tls_folder / "postgresql"
    folder.mkdir()
    if owner:
        shutil.chown(folder, owner, owner)
    cert, key = _self_signed(folder, owner)
    subprocess.run([initdb, "-D", str(folder / "data"), "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True, timeout=120, cwd=folder, **_as(owner))
    port, log = _free_port(), folder / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([postgres, "-D", str(folder / "data"), "-p", str(port), "-k", str(folder),
                                 "-c", "listen_addresses=127.0.0.1", "-c", "ssl=on", "-c", f"ssl_cert_file={cert}",
                                 "-c", f"ssl_key_file={key}", "-c", "fsync=off"],
                                stdout=out, stderr=subprocess.STDOUT, cwd=folder, **_as(owner))
    try:
        import psycopg2

        _wait_until(lambda: psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                                             sslmode="disable").close(), proc, log, "the TLS PostgreSQL")
        yield {"host": "127.0.0.1", "port": port, "user": "postgres", "password": ""}
    finally:
        _stop(proc, signal.SIGINT)  # fast shutdown


def test_mariadb_with_tls(mariadb_tls, tmp_path):
    s = mariadb_tls
    found = _probe(_env("mysql", s["host"], s["port"], s["user"], s["password"], tmp_path / "home"), tmp_path)
    print(f"TLS MariaDB: {found}")
    _check(found, True, "mysql")


def test_postgresql_with_tls(postgresql_tls, tmp_path):
    s = postgresql_tls
    found = _probe(_env("postgresql", s["host"], s["port"], s["user"], s["password"], tmp_path / "home"), tmp_path)
    print(f"TLS PostgreSQL: {found}")
    _check(found, True, "postgresql")
