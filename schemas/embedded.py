"""The embedded PostgreSQL (pgserver), reachable by the system user who runs EthoJoint and by nobody else.

pgserver alone leaves it open to every local user: it initialises the
database with ``trust`` authentication, and when the data folder's path is
too long for a Unix socket (107 bytes) it moves the socket to
``<runtime dir>/python_PostgresServer/<hash>``, which it makes world-writable
(0777) when it runs as root, so any local user became the ``postgres``
superuser (who can run programs). Here, on every start:

- the socket lives in a private folder made with ``mkdtemp`` under the
  temporary folder (short, whatever ``ETHOJOINT_HOME`` is), owned by the
  system user who runs the server, mode 0700; the socket file itself is 0700
  (``unix_socket_permissions``) and there is no TCP port (``-h ""``);
- ``pg_hba.conf`` lets the ``postgres`` role in only by peer authentication of
  the system user who runs EthoJoint (``pg_ident.conf`` map ``ethojoint``),
  other roles with their password, TCP never; the files are rewritten at each
  start, so a database made by an older version (``trust``) is closed too,
  and a server already running is reloaded and its socket folder made private;
- when root starts it, PostgreSQL runs as pgserver's system user with that
  user's group only (pgserver's own start kept root's groups).

The server is shared by every process using the same data folder and stops
when the last of them exits (pgserver's ``cleanup_mode='stop'``).
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import InputError

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # pgserver's lock folder, set at its import
from pgserver._commands import pg_ctl  # noqa: E402
from pgserver.postgres_server import PostgresServer  # noqa: E402
from pgserver.utils import PostmasterInfo, process_is_running  # noqa: E402

SOCKET_PREFIX = "ethojoint-pg-"  # the socket folders this module makes (and removes)
MAX_SOCKET_PATH = 103  # bytes of a Unix socket path: 107 on Linux, 103 on macOS
IDENT_MAP = "ethojoint"
HBA = f"""\
# Written by EthoJoint at every start (schemas/embedded.py): edits are lost.
# The postgres role: only the system user who runs EthoJoint (peer, map {IDENT_MAP} in
# pg_ident.conf); other roles: their password; TCP: never (the server listens on no port).
local   all   postgres   peer map={IDENT_MAP}
local   all   all        scram-sha-256
host    all   all        all   reject
"""
_server = None  # this process's handle on the embedded server


@dataclass(frozen=True)
class Account:
    """A system user: the one who runs the PostgreSQL server."""

    name: str
    uid: int
    gid: int

    @classmethod
    def named(cls, name: str) -> Account:
        entry = pwd.getpwnam(name)
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    def run_as(self) -> dict:
        """``subprocess.run`` arguments that run a program as this user, with its own group only."""
        return {} if self.uid == os.geteuid() else {"user": self.uid, "group": self.gid, "extra_groups": []}


def client_name() -> str:
    """The name of the system user who runs this process (the one peer authentication lets in).

    Raises
    ------
    InputError
        The user id has no name (e.g. a container started with ``--user 1234``).
    """
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        raise InputError("embedded PostgreSQL", f"user id {os.geteuid()} has no name in /etc/passwd, so the "
                                                "server cannot recognise it (peer authentication): give it a "
                                                "name, or use a database server") from None


class EmbeddedServer(PostgresServer):
    """pgserver's server, started and joined the way the module docstring says."""

    def account(self) -> Account:
        """The system user who runs PostgreSQL: pgserver's own when we are root, else ours."""
        return Account.named(self.system_user or client_name())

    def ensure_postgres_running(self) -> None:
        """Start the server, or join the running one (called by pgserver under its lock, after initdb)."""
        server = self.account()
        write_auth(self.pgdata, server, client_name())
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is not None and info.is_running():
            # it may run with older rules (an older version's trust) and socket folder: both fixed in place
            pg_ctl(["reload"], pgdata=self.pgdata, cwd=self.pgdata, **server.run_as())
            make_private(info.socket_dir, server)
            self._postmaster_info = info
            return
        if info is not None:  # it died (SIGKILL, reboot): its socket folder is left
            remove_socket_folder(info.socket_dir, server)
        self._postmaster_info = self._start(server)

    def _start(self, server: Account) -> PostmasterInfo:
        folder = private_socket_folder(server)
        try:
            return run_postgres(self.pgdata, server, folder)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            remove_socket_folder(folder, server)
            last = self.log.read_text(errors="replace").strip().splitlines()[-1:] if self.log.exists() else []
            raise InputError(self.pgdata, f"the embedded PostgreSQL did not start ({' '.join(last) or err}); "
                                          f"its log: {self.log}") from err

    def _cleanup(self) -> None:
        super()._cleanup()  # stops the server if this process was its last user
        info = self._postmaster_info
        if info is not None and not (self.pgdata / "postmaster.pid").exists():
            remove_socket_folder(info.socket_dir, self.account())


def run_postgres(pgdata: Path, server: Account, folder: Path) -> PostmasterInfo:
    """Start PostgreSQL on ``pgdata`` as ``server``, listening only on a socket in ``folder`` (made private)."""
    args = ["-w", "-o", '-h ""', "-o", f"-k {folder}", "-o", "-c unix_socket_permissions=0700",
            "-l", str(pgdata / "log"), "start"]
    pg_ctl(args, pgdata=pgdata, timeout=120, cwd=pgdata, **server.run_as())
    return _wait_ready(pgdata)


