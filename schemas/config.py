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
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputError

CONFIG_FILE = "dj_local_conf.json"
STORE = "ethojoint"  # the store name used by every <npy@ethojoint> attribute
DEFAULT_PREFIX = "ethojoint_"


@dataclass
class Settings:
    """EthoJoint's own settings (DataJoint's live in ``dj.config``)."""

    home: Path
    prefix: str = DEFAULT_PREFIX
    data_roots: list[Path] = field(default_factory=list)
    store_location: Path | None = None  # local store folder unless stores are configured
    embedded: bool = True
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
    >>> s = load_settings()  # doctest: +SKIP
    >>> s.prefix
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
    return Settings(
        home=home,
        prefix=os.environ.get("ETHOJOINT_PREFIX") or values.get("ethojoint.prefix") or DEFAULT_PREFIX,
        data_roots=[Path(r).expanduser().absolute() for r in roots if r],
        store_location=Path(store).absolute() if store else None,
        embedded=embedded,
        config_file=conf_path if conf_path.is_file() else None,
        file_values=values,
    )


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
