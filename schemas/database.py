"""Connect DataJoint to the configured server or to the embedded PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import sys
import time
import warnings
from pathlib import Path

import datajoint as dj

from pipeline.errors import InputError

from .config import STORE, Settings, load_settings

log = logging.getLogger("ethojoint")
_ENV = {"database.host": "DJ_HOST", "database.user": "DJ_USER", "database.password": "DJ_PASS",
        "database.backend": "DJ_BACKEND", "database.port": "DJ_PORT"}
# use_tls for DataJoint's Connection when TLS is required. A non-empty dict:
# PyMySQL then refuses a server without TLS (an empty dict or True silently
# falls back to plaintext), and DataJoint's PostgreSQL adapter maps any dict to
# sslmode=require. The certificate is not verified (as MySQL's REQUIRED mode).
_REQUIRE_TLS = {"check_hostname": False, "verify_mode": False}


class TLSError(InputError):
    """``tls = require`` and the server did not negotiate TLS."""


class AccessDeniedError(InputError):
    """The database server refused the user (wrong password, unknown user or role)."""


class UnreachableError(InputError):
    """The database server could not be reached (not running, wrong host or port, network)."""


def _honour_use_tls_false() -> None:
    """Make DataJoint's ``use_tls=False`` mean "no TLS" again.

    DataJoint 2.3.5's ``Connection`` drops ``use_tls=False`` before calling the
    adapter (``conn_info`` then has no ``ssl``, so the adapter gets ``None``):
    PostgreSQL connects with ``sslmode=prefer`` and PyMySQL in its preferred
    mode, i.e. both still negotiate TLS. Patched once, here, for every caller.
    """
    from datajoint.connection import Connection

    original = Connection._build_connect_kwargs
    if getattr(original, "_ethojoint_tls_off", False):
        return

    def build_connect_kwargs(self, use_tls=None):
        kwargs = original(self, use_tls)
        if use_tls is None and self.conn_info.get("ssl_input") is False:
            kwargs["use_tls"] = False
        return kwargs

    build_connect_kwargs._ethojoint_tls_off = True
    Connection._build_connect_kwargs = build_connect_kwargs


_honour_use_tls_false()


def start_embedded(db_dir: Path):
    """Start (creating on first use) the embedded PostgreSQL in ``db_dir``, or join it (see :mod:`schemas.embedded`).

    The server is shared by every process using the same folder and stops
    when the last of them exits. Only the system user who runs EthoJoint can
    reach it.
    """
    from . import embedded  # imports pgserver: only where the embedded server is used

    return embedded.start(db_dir)


def stop_embedded() -> None:
    """Stop the embedded server if this process is its last user."""
    from . import embedded

    embedded.stop()


def configure(settings: Settings | None = None) -> Settings:
    """Fill ``dj.config`` from the settings (see :mod:`schemas.config`)."""
    settings = settings or load_settings()
    if settings.config_file is not None:
        dj.config.load(settings.config_file)  # DJ_* environment variables still win
    if settings.embedded:
        info = start_embedded(settings.db_dir).get_postmaster_info()
        dj.config["database.backend"] = "postgresql"
        dj.config["database.host"] = str(info.socket_dir)
        dj.config["database.port"] = int(info.port)
        dj.config["database.user"] = "postgres"
        dj.config["database.password"] = ""
        dj.config["database.use_tls"] = False
    else:
        for key, env in _ENV.items():  # re-read: the environment may have changed since import
            if os.environ.get(env):
                dj.config[key] = int(os.environ[env]) if key == "database.port" else os.environ[env]
        if dj.config["database.password"] is None:
            dj.config["database.password"] = ""
        # for code that calls dj.conn(reset=True) itself (DataJoint's True still falls back to plaintext
        # on MySQL); connect() passes TLS explicitly and checks the result
        dj.config["database.use_tls"] = {"require": True, "prefer": None, "off": False}[settings.tls]
    if STORE not in dj.config.stores or settings.store_location is not None:
        # ETHOJOINT_STORE (or the embedded default) is re-read on every
        # configure: a process that reconnects elsewhere must not keep the old folder
        location = settings.store_location or settings.home / "store"
        location.mkdir(parents=True, exist_ok=True)
        dj.config.stores[STORE] = {"protocol": "file", "location": str(location)}
    elif dj.config.stores[STORE].get("protocol") == "file":
        Path(dj.config.stores[STORE]["location"]).mkdir(parents=True, exist_ok=True)
    dj.config.stores.setdefault("default", STORE)
    dj.config["jobs.add_job_metadata"] = True
    # not "git": DataJoint would run `git rev-parse` in the current folder three times per job (forks of a
    # large process: half of a short job's overhead), and record whatever repository that folder is in;
    # every computed row's provenance records the EthoJoint checkout's commit (pipeline.provenance)
    dj.config["jobs.version_method"] = "none"
    # deleting asks first on a shared server (ETHOJOINT_SAFEMODE=0 turns it off, =1 on for the embedded one)
    dj.config["safemode"] = os.environ.get("ETHOJOINT_SAFEMODE", "0" if settings.embedded else "1") == "1"
    dj.config["loglevel"] = os.environ.get("DJ_LOG_LEVEL", "WARNING")
    return settings


def connect(settings: Settings | None = None) -> dj.Connection:
    """Configure and open the connection (a new one each call), with TLS as ``settings.tls`` says.

    Raises
    ------
    TLSError
        ``tls`` is ``require`` and the server does not offer TLS (or the handshake failed).
    AccessDeniedError
        The server refused the user (wrong password, unknown user or role).
    UnreachableError
        The server could not be reached.
    """
    settings = configure(settings)
    mode = "off" if settings.embedded or _is_socket(dj.config["database.host"]) else settings.tls
    try:
        connection, reason = _open(mode)  # reason None: TLS is off, nothing to check
    except Exception as err:
        denied = _access_denied(err)
        if denied is None and _unreachable(err):
            raise UnreachableError(f"database ({dj.config['database.backend']})",
                                   f"cannot reach the server at {dj.config['database.host']}:"
                                   f"{dj.config['database.port']} ({_one_line(err)}); is it running? "
                                   "check DJ_HOST / DJ_PORT or dj_local_conf.json") from err
        if denied is None:
            raise
        raise AccessDeniedError(f"database ({dj.config['database.backend']})",
                                f"access denied for user {dj.config['database.user']!r} at host "
                                f"{dj.config['database.host']}:{dj.config['database.port']} ({denied}); "
                                "check DJ_USER / DJ_PASS or dj_local_conf.json") from err
    if reason is None:
        return connection
    if not is_encrypted(connection):
        if mode == "require":  # not reached with PyMySQL/libpq, which refuse first; never trust that silently
            raise TLSError(f"tls=require ({_target()})", "the connection is not encrypted")
        print(f"ethojoint: warning: the connection to {_target()} is NOT encrypted ({reason}); "
              "set ETHOJOINT_TLS=require to refuse plaintext, or ETHOJOINT_TLS=off to silence this",
              file=sys.stderr, flush=True)
    return connection


def _open(mode: str) -> tuple[dj.Connection, str | None]:
    """The connection (TLS first unless ``mode`` is off) and why it would not be encrypted (None: off)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*MariaDB is not officially supported.*")
        if mode == "off":
            return dj.conn(reset=True, use_tls=False), None
        try:
            return dj.conn(reset=True, use_tls=_REQUIRE_TLS), "the server offers no TLS"
        except Exception as err:
            if _access_denied(err) is not None or not _tls_failure(err):
                raise  # wrong password, unreachable host, ...: not a TLS problem
            if mode == "require":
                raise TLSError(f"tls=require ({_target()})",
                               f"TLS could not be negotiated ({_one_line(err)}); enable TLS on the server, "
                               "or set ETHOJOINT_TLS=prefer to allow plaintext") from err
            reason = ("the server offers no TLS" if "support" in _one_line(err)  # "does(n't) not support SSL"
                      else f"the TLS handshake failed: {_one_line(err)}")
            return dj.conn(reset=True, use_tls=False), reason