def stop_postgres(pgdata: Path, server: Account) -> None:
    """Stop the server on ``pgdata`` now (fast shutdown: open transactions are rolled back), keeping its socket
    folder; :func:`run_postgres` with that folder starts it again (what an administrator's restart does)."""
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, timeout=120, cwd=pgdata, **server.run_as())


def _wait_ready(pgdata: Path, wait_s: float = 30) -> PostmasterInfo:
    deadline = time.monotonic() + wait_s
    while True:
        info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is not None and info.is_running() and info.status == "ready":
            return info
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired("postgres", wait_s)
        time.sleep(0.2)


def write_auth(pgdata: Path, server: Account, client: str) -> None:
    """Write ``pg_hba.conf`` and ``pg_ident.conf`` (owned by ``server``, mode 0600), each replaced in one step.

    Only ``client`` (a system user name) may connect as ``postgres``.
    """
    wanted = {"pg_hba.conf": HBA,
              "pg_ident.conf": f"# Written by EthoJoint at every start.\n{IDENT_MAP}   {client}   postgres\n"}
    for name, text in wanted.items():
        path = pgdata / name
        if path.is_file() and path.read_text() == text and os.stat(path).st_uid == server.uid:
            continue
        new = pgdata / f"{name}.ethojoint"
        new.unlink(missing_ok=True)
        fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
            if os.geteuid() != server.uid:
                os.fchown(out.fileno(), server.uid, server.gid)
        os.replace(new, path)


def private_socket_folder(server: Account) -> Path:
    """A new folder for the socket, short enough for a Unix socket path, owned by ``server``, mode 0700.

    Raises
    ------
    InputError
        Neither the temporary folder nor ``/tmp`` can hold one safely.
    """
    for base in dict.fromkeys((tempfile.gettempdir(), "/tmp")):
        if not _safe_base(Path(base), server):
            continue
        folder = Path(tempfile.mkdtemp(prefix=SOCKET_PREFIX, dir=base))  # mode 0700, a name nobody could pre-empt
        if len(os.fsencode(folder / ".s.PGSQL.65535")) <= MAX_SOCKET_PATH and " " not in str(folder):
            make_private(folder, server)
            return folder
        folder.rmdir()
    raise InputError("embedded PostgreSQL", f"no short private folder for its socket under {tempfile.gettempdir()} "
                                            "or /tmp: set TMPDIR to a short folder that only you (or root) can "
                                            "write, or that has the sticky bit")


def _safe_base(base: Path, server: Account) -> bool:
    """Whether a folder made in ``base`` stays ours: nobody else may rename it, and ``server`` can reach it."""
    try:
        info = base.stat()
    except OSError:
        return False
    owned = info.st_uid in (0, os.geteuid())
    others_write = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    reachable = server.uid == os.geteuid() or all(p.stat().st_mode & stat.S_IXOTH for p in (base, *base.parents))
    return stat.S_ISDIR(info.st_mode) and owned and (not others_write or info.st_mode & stat.S_ISVTX) and reachable


def make_private(folder: Path, server: Account) -> None:
    """Make ``folder`` (not a symbolic link) belong to ``server`` only: mode 0700.

    Raises
    ------
    InputError
        ``folder`` is not a folder, or belongs to another user than root, this process's or ``server``.
    """
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as err:
        raise InputError(folder, f"the embedded PostgreSQL's socket folder cannot be opened ({err.strerror}): "
                                 "refused") from err
    try:
        info = os.fstat(fd)
        if info.st_uid not in (0, os.geteuid(), server.uid):
            raise InputError(folder, f"the embedded PostgreSQL's socket folder belongs to user id {info.st_uid}: "
                                     "refused; stop the server that uses it and start again")
        if info.st_uid != server.uid or info.st_gid != server.gid:
            os.fchown(fd, server.uid, server.gid)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def remove_socket_folder(folder: Path | None, server: Account) -> None:
    """Remove a socket folder this module made (and nothing else) once its server has stopped."""
    if folder is None or not folder.name.startswith(SOCKET_PREFIX):
        return
    try:
        info = folder.lstat()
    except OSError:
        return
    if stat.S_ISDIR(info.st_mode) and info.st_uid == server.uid:
        shutil.rmtree(folder, ignore_errors=True)


def start(db_dir: Path) -> EmbeddedServer:
    """Start (creating on first use) the embedded PostgreSQL in ``db_dir``, or join it."""
    global _server
    pgdata = db_dir.expanduser().absolute().resolve()
    if _server is not None and _server.pgdata == pgdata:
        return _server
    pgdata.mkdir(parents=True, exist_ok=True)
    _server = EmbeddedServer(pgdata, cleanup_mode="stop")
    atexit.register(_forget_dead_users, _server)  # runs before pgserver's own exit hook (last in, first out)
    _exit_cleanly_on_sigterm()
    return _server


def stop() -> None:
    """Stop the embedded server if this process is its last user."""
    global _server
    if _server is not None:
        _server.cleanup()
        _server = None


def _exit_cleanly_on_sigterm() -> None:
    """Make SIGTERM raise SystemExit (where nothing else handles it), so that the exit hooks stop the server.

    Python's default SIGTERM handling ends the process without running them,
    which left the embedded server running after a killed test run.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_exit)


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)


def _forget_dead_users(server) -> None:
    """Drop the processes that died without saying goodbye (SIGKILL) from pgserver's list of server users.

    pgserver stops the server when the last process on its list exits; a
    process killed with SIGKILL never leaves the list, so without this the
    server would outlive everyone (found orphaned after a test run).
    """
    users = server.global_process_id_list
    with server._lock:
        users.put([pid for pid in users.get() if pid == os.getpid() or process_is_running(pid)])
