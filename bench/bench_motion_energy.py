"""Benchmark: motion energy of 4 ROIs on a 640 x 480 video, against naive OpenCV loops and bare decoding.

Video: the real DeepLabCut open-field video ``../shared/data/dlc_openfield/project/videos/m3v1mp4.mp4``
(640 x 480, H.264, 2,330 frames), or ``--video``.  4 ROIs: two rectangles, a polygon and a mask image.
Timed, each on the first ``--frames`` frames, best of ``--repeats``:

- ``decode``: ``cap.read()`` only (the ceiling: nothing can be faster than decoding the frames once);
- ``ours``: :func:`pipeline.motion.motion_energy` (one pass, every ROI from the same decoded frame);
- ``naive``: the straightforward script: for each ROI separately, a loop that reads every frame,
  converts it to grey, takes the int16 difference with the previous frame and sums ``|diff|`` over the
  ROI's mask (numpy) -- so the video is decoded once per ROI;
- ``naive_1pass``: the same per-ROI numpy work, but reading each frame once (for reference).

All four give the same numbers (checked).  Prints frames/s, ``naive / ours`` (target >= 3) and
``ours / decode`` time (target <= 1.5).  Run::

    python bench/bench_motion_energy.py [--frames 1000] [--repeats 3] [--video FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from pipeline.motion import check_roi_set, motion_energy, roi_mask  # noqa: E402

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "dlc_openfield" / "project" / "videos" / "m3v1mp4.mp4"


def rois(folder: Path, width: int, height: int) -> dict[str, np.ndarray]:
    disc = np.zeros((height, width), np.uint8)
    cv2.circle(disc, (width * 3 // 4, height * 3 // 4), height // 6, 255, -1)
    cv2.imwrite(str(folder / "disc.png"), disc)
    checked = check_roi_set([{"roi": "left", "rectangle": [20, 40, 200, 160]},
                             {"roi": "centre", "rectangle": [220, 160, 200, 160]},
                             {"roi": "tri", "polygon": [[20, 300], [300, 250], [150, 460]]},
                             {"roi": "disc", "mask": str(folder / "disc.png")}], source="bench")
    return {r["roi"]: roi_mask(r, width=width, height=height) for r in checked}


def decode_only(video, n) -> int:
    cap, count = cv2.VideoCapture(str(video)), 0
    while count < n and cap.read()[0]:
        count += 1
    cap.release()
    return count


def naive_one_roi(video, mask, n) -> np.ndarray:
    cap, out, prev = cv2.VideoCapture(str(video)), [np.nan], None
    while len(out) < n + (prev is None):
        ok, frame = cap.read()
        if not ok:
            break
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.int16)
        if prev is not None:
            out.append(float(np.abs(grey - prev)[mask].sum()))
        prev = grey
    cap.release()
    return np.array(out[:n])


def naive(video, masks, n) -> np.ndarray:
    return np.stack([naive_one_roi(video, m, n) for m in masks.values()], axis=1)


def naive_1pass(video, masks, n) -> np.ndarray:
    cap, rows, prev = cv2.VideoCapture(str(video)), [], None
    while len(rows) < n:
        ok, frame = cap.read()
        if not ok:
            break
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.int16)
        rows.append([np.nan] * len(masks) if prev is None else
                    [float(np.abs(grey - prev)[m].sum()) for m in masks.values()])
        prev = grey
    cap.release()
    return np.array(rows)


def best(func, repeats):
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=str(VIDEO))
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    cap = cv2.VideoCapture(args.video)
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    with tempfile.TemporaryDirectory() as folder:
        masks = rois(Path(folder), width, height)
    n = args.frames
    t_decode, decoded = best(lambda: decode_only(args.video, n), args.repeats)
    t_ours, ours = best(lambda: motion_energy(args.video, masks, stop=n).energy, args.repeats)
    t_naive, slow = best(lambda: naive(args.video, masks, n), args.repeats)
    t_one, one = best(lambda: naive_1pass(args.video, masks, n), args.repeats)
    assert np.array_equal(ours, slow, equal_nan=True) and np.array_equal(ours, one, equal_nan=True)
    n = decoded
    print(f"{Path(args.video).name}: {width}x{height}, {n} frames, {len(masks)} ROIs "
          f"({', '.join(f'{k} {int(m.sum())} px' for k, m in masks.items())}); best of {args.repeats}")
    for name, t in (("decode only", t_decode), ("ours (one pass)", t_ours), ("naive (a pass per ROI)", t_naive),
                    ("naive, one pass", t_one)):
        print(f"  {name:24s} {t:7.3f} s  {n / t:8.1f} frames/s")
    print(f"naive / ours = {t_naive / t_ours:.2f}x (target >= 3); naive one-pass / ours = {t_one / t_ours:.2f}x")
    print(f"ours / decode only = {t_ours / t_decode:.2f}x the bare decode time (target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
