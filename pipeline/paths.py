"""Paths stored relative to configured data roots, never absolute."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from .errors import InputError


def to_relative(path: str | Path, roots: list[Path]) -> str:
    """Express ``path`` relative to the first data root that contains it.

    Examples
    --------
    >>> to_relative("/data/lab/a.mp4", [Path("/data")])
    'lab/a.mp4'
    """
    path = Path(path).absolute()
    for root in roots:
        try:
            return PurePosixPath(path.relative_to(Path(root).absolute())).as_posix()
        except ValueError:
            continue
    raise InputError(path, f"is outside every data root ({', '.join(map(str, roots)) or 'none configured'}); "
                           "set ETHOJOINT_DATA_ROOTS or ethojoint.data_roots")


def resolve(relative: str, roots: list[Path]) -> Path:
    """Find a stored relative path under the data roots (first match wins)."""
    for root in roots:
        candidate = Path(root) / relative
        if candidate.exists():
            return candidate
    raise InputError(relative, f"not found under any data root ({', '.join(map(str, roots)) or 'none configured'})")
