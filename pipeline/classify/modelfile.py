"""Model files: written with their sha256, read back only when the sha256 matches.

skops (safe loading) is used when installed, else joblib; the format is in
the file name's suffix (``.skops`` or ``.joblib``), and a joblib file is only
ever unpickled after its bytes have been checked against the sha256 recorded
when it was written.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from ..errors import InputError

SKOPS = importlib.util.find_spec("skops") is not None
SUFFIX = ".skops" if SKOPS else ".joblib"


def sha256_of(path: str | Path) -> str:
    """SHA-256 of a file's bytes (64 lowercase hex digits)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model(model, path: str | Path) -> str:
    """Write ``model`` to ``path`` (suffix ``.skops`` or ``.joblib``) and return the file's sha256.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> path = Path(tempfile.mkdtemp()) / "m.joblib"
    >>> digest = save_model(DummyClassifier().fit([[0], [1]], [0, 1]), path)
    >>> load_model(path, sha256=digest).predict([[5]]).tolist()
    [0]
    """
    path = Path(path)
    if path.suffix == ".skops":
        import skops.io

        skops.io.dump(model, path)
    elif path.suffix == ".joblib":
        import joblib

        joblib.dump(model, path)
    else:
        raise ValueError(f"model file {path}: the suffix must be .skops or .joblib")
    return sha256_of(path)


def load_model(path: str | Path, *, sha256: str):
    """Read a model written by :func:`save_model`, after checking its sha256.

    Raises
    ------
    InputError
        The file's sha256 is not ``sha256`` (nothing is unpickled), or the file is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "model file not found")
    digest = sha256_of(path)
    if digest != str(sha256).lower():
        raise InputError(path, f"sha256 {digest} differs from the recorded {sha256}: refusing to load the model")
    if path.suffix == ".skops":
        import skops.io

        return skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    import joblib

    return joblib.load(path)
