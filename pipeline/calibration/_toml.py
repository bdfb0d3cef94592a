"""Anipose ``calibration.toml`` reading and writing (re-exported by ``cameras``).

Why not ``aniposelib.cameras.CameraGroup.load`` / ``.dump`` (aniposelib 0.8.0, toml 0.10.2)
    Where they agree: on the real ``anipose_minimal_session/calibration.toml``
    ``CameraGroup.load`` gives the same 4 cameras in the same order with
    bit-identical matrix, distortions, rotation and translation; a file that
    ``CameraGroup.dump`` writes has the same tables and keys as ours
    (``[cam_N]`` name, size, matrix, distortions, rotation, translation, then
    ``[metadata]``) and parses to the same dict; floats (1,000 random values,
    1e-20 to 1e20) and nan/inf round-trip exactly both ways. Only the layout
    differs (``[ 1280, 1024,]`` there, ``[1280, 1024]`` here). Each reads the
    other's files (``load`` ours too, unless their metadata has a list mixing
    integers and floats; see below).

    Where they differ, so both functions here stay ours:

    * ``load`` parses with the ``toml`` 0.10 package (TOML 0.5), which rejects
      arrays mixing integers and floats, valid TOML 1.0 and common in written
      files: ``matrix = [[500.5, 0, 320], ...]`` raises
      ``TomlDecodeError: Not a homogeneous array``; ``tomllib`` reads it.
    * ``load`` orders the tables by sorting their names as strings, so with 11
      or more cameras ``cam_10`` and ``cam_11`` come before ``cam_2`` (12
      cameras load as c0, c1, c10, c11, c2, ...); we order by N.
    * ``load`` takes every table except ``[metadata]`` as a camera: an extra
      table such as ``[notes]`` raises ``KeyError('matrix')``; we ignore it.
    * ``load`` errors name neither file nor table (``KeyError('rotation')``,
      ``ValueError: could not convert string to float: 'a'``) and a wrong
      shape (a 2x2 matrix) loads silently; ours are InputErrors naming both.
    * ``load`` reads ``fisheye = true`` as a ``FisheyeCamera``; our Camera has
      no fisheye model, so such a file is refused here rather than misread.
    * ``dump`` writes numpy scalars in ``metadata`` as strings:
      ``np.float64(0.2)`` becomes ``"np.float64(0.2)"`` and an ndarray a list
      of such strings; a list ``[1, 0.5]`` is written but ``load`` then
      rejects it (not homogeneous). We write numbers.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import InputError


def read_toml(path: Path, *, what: str) -> dict:
    """Parse a TOML file; an unreadable or invalid one raises one InputError naming it."""
    try:
        return tomllib.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read {what} ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not a valid TOML file ({exc})") from None

def read_calibration_toml(path: str | Path, *, cameras: Sequence[str] | None = None) -> list:
    """Read the cameras of an Anipose ``calibration.toml``.

    Parameters
    ----------
    path : str or Path
        The file; each ``[cam_N]`` table has name, size, matrix, distortions,
        rotation and translation.
    cameras : sequence of str, optional
        Keep only these cameras, in this order.

    Returns
    -------
    list of Camera
        In file order (``cam_0``, ``cam_1``, ...) or in the order of ``cameras``.

    Raises
    ------
    InputError
        The file is unreadable or malformed, or a named camera is absent.
    """
    from pipeline.calibration.cameras import Camera

    path = Path(path)
    data = read_toml(path, what="calibration file")
    keys = [k for k in data if k.startswith("cam_") and k[4:].isdigit()]
    if not keys:
        raise InputError(path, "no [cam_N] tables; not an Anipose calibration file")
    found = []
    for key in sorted(keys, key=lambda k: int(k[4:])):
        table = data[key]
        if not isinstance(table, dict):
            raise InputError(path, f"[{key}] is not a table")
        missing = [f for f in ("name", "size", "matrix", "distortions", "rotation", "translation")
                   if f not in table]
        if missing:
            raise InputError(path, f"[{key}] lacks {', '.join(missing)}")
        if table.get("fisheye"):
            raise InputError(path, f"[{key}] is a fisheye camera; only the pinhole (OpenCV) model is supported")
        try:
            found.append(Camera.from_dict(table))
        except (ValueError, TypeError) as exc:
            raise InputError(path, f"[{key}] is malformed: {exc}") from None
    if cameras is None:
        return found
    by_name = {cam.name: cam for cam in found}
    absent = [name for name in cameras if name not in by_name]
    if absent:
        raise InputError(path, f"camera(s) {absent} not in the file (it has {sorted(by_name)})")
    return [by_name[name] for name in cameras]


def _toml_value(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def write_calibration_toml(path: str | Path, cameras: Sequence, *,
                           metadata: Mapping[str, Any] | None = None) -> Path:
    """Write cameras as an Anipose ``calibration.toml`` (``CameraGroup.load`` reads it).

    Parameters
    ----------
    path : str or Path
        Output file.
    cameras : sequence of Camera
    metadata : dict, optional
        Scalars, strings and (nested) lists for the ``[metadata]`` table.

    Returns
    -------
    Path
        ``path``.
    """
    lines = []
    for i, cam in enumerate(cameras):
        lines += [f"[cam_{i}]",
                  f"name = {_toml_value(cam.name)}",
                  f"size = {_toml_value(list(cam.size))}",
                  f"matrix = {_toml_value(cam.matrix)}",
                  f"distortions = {_toml_value(cam.distortion)}",
                  f"rotation = {_toml_value(cam.rotation)}",
                  f"translation = {_toml_value(cam.translation)}", ""]
    lines.append("[metadata]")
    for key, value in (metadata or {}).items():
        lines.append(f"{json.dumps(str(key))} = {_toml_value(value)}")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path