def _access_denied(err: BaseException) -> str | None:
    """Why the server refused the user (MySQL error 1045/1698, libpq's FATAL messages), else None."""
    for e in (err, err.__cause__, err.__context__):
        args = getattr(e, "args", None) or ()
        if args and args[0] in (1045, 1698):  # ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR
            return "wrong password or unknown user"
        text = str(e or "")
        if "password authentication failed" in text:
            return "password authentication failed"
        if "role " in text and "does not exist" in text:
            return "no such role"
        if "Peer authentication failed" in text:
            return "peer authentication failed: this system user may not log in as that role"
        if "no pg_hba.conf entry" in text:
            return "no pg_hba.conf entry allows this user from this host"
    return None


def _unreachable(err: BaseException) -> bool:
    """Whether connecting failed because the server could not be reached (refused, unknown host, timeout)."""
    for e in (err, err.__cause__, err.__context__):
        args = getattr(e, "args", None) or ()
        if args and args[0] in (2002, 2003, 2005, 2006, 2013):  # CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST, ...
            return True
        text = str(e or "").lower()
        if type(e).__name__ == "OperationalError" and any(t in text for t in (
                "connection refused", "could not translate host name", "timeout expired", "no route to host",
                "no such file or directory", "network is unreachable", "name or service not known")):
            return True
    return False


