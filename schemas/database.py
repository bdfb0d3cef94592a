"""Connect DataJoint to the configured server or to the embedded PostgreSQL."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import datajoint as dj

from .config import STORE, Settings, load_settings

log = logging.getLogger("ethojoint")
_ENV = {"database.host": "DJ_HOST", "database.user": "DJ_USER", "database.password": "DJ_PASS",
        "database.backend": "DJ_BACKEND", "database.port": "DJ_PORT"}
_server = None  # the embedded pgserver handle of this process


def start_embedded(db_dir: Path):
    """Start (creating on first use) the embedded PostgreSQL in ``db_dir``.

    The server is shared by every process using the same folder and stops
    when the last of them exits (pgserver's ``cleanup_mode='stop'``).
    """
    global _server
    if _server is not None and Path(_server.pgdata) == db_dir:
        return _server
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    db_dir.mkdir(parents=True, exist_ok=True)
    _server = pgserver.get_server(db_dir, cleanup_mode="stop")
    return _server


def stop_embedded() -> None:
    """Stop the embedded server if this process is its last user."""
    global _server
    if _server is not None:
        _server.cleanup()
        _server = None


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
        if dj.config["database.backend"] == "postgresql" and dj.config["database.use_tls"] is None:
            dj.config["database.use_tls"] = False
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
    dj.config["jobs.version_method"] = "git"
    dj.config["safemode"] = os.environ.get("ETHOJOINT_SAFEMODE", "0") == "1"
    dj.config["loglevel"] = os.environ.get("DJ_LOG_LEVEL", "WARNING")
    return settings


def connect(settings: Settings | None = None) -> dj.Connection:
    """Configure and open the connection (a new one each call)."""
    configure(settings)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*MariaDB is not officially supported.*")
        return dj.conn(reset=True)


def server_version(connection: dj.Connection) -> str:
    return str(connection.query("SELECT version()").fetchone()[0])
