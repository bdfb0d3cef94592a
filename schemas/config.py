"""Where the database, the store and the data live.

Precedence, highest first (each source only fills what the ones above left
unset):

1. ``DJ_HOST`` / ``DJ_USER`` / ``DJ_PASS`` / ``DJ_BACKEND`` / ``DJ_PORT`` and
   ``ETHOJOINT_*`` environment variables;
2. ``dj_local_conf.json`` in the working directory (or the file named by
   ``ETHOJOINT_CONFIG``), same keys as ``dj_local_conf.example.json``;
3. DataJoint's own ``datajoint.json`` and ``.secrets/`` (read by datajoint);
4. otherwise, when none of these names a database host: the embedded
   PostgreSQL (``pgserver``) in ``<home>/db``, created on first use.

``<home>`` is ``ETHOJOINT_HOME`` or ``.ethojoint`` in the working directory.
Credentials are never printed: :func:`describe` masks them.

TLS to a database server (``ETHOJOINT_TLS`` / ``ethojoint.tls``, same
precedence; DataJoint's ``DJ_USE_TLS`` / ``database.use_tls`` is read after
it, ``true`` meaning ``require`` and ``false`` meaning ``off``):

- ``require``: encrypt or refuse to connect (the certificate is not verified,
  like MySQL's ``--ssl-mode=REQUIRED`` and libpq's ``sslmode=require``);
- ``prefer`` (default): encrypt when the server offers TLS, otherwise connect
  in plaintext with a one-line warning on stderr;
- ``off``: never try.

The embedded PostgreSQL (and any server reached through a Unix socket) never uses TLS.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputError

CONFIG_FILE = "dj_local_conf.json"
STORE = "ethojoint"  # the store name used by every <array@ethojoint> attribute
DEFAULT_PREFIX = "ethojoint_"
TLS_MODES = ("require", "prefer", "off")


@dataclass
class Settings:
    """EthoJoint's own settings (DataJoint's live in ``dj.config``)."""

    home: Path
    prefix: str = DEFAULT_PREFIX
    data_roots: list[Path] = field(default_factory=list)
    store_location: Path | None = None  # local store folder unless stores are configured
    embedded: bool = True
    tls: str = "prefer"  # one of TLS_MODES; ignored by the embedded server
    config_file: Path | None = None
    file_values: dict = field(default_factory=dict)

    @property
    def db_dir(self) -> Path:
        return self.home / "db"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise InputError(path, f"cannot read configuration: {err}") from err


def _flat(values: dict, prefix: str = "") -> dict:
    """Nested or dotted keys → dotted keys (stores kept as one dict)."""
    out = {}
    for key, value in values.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and full != "stores":
            out.update(_flat(value, f"{full}."))
        else:
            out[full] = value
    return out


def load_settings(cwd: Path | None = None) -> Settings:
    """Read the settings from the environment and the configuration files.

    Examples
    --------
    >>> load_settings().prefix  # without ETHOJOINT_PREFIX or a configuration file  # doctest: +SKIP
    'ethojoint_'
    """
    cwd = Path(cwd or os.getcwd())
    home = Path(os.environ.get("ETHOJOINT_HOME") or cwd / ".ethojoint").absolute()
    conf_path = Path(os.environ.get("ETHOJOINT_CONFIG") or cwd / CONFIG_FILE)
    values = _flat(_read_json(conf_path)) if conf_path.is_file() else {}

    dj_json = _datajoint_json(cwd)
    host_named = bool(
        os.environ.get("DJ_HOST") or values.get("database.host") or _flat(dj_json).get("database.host")
    )
    embedded_env = os.environ.get("ETHOJOINT_DB", "").lower()
    embedded = embedded_env == "embedded" or (not host_named and embedded_env != "server")

    roots_env = os.environ.get("ETHOJOINT_DATA_ROOTS")
    roots = roots_env.split(os.pathsep) if roots_env else values.get("ethojoint.data_roots", [])
    if isinstance(roots, str):
        roots = [roots]
    store = os.environ.get("ETHOJOINT_STORE") or values.get("ethojoint.store_location")
    tls = _tls_mode(values, dj_json)
    return Settings(
        home=home,
        prefix=os.environ.get("ETHOJOINT_PREFIX") or values.get("ethojoint.prefix") or DEFAULT_PREFIX,
        data_roots=[Path(r).expanduser().absolute() for r in roots if r],
        store_location=Path(store).absolute() if store else None,
        embedded=embedded,
        tls=tls,
        config_file=conf_path if conf_path.is_file() else None,
        file_values=values,
    )


def _tls_mode(values: dict, dj_json: dict) -> str:
    """``require`` | ``prefer`` | ``off`` from the first source that sets it (see the module docstring).

    Raises
    ------
    InputError
        A value that is none of these (named with the variable or key that gave it).
    """
    dj_values = _flat(dj_json)
    sources = (("ETHOJOINT_TLS", os.environ.get("ETHOJOINT_TLS")),
               ("DJ_USE_TLS", _tls_from_bool(os.environ.get("DJ_USE_TLS"))),
               ("ethojoint.tls", values.get("ethojoint.tls")),
               ("database.use_tls", _tls_from_bool(values.get("database.use_tls"))),
               ("datajoint.json: database.use_tls", _tls_from_bool(dj_values.get("database.use_tls"))))
    for name, value in sources:
        if value is None or value == "":
            continue
        mode = str(value).strip().lower()
        if mode not in TLS_MODES:
            raise InputError(name, f"{value!r}: use one of {', '.join(TLS_MODES)}")
        return mode
    return "prefer"


def _tls_from_bool(value):
    """DataJoint's boolean ``use_tls`` (``true``/``false``, or a bool) → a TLS mode; None when unset."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    return {"true": "require", "1": "require", "yes": "require",
            "false": "off", "0": "off", "no": "off"}.get(text, value)


def _datajoint_json(cwd: Path) -> dict:
    from datajoint.settings import find_config_file

    path = find_config_file(cwd)
    return _read_json(path) if path else {}


def describe(dj_config, settings: Settings) -> dict:
    """Connection facts safe to print (no password)."""
    return {
        "backend": dj_config["database.backend"],
        "host": dj_config["database.host"],
        "port": dj_config["database.port"],
        "user": dj_config["database.user"],
        "embedded": settings.embedded,
        "tls": "off" if settings.embedded else settings.tls,
        "prefix": settings.prefix,
        "config_file": str(settings.config_file) if settings.config_file else None,
        "store": {k: ("***" if k in ("secret_key", "access_key", "account_key", "token") else v)
                  for k, v in dj_config.stores.get(STORE, {}).items()},
        "data_roots": [str(r) for r in settings.data_roots],
    }


_current: Settings | None = None


def current() -> Settings:
    """The settings in force in this process (loaded on first use)."""
    global _current
    if _current is None:
        _current = load_settings()
    return _current


def set_current(settings: Settings) -> None:
    global _current
    _current = settings


def data_roots() -> list[Path]:
    """Folders that stored relative paths are resolved against."""
    return current().data_roots or [Path.cwd()]
