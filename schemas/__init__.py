"""EthoJoint's DataJoint schemas.

Call :func:`activate` once per process: it connects (see
:mod:`schemas.config` for where the database is) and declares every schema,
in dependency order, under one name prefix (default ``ethojoint_``).
"""

from __future__ import annotations

import re
import warnings

warnings.filterwarnings("ignore", message="No datajoint.json found")
warnings.filterwarnings("ignore", message=".*MariaDB is not officially supported.*")

import datajoint as dj  # noqa: E402

# isort: off
from . import store  # noqa: E402,F401  (registers the <array@> codec before any table is declared)
from . import agreement, annotation, behavior, calibration, classifier, features, keypoints, labeling, membership, models, motion, operations, pose, prediction, quality, recording, session, subject, triangulation, versions  # noqa: E402,E501
# isort: on
from .config import Settings, load_settings, set_current  # noqa: E402
from .database import connect, named_lock  # noqa: E402

MODULES = (subject, session, recording, pose, models, labeling, quality, calibration, triangulation, versions, behavior,
           keypoints, membership, annotation, agreement, features, classifier, prediction, motion, operations)


def schema_name(prefix: str, module) -> str:
    """Database schema of one module under ``prefix``, e.g. 'ethojoint_pose'."""
    return prefix + module.__name__.rsplit(".", 1)[-1]


def activate(prefix: str | None = None, *, settings: Settings | None = None) -> dj.Connection:
    """Connect and declare all schemas, in order, under ``prefix``.

    On schemas that exist already nothing is written, so a read-only user
    (an analyst) can connect.  Declaring them the first time also inserts the
    built-in ``default`` rule set (``ethojoint db init`` restores it).

    Calling it again with another prefix or database (tests do) rebinds the
    same table classes to the new schemas.

    Examples
    --------
    >>> import schemas
    >>> conn = schemas.activate("lab1_")  # doctest: +SKIP
    """
    settings = settings or load_settings()
    if prefix is not None:
        settings.prefix = prefix
    check_prefix(settings.prefix)
    set_current(settings)
    connection = connect(settings)
    with named_lock(connection, f"{settings.prefix}declare"):  # two processes declaring at once: one waits
        behavior_schema = schema_name(settings.prefix, behavior)
        new = behavior_schema not in dj.list_schemas(connection=connection)
        for module in MODULES:
            _rebind(module.schema, schema_name(settings.prefix, module), connection)
        if new:  # declared just now: the built-in rule set (a read-only user never gets here, and writes nothing)
            behavior.SocialRuleSet.add("default")
            motion.MotionParamSet.add("default")
    return connection


def _rebind(schema: dj.Schema, name: str, connection) -> None:
    if schema.database is not None and (schema.database != name or schema.connection is not connection):
        schema.database = None  # forget the previous binding; activate() re-decorates every table
    schema.activate(name, connection=connection)


def check_prefix(prefix: str) -> None:
    """A schema prefix is lower-case letters, digits and ``_`` only (it is spliced into SQL names).

    Raises
    ------
    InputError
        Any other character (a backtick or quote would reach SQL).
    """
    from pipeline.errors import InputError

    if not re.fullmatch(r"[a-z0-9_]{1,48}", str(prefix)):
        raise InputError("prefix", f"{prefix!r}: use 1-48 of a-z, 0-9 and _ only")


def drop_all(prefix: str, connection=None) -> None:
    """Drop every EthoJoint schema under ``prefix`` (dependants first).

    Schemas under the prefix that this code does not know (e.g. declared by a
    newer version) are dropped too, retried until their dependants are gone.
    """
    check_prefix(prefix)
    connection = connection or dj.conn()
    existing = set(dj.list_schemas(connection=connection))
    known = [schema_name(prefix, m) for m in reversed(MODULES)]
    pending = [n for n in known if n in existing] + sorted(n for n in existing if n.startswith(prefix)
                                                           and n not in known)
    for _ in range(len(pending) + 1):
        failed = []
        for name in pending:
            try:
                dj.Schema(name, connection=connection, create_schema=False).drop(prompt=False)
            except Exception:  # noqa: BLE001 -- a dependant schema is still there; retry after the others
                failed.append(name)
        if not failed or failed == pending:
            break
        pending = failed
    if failed:
        raise RuntimeError(f"could not drop {failed} (other schemas outside {prefix!r} depend on them?)")
