"""Regions of interest in video pixels: parse, check and rasterise them, and draw them on a frame.

An ROI is one of (``x`` = column, ``y`` = row, both from 0 at the top left):

- ``{"roi": "face", "rectangle": [x, y, width, height]}``: columns ``x .. x + width - 1`` and rows
  ``y .. y + height - 1``;
- ``{"roi": "paw", "polygon": [[x, y], [x, y], [x, y], ...]}``: at least 3 vertices (numbers are rounded to
  whole pixels), filled by OpenCV's ``fillPoly``: the pixels the edges pass through are inside;
- ``{"roi": "whisker", "mask": "masks/whisker.png"}``: an image of the frame's size (PNG or another
  format OpenCV reads, or a ``.npy`` array); every non-zero pixel is inside.

A checked ROI (:func:`check_roi`) is a plain dict ``{"roi", "kind", <kind>: value}`` that can be stored
as JSON; a mask's ``mask`` is then the image's path (the caller makes it relative to a data root) and
``mask_sha256`` its checksum.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from pipeline.errors import InputError

__all__ = ["KINDS", "check_roi", "check_roi_set", "roi_mask", "read_mask", "draw_rois"]

KINDS = ("rectangle", "polygon", "mask")
ROI_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}")
EXAMPLE = "roi: face, rectangle: [x, y, width, height] | polygon: [[x, y], ...] | mask: FILE.png"


def check_roi(entry, *, source: str, base: Path | None = None) -> dict:
    """One ROI entry, checked and in canonical form (no frame size needed yet).

    Parameters
    ----------
    entry : dict
        ``{"roi": NAME, "rectangle" | "polygon" | "mask": ...}``.
    source : str
        Where the entry comes from, for the error message.
    base : Path, optional
        Folder a relative mask path starts from (default: the working directory).

    Returns
    -------
    dict
        ``{"roi", "kind", kind: value}``; for a mask, the absolute path and ``mask_sha256``.

    Raises
    ------
    InputError
        No name or an unsafe one, not exactly one kind, a rectangle that is not four whole numbers with
        width and height >= 1, a polygon with fewer than 3 vertices, non-finite coordinates or no area, a
        mask file that is missing, unreadable or empty.

    Examples
    --------
    >>> check_roi({"roi": "face", "rectangle": [10, 20, 30, 40]}, source="m.yaml")
    {'roi': 'face', 'kind': 'rectangle', 'rectangle': [10, 20, 30, 40]}
    >>> check_roi({"roi": "tri", "polygon": [[0, 0], [9.6, 0], [0, 9]]}, source="m.yaml")["polygon"]
    [[0, 0], [10, 0], [0, 9]]
    """
    if not isinstance(entry, dict):
        raise InputError(source, f"an ROI must be a mapping ({EXAMPLE}), got {entry!r}")
    name = str(entry.get("roi") or "")
    if not ROI_NAME.fullmatch(name) or ".." in name:
        raise InputError(source, f"ROI name {name!r}: use 1-32 of letters, digits, _ . - ({EXAMPLE})")
    where = f"{source}: ROI {name!r}"
    kinds = [k for k in KINDS if entry.get(k) is not None]
    extra = sorted(set(entry) - {"roi", *KINDS, "mask_sha256", "kind"})
    if len(kinds) != 1 or extra:
        unknown = f"; unknown keys {extra}" if extra else ""
        raise InputError(where, f"give exactly one of {', '.join(KINDS)}{unknown}")
    kind = kinds[0]
    if kind == "rectangle":
        return {"roi": name, "kind": kind, "rectangle": _rectangle(entry[kind], where)}
    if kind == "polygon":
        return {"roi": name, "kind": kind, "polygon": _polygon(entry[kind], where)}
    path = Path(str(entry[kind])).expanduser()
    path = path if path.is_absolute() or base is None else Path(base) / path
    from pipeline.io.checksum import file_checksum

    read_mask(path, source=where)  # readable and not empty
    return {"roi": name, "kind": kind, "mask": str(path), "mask_sha256": file_checksum(path)}


def check_roi_set(entries, *, source: str, base: Path | None = None) -> list[dict]:
    """A list of ROI entries (:func:`check_roi`), with distinct names; at least one.

    Examples
    --------
    >>> [r["roi"] for r in check_roi_set([{"roi": "a", "rectangle": [0, 0, 2, 2]}], source="cli")]
    ['a']
    """
    if not isinstance(entries, list) or not entries:
        raise InputError(source, f"rois must be a non-empty list of ROIs ({EXAMPLE})")
    rois = [check_roi(e, source=f"{source}[{i}]", base=base) for i, e in enumerate(entries)]
    names = [r["roi"] for r in rois]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(source, f"ROI name(s) {twice} used twice in one set")
    return rois


def _whole(value, where: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or float(value) != int(value):
        raise InputError(where, f"{what} {value!r} is not a whole number of pixels")
    return int(value)


def _rectangle(value, where: str) -> list[int]:
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise InputError(where, f"a rectangle is [x, y, width, height], got {value!r}")
    x, y, w, h = (_whole(v, where, "rectangle value") for v in value)
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise InputError(where, f"rectangle {list(value)}: x, y must be >= 0 and width, height >= 1")
    return [x, y, w, h]


def _polygon(value, where: str) -> list[list[int]]:
    ok = isinstance(value, (list, tuple)) and len(value) >= 3 and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in p) for p in value)
    if not ok:
        raise InputError(where, f"a polygon is a list of at least 3 [x, y] vertices (finite numbers), got {value!r}")
    points = [[int(round(float(x))), int(round(float(y)))] for x, y in value]
    if any(c < 0 for p in points for c in p):
        raise InputError(where, f"polygon {points}: negative coordinates lie outside the frame")
    a = np.asarray(points, float)
    area = 0.5 * abs(np.dot(a[:, 0], np.roll(a[:, 1], 1)) - np.dot(a[:, 1], np.roll(a[:, 0], 1)))
    if area == 0:
        raise InputError(where, f"polygon {points} encloses no area (its vertices are on one line)")
    return points


def read_mask(path, *, source: str | None = None) -> np.ndarray:
    """A mask image as a boolean array (non-zero = inside).

    Raises
    ------
    InputError
        Missing or unreadable file, not 2-D, or no pixel inside.
    """
    import cv2

    path = Path(path)
    where = source or str(path)
    if not path.is_file():
        raise InputError(where, f"mask file {path} not found")
    if path.suffix.lower() == ".npy":
        try:
            image = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise InputError(where, f"mask file {path} is not a readable .npy array ({err})") from None
    else:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise InputError(where, f"mask file {path} is not an image OpenCV can read")
        image = image if image.ndim == 2 else image.max(axis=2)
    if image.ndim != 2:
        raise InputError(where, f"mask file {path} must be one 2-D image, got shape {image.shape}")
    mask = image != 0
    if not mask.any():
        raise InputError(where, f"mask file {path} is empty (no non-zero pixel)")
    return mask


def roi_mask(roi: dict, *, width: int, height: int, source: str = "ROI", mask_path=None) -> np.ndarray:
    """The ROI's pixels in a ``height`` × ``width`` frame, as a boolean array.

    Parameters
    ----------
    roi : dict
        A checked ROI (:func:`check_roi`).
    width, height : int
        The frame's size in pixels.
    source : str
        For the error message (e.g. the recording).
    mask_path : path, optional
        Where a mask ROI's image is now (default its ``mask`` entry).

    Raises
    ------
    InputError
        The ROI reaches outside the frame, or a mask of another size than the frame.

    Examples
    --------
    >>> int(roi_mask({"roi": "a", "kind": "rectangle", "rectangle": [1, 2, 3, 4]}, width=8, height=8).sum())
    12
    >>> int(roi_mask({"roi": "b", "kind": "polygon", "polygon": [[1, 2], [3, 2], [3, 5], [1, 5]]},
    ...              width=8, height=8).sum())
    12
    """
    import cv2

    where = f"{source}: ROI {roi['roi']!r}"
    size = f"the {width}x{height} frame"
    if roi["kind"] == "rectangle":
        x, y, w, h = roi["rectangle"]
        if x + w > width or y + h > height:
            raise InputError(where, f"rectangle {roi['rectangle']} reaches outside {size} "
                                    f"(columns {x}..{x + w - 1}, rows {y}..{y + h - 1})")
        mask = np.zeros((height, width), bool)
        mask[y:y + h, x:x + w] = True
        return mask
    if roi["kind"] == "polygon":
        pts = np.asarray(roi["polygon"], np.int32)
        if (pts[:, 0] >= width).any() or (pts[:, 1] >= height).any() or (pts < 0).any():
            raise InputError(where, f"polygon {roi['polygon']} has vertices outside {size}")
        canvas = np.zeros((height, width), np.uint8)
        cv2.fillPoly(canvas, [pts], 1)
        return canvas.astype(bool)
    mask = read_mask(mask_path or roi["mask"], source=where)
    if mask.shape != (height, width):
        raise InputError(where, f"mask {roi['mask']} is {mask.shape[1]}x{mask.shape[0]}, not {size}")
    return mask


COLOURS = ((0, 255, 255), (255, 0, 255), (0, 255, 0), (255, 128, 0), (0, 128, 255), (255, 255, 255))


def draw_rois(frame: np.ndarray, masks: dict[str, np.ndarray]) -> np.ndarray:
    """A copy of ``frame`` (BGR or grey) with each ROI's outline and name drawn, for a user to check them.

    Examples
    --------
    >>> m = np.zeros((20, 20), bool); m[5:10, 5:10] = True
    >>> draw_rois(np.zeros((20, 20), np.uint8), {"a": m}).shape
    (20, 20, 3)
    """
    import cv2

    out = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame.copy()
    for i, (name, mask) in enumerate(masks.items()):
        colour = COLOURS[i % len(COLOURS)]
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, colour, 1)
        rows, cols = np.nonzero(mask)
        cv2.putText(out, name, (int(cols.min()), max(int(rows.min()) - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    colour, 1, cv2.LINE_AA)
    return out
