"""Provenance facts recorded with every imported or computed row.

One mechanism for all tables: :func:`record` returns a small JSON-able dict
(inputs with checksums, parameter-set hash, code version and git commit,
host, time) that the schemas store in each row's ``provenance`` attribute.
"""

from __future__ import annotations

import datetime as _dt
import functools
import getpass
import hashlib
import json
import platform
import socket
import subprocess
import uuid
from pathlib import Path

from . import __version__


def canonical_json(obj) -> str:
    """JSON with sorted keys and no whitespace: the hashed form of parameters."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def params_hash(obj) -> str:
    """A uuid (as a string) of the canonical JSON of ``obj``.

    Examples
    --------
    >>> params_hash({"b": 1, "a": 2}) == params_hash({"a": 2, "b": 1})
    True
    """
    digest = hashlib.md5(canonical_json(obj).encode()).hexdigest()
    return str(uuid.UUID(digest))


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the EthoJoint checkout, with ``+dirty`` for local edits."""
    here = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit or "unknown") + ("+dirty" if commit and dirty else "")


def code_version() -> dict:
    """Version facts of the running code."""
    import numpy

    return {
        "ethojoint": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
    }


def jsonable(obj):
    """numpy scalars/arrays, tuples and non-finite floats → plain JSON values (NaN/inf → None).

    Examples
    --------
    >>> import numpy as np
    >>> jsonable({"a": np.float32(0.5), "b": [np.nan, np.arange(2)], 3: (1,)})
    {'a': 0.5, 'b': [None, [0, 1]], '3': [1]}
    """
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def now() -> _dt.datetime:
    """The current local time with its zone (pass it as ``record(started=...)`` when a step begins)."""
    return _dt.datetime.now().astimezone()


def record(*, inputs: dict[str, str | dict] | None = None, params: dict | None = None, started=None,
           **extra) -> dict:
    """The provenance of one computed row.

    Parameters
    ----------
    inputs : dict of str to str
        Input file path (relative to its data root) → sha256, or → ``{"sha256", "size", "mtime_ns"}``
        (the file's size and modification time when it was read: ingest then recognises an unchanged
        file without reading it).
    params : dict
        The parameters used; stored with their hash.
    started : datetime, optional
        When the computation started (default: now).
    **extra
        Further facts (e.g. ``device``, ``frames_per_s``).
    """
    finished = now()
    return {
        "inputs": [{"path": p, **(c if isinstance(c, dict) else {"sha256": c})}
                   for p, c in sorted((inputs or {}).items())],
        "params": params or {},
        "params_hash": params_hash(params or {}),
        "code": code_version(),
        "host": socket.gethostname(),
        "user": getpass.getuser(),
        "started": (started or finished).isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        **extra,
    }
