"""Board detection in calibration images and videos, with frames keyed for matching."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from pipeline.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv"}
_TRAILING_INT = re.compile(r"(\d+)$")


def frame_key(path: str | Path) -> int:
    """The shared frame index of a calibration image: the trailing integer of its stem.

    Examples
    --------
    >>> frame_key("top/calibration_images/top-02242022135227-15.jpg")
    15
    """
    match = _TRAILING_INT.search(Path(path).stem)
    if match is None:
        raise InputError(path, "image name does not end in a frame number (e.g. 'top-...-15.jpg'), "
                               "so it cannot be matched across cameras")
    return int(match.group(1))


def _row(board, key, corners, ids, source) -> dict | None:
    if corners is None or ids is None or len(corners) == 0:
        return None
    corners = np.asarray(corners, dtype=np.float64).reshape(-1, 1, 2)
    ids = np.asarray(ids).reshape(-1, 1)
    return {"framenum": key, "corners": corners, "ids": ids, "fname": str(source),
            "filled": board.fill_points(corners, ids)}


def _detect_image(board, path: Path):
    frame = cv2.imread(str(path))
    if frame is None:
        raise InputError(path, "cannot read the image (missing, corrupt or not an image)")
    corners, ids = board.detect_image(frame)
    return frame.shape[1], frame.shape[0], _row(board, frame_key(path), corners, ids, path)


def _detect_video(board, path: Path, vnum: int, skip: int):
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(path, "cannot open the video")
    try:
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        rows, framenum = [], 0
        while True:
            if framenum % skip:
                if not cap.grab():
                    break
            else:
                ok, frame = cap.read()
                if not ok:
                    break
                corners, ids = board.detect_image(frame)
                row = _row(board, (vnum, framenum), corners, ids, path)
                if row is not None:
                    rows.append(row)
            framenum += 1
    finally:
        cap.release()
    if framenum == 0:
        raise InputError(path, "the video has no readable frames")
    return size, rows


def detect_boards(paths: Sequence[str | Path], board, *, skip: int = 20,
                  source: str | Path | None = None) -> tuple[tuple[int, int], list[dict]]:
    """Detect a board in one camera's calibration images or videos.

    Parameters
    ----------
    paths : sequence of str or Path
        All images (frames matched by the trailing number of the stem) or all
        videos (frames matched by (video index, frame number)).
    board : aniposelib board
        From :func:`pipeline.calibration.board.to_aniposelib`.
    skip : int
        In videos, look at every ``skip``-th frame.
    source : str or Path, optional
        What to name in errors about the whole set (default: the first path's folder).

    Returns
    -------
    size : tuple of int
        Image (width, height).
    rows : list of dict
        aniposelib detection rows (framenum, corners, ids, fname, filled), by frame.
    """
    paths = [Path(p) for p in paths]
    source = source if source is not None else (paths[0].parent if paths else "calibration")
    if not paths:
        raise InputError(source, "no calibration images or videos given")
    kinds = {"image" if p.suffix.lower() in IMAGE_SUFFIXES else
             "video" if p.suffix.lower() in VIDEO_SUFFIXES else p.suffix for p in paths}
    if len(kinds) != 1 or not kinds <= {"image", "video"}:
        raise InputError(source, f"expected only images {sorted(IMAGE_SUFFIXES)} or only videos "
                                 f"{sorted(VIDEO_SUFFIXES)}, got {sorted(kinds)}")
    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 1:
        raise ValueError(f"skip must be a positive integer, got {skip!r}")
    if kinds == {"video"}:
        found = [_detect_video(board, p, vnum, skip) for vnum, p in enumerate(paths)]
        sizes = [(s, p) for (s, _), p in zip(found, paths)]
        rows = [r for _, rs in found for r in rs]
    else:
        keys = [frame_key(p) for p in paths]
        if len(set(keys)) != len(keys):
            dup = sorted({k for k in keys if keys.count(k) > 1})
            raise InputError(source, f"several images share frame number(s) {dup}")
        workers = max(1, min(4, os.cpu_count() or 1))
        with ThreadPoolExecutor(workers) as pool:  # OpenCV releases the GIL
            found = list(pool.map(lambda p: _detect_image(board, p), paths))
        sizes = [((w, h), p) for (w, h, _), p in zip(found, paths)]
        rows = [r for _, _, r in found if r is not None]
    first = sizes[0][0]
    for size, path in sizes:
        if size != first:
            raise InputError(path, f"image size {size} differs from {first} of {sizes[0][1].name}")
    rows.sort(key=lambda r: r["framenum"])
    return first, rows
