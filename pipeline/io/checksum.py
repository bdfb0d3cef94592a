"""Content checksum of a file, for provenance."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.errors import InputError

_CHUNK = 1 << 20  # 1 MiB


def file_checksum(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    str
        64 lowercase hex digits.

    Raises
    ------
    InputError
        If the file does not exist or cannot be read.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> file_checksum(f.name)[:16]
    'ba7816bf8f01cfea'
    >>> os.remove(f.name)
    """
    path = Path(path)
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError as e:
        raise InputError(path, "file not found") from e
    except OSError as e:
        raise InputError(path, f"cannot read file: {e}") from e
    return digest.hexdigest()


def file_stat(path: str | Path) -> dict:
    """``{"size": bytes, "mtime_ns": modification time}`` of a file: what ingest compares to skip re-reading it.

    Raises
    ------
    InputError
        If the file does not exist or cannot be read.
    """
    try:
        st = Path(path).stat()
    except FileNotFoundError as e:
        raise InputError(path, "file not found") from e
    except OSError as e:
        raise InputError(path, f"cannot read file: {e}") from e
    return {"size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}