def is_encrypted(connection: dj.Connection) -> bool:
    """Whether this session with the server runs over TLS (asked of the server)."""
    if connection.adapter.backend == "mysql":
        row = connection.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'").fetchone()
        return bool(row and row[1])
    row = connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    return bool(row and row[0])


def _is_socket(host) -> bool:
    return str(host or "").startswith("/")  # PostgreSQL's Unix-socket folder: local, TLS does not apply


def _target() -> str:
    return f"{dj.config['database.backend']} {dj.config['database.user']}@{dj.config['database.host']}:" \
           f"{dj.config['database.port']}"


def _tls_failure(err: BaseException) -> bool:
    """Whether connecting failed because of TLS (no TLS on the server, or a failed handshake)."""
    for e in (err, err.__cause__, err.__context__):
        if isinstance(e, ssl.SSLError):
            return True
        if e is not None and getattr(e, "args", None) and e.args[0] == 2026:  # MySQL CR_SSL_CONNECTION_ERROR
            return True
        if e is not None and "SSL" in str(e):
            return True  # libpq: "server does not support SSL, but SSL was required", "SSL error: ..."
    return False


def _one_line(err: BaseException) -> str:
    args = getattr(err, "args", ())
    text = str(args[1]) if len(args) == 2 and isinstance(args[0], int) else str(err)  # PyMySQL: (code, message)
    return " ".join(text.split()) or type(err).__name__


def server_version(connection: dj.Connection) -> str:
    return str(connection.query("SELECT version()").fetchone()[0])


@contextlib.contextmanager
def named_lock(connection: dj.Connection, name: str, *, wait_s: int = 3600):
    """Hold a server-wide lock ``name`` (MySQL ``GET_LOCK``, PostgreSQL advisory lock) for the block.

    Serialises what must not run twice at once against one database (declaring
    the schemas, inserting a manifest), whichever machine runs it. Prints a
    line when another process holds it; raises :class:`InputError` after
    ``wait_s`` seconds.
    """
    mysql = connection.adapter.backend == "mysql"
    take = "SELECT GET_LOCK(%s, %s)" if mysql else "SELECT pg_try_advisory_lock(hashtext(%s))"
    release = "SELECT RELEASE_LOCK(%s)" if mysql else "SELECT pg_advisory_unlock(hashtext(%s))"

    def attempt(seconds: int) -> bool:
        args = (name, seconds) if mysql else (name,)
        return bool(connection.query(take, args=args).fetchone()[0])

    if not attempt(0):
        print(f"waiting for another process to finish ({name}) ...", file=sys.stderr)
        deadline = time.monotonic() + wait_s
        while not attempt(5 if mysql else 0):
            if time.monotonic() > deadline:
                raise InputError(name, f"another process held the lock for over {wait_s} s")
            if not mysql:
                time.sleep(0.5)
    try:
        yield
    finally:
        connection.query(release, args=(name,))
