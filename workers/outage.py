"""Database outages: recognise a lost connection, and wait for the server to come back.

A worker that loses its database logs one ``db_lost`` event, tries to
reconnect with backoff (1 s, 2 s, 4 s, ... at most 30 s between tries) for up
to ``ETHOJOINT_DB_RETRY_S`` seconds (default 900), logs ``db_back`` and goes
on; only then does it give up (exit 3).
"""

from __future__ import annotations

import os
import time

DEFAULT_RETRY_S = 900.0
MAX_BACKOFF_S = 30.0
# PyMySQL / MySQL client and server codes that mean the connection is gone (not that a query was wrong)
MYSQL_CONNECTION_CODES = {1053, 1927, 2003, 2006, 2013, 2055, 4031}
# libpq messages of a lost or refused connection (psycopg2 raises OperationalError / InterfaceError for them)
POSTGRES_CONNECTION_TEXT = ("server closed the connection", "terminating connection", "could not connect",
                            "connection already closed", "connection refused", "no such file or directory",
                            "the database system is shutting down", "the database system is starting up",
                            "connection to server", "ssl syscall error", "server connection lost")


def retry_default() -> float:
    return float(os.environ.get("ETHOJOINT_DB_RETRY_S") or DEFAULT_RETRY_S)


def is_connection_error(err: BaseException | None) -> bool:
    """Whether ``err`` (or an exception it was raised from) says the database connection is lost.

    Examples
    --------
    >>> import datajoint as dj
    >>> is_connection_error(dj.errors.LostConnectionError("Server connection lost"))
    True
    >>> is_connection_error(ValueError("bad value"))
    False
    """
    from datajoint.errors import LostConnectionError

    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, LostConnectionError) or _driver_connection_error(err):
            return True
        err = err.__cause__ or err.__context__
    return False


def _driver_connection_error(err: BaseException) -> bool:
    kind = type(err)
    if kind.__name__ not in ("OperationalError", "InterfaceError"):
        return False
    if kind.__module__.startswith("pymysql"):
        return kind.__name__ == "InterfaceError" or (bool(err.args) and err.args[0] in MYSQL_CONNECTION_CODES)
    text = str(err).lower()
    return kind.__module__.startswith("psycopg") and any(t in text for t in POSTGRES_CONNECTION_TEXT)


def reachable(connection) -> bool:
    """Whether the server answers now, on a fresh session of ``connection`` (reconnected in place).

    A driver keeps a dead session "connected" until it is used (psycopg2 then raises a
    bare OperationalError that DataJoint does not retry), so this always reconnects;
    a transaction cut off by the loss is forgotten (the server rolled it back).
    """
    try:
        connection.connect()
        if connection.in_transaction:
            connection.cancel_transaction()
        connection.query("SELECT 1").fetchone()
        return True
    except Exception:  # noqa: BLE001 -- any failure means: not (yet) reachable
        return False


def wait_for_database(connection, *, give_up_s: float, sleep=time.sleep) -> float | None:
    """Reconnect ``connection`` with backoff; return the seconds waited, or None after ``give_up_s``.

    ``sleep`` is called between tries (a worker passes one that returns early on a stop signal
    and then ``wait_for_database`` returns None as well).
    """
    started = time.monotonic()
    delay = 1.0
    while True:
        if reachable(connection):
            return round(time.monotonic() - started, 3)
        left = give_up_s - (time.monotonic() - started)
        if left <= 0 or sleep(min(delay, left)) is False:
            return None
        delay = min(delay * 2, MAX_BACKOFF_S)
