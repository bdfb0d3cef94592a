"""Reading a manifest file: at most :data:`MAX_MANIFEST_BYTES`, UTF-8 text, YAML without anchors or aliases.

A YAML alias expands to a copy of what its anchor names, so a kilobyte of
nested aliases ("billion laughs") can fill any memory: manifests have no use
for them, and the loader refuses the first anchor or alias it meets, before
building anything.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from .errors import InputError
from .manifest_csv import from_csv

MAX_MANIFEST_BYTES = 10 * 1024 * 1024


class _Refused(Exception):
    """An anchor or alias met while composing (carries its position)."""


class NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors (``&a``) and aliases (``*a``) instead of expanding them."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(event.start_mark.line + 1)
        return super().compose_node(parent, index)


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def dump_manifest(data: dict) -> str:
    """YAML text of a manifest that :func:`read_manifest` accepts: an object used twice is written out twice.

    (``yaml.safe_dump`` writes an anchor and an alias for it, which manifests refuse.)

    Examples
    --------
    >>> tracks = {"track_0": "m1"}
    >>> "&" in dump_manifest({"a": tracks, "b": tracks})
    False
    """
    return yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False)


def printable(path) -> str:
    """A path as text, with bytes that are not UTF-8 shown as ``\\xe9``."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def utf8_path(path, what: str) -> str:
    """``str(path)``; InputError when a folder or file name in it is not UTF-8 (the database stores text)."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(printable(path), f"{what} path is not UTF-8 text (a folder or file name in it has "
                                          "other bytes); rename it") from None
    return text


def read_manifest(path: str | Path) -> dict:
    """Load a YAML or CSV manifest into the YAML structure.

    Raises
    ------
    InputError
        Missing, larger than 10 MB, not UTF-8 text, not valid YAML, YAML
        with anchors/aliases, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(printable(path), "manifest not found")
    utf8_path(path.absolute(), "the manifest's")
    size = path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise InputError(path, f"manifest is {size} bytes; at most {MAX_MANIFEST_BYTES} bytes (10 MB) are read")
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(path, f"not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start}); "
                               "save the manifest as UTF-8") from None
    if "\x00" in content:
        raise InputError(path, "not UTF-8 text (it contains NUL bytes: a binary file?)")
    if path.suffix.lower() == ".csv":
        return from_csv(path, content)
    try:
        data = yaml.load(content, Loader=NoAliasLoader)  # noqa: S506 (a SafeLoader)
    except _Refused as found:
        raise InputError(path, f"line {found.args[0]}: YAML anchors and aliases (&name, *name) are not allowed "
                               "in a manifest; write the values out") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(path, f"not valid YAML{at}: {problem}") from err
    if not isinstance(data, dict):
        raise InputError(path, "a manifest must be a mapping with subjects/sessions")
    return data
