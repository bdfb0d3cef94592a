"""The one error type that bad input raises."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input: names the file (or manifest row) and the problem.

    Parameters
    ----------
    source : str or Path
        The file, or "manifest.yaml: sessions[3]"-style location, at fault.
    problem : str
        What is wrong, in one sentence.

    Examples
    --------
    >>> str(InputError("a.h5", "not an HDF5 file"))
    'a.h5: not an HDF5 file'
    """

    def __init__(self, source: str | Path, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class NotScorableError(InputError):
    """The recording cannot be scored under the rule set until its inputs change (recorded, not retried)."""
