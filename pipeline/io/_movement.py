"""movement's ``load_poses``, imported without compiling grammars nobody uses.

``movement.io`` imports ``jsonschema``, whose optional ``iri`` format checker
imports ``rfc3987_syntax``, which compiles 38 Lark grammars at import: about
2.3 s of a 3.6 s import, paid by every ``ethojoint ingest``. Format checkers
only run when a ``FormatChecker`` is passed, which movement never does, so
jsonschema is imported with ``rfc3987_syntax`` hidden (it skips that checker,
as when the package is not installed); afterwards the package is importable
again as usual.
"""

from __future__ import annotations

import sys


def movement_load_poses():
    """The ``movement.io.load_poses`` module (imported on first use)."""
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # an import of it raises ImportError: jsonschema goes without
        try:
            import jsonschema  # noqa: F401
        finally:
            del sys.modules["rfc3987_syntax"]
    from movement.io import load_poses as module

    return module
