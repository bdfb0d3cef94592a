"""Benchmark: trajectory-quality steps on one hour of two-animal pose at 30 fps.

Simulates ``simulate_session(seed=1, duration_s=3600)`` (108,000 frames, two
mice, six keypoints), injects 1 % low-confidence spikes, short gaps and 40
identity swaps, and times

* the filtering chain without Kalman (confidence threshold, max jump,
  interpolation, rolling median, Savitzky-Golay) -- target < 5 s;
* the same chain plus the constant-velocity Kalman/RTS smoother -- target < 30 s;
* identity check and correction (``detect_swaps`` + ``correct_identities``).

Run::

    python bench/bench_quality.py [--minutes 60] [--seed 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from pipeline.quality import apply_chain, correct_identities, detect_swaps, identity_accuracy  # noqa: E402
from pipeline.synthetic import simulate_session  # noqa: E402

CHAIN = [
    {"step": "confidence_threshold", "threshold": 0.5},
    {"step": "max_jump", "max_px_per_frame": 60},
    {"step": "interpolate_gaps", "max_gap_frames": 5},
    {"step": "rolling_median", "window": 5},
    {"step": "savgol", "window": 7, "order": 2},
]
KALMAN = {"step": "kalman_rts", "process_noise": 10.0, "measurement_noise": 4.0}


def damaged(pose, rng, n_swaps=40):
    """Spikes (1 % of points, low confidence), short gaps and swapped segments."""
    pos, conf = pose.positions.copy(), pose.confidence.copy()
    spike = (rng.random(pos.shape[:3]) < 0.01) & ~np.isnan(pos).any(-1)
    pos[spike] += rng.uniform(100, 200, (spike.sum(), 1)) * rng.choice([-1.0, 1.0], (spike.sum(), 2))
    conf[spike] = 0.1
    for g in rng.choice(pose.n_frames - 10, 2000, replace=False):
        pos[g:g + 3, int(rng.integers(2)), int(rng.integers(pose.n_keypoints))] = np.nan
    starts = np.sort(rng.choice(np.arange(60, pose.n_frames - 400, 400), n_swaps, replace=False))
    for s0 in starts:
        e0 = s0 + int(rng.integers(60, 300))
        pos[s0:e0], conf[s0:e0] = pos[s0:e0, ::-1].copy(), conf[s0:e0, ::-1].copy()
    return dataclasses.replace(pose, positions=pos, confidence=conf), 2 * n_swaps


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    session, t_sim = timed(simulate_session, seed=args.seed, duration_s=60 * args.minutes)
    pose, n_events = damaged(session.pose, np.random.default_rng(args.seed))
    print(f"{pose.n_frames} frames x {pose.n_individuals} animals x {pose.n_keypoints} keypoints "
          f"(simulated in {t_sim:.1f} s)")
    (out, stats), t_chain = timed(apply_chain, pose, CHAIN)
    (_, stats_k), t_kalman = timed(apply_chain, pose, CHAIN + [KALMAN])
    swaps, t_detect = timed(detect_swaps, pose)
    (fixed, report), t_correct = timed(correct_identities, pose)
    print(f"filter chain without Kalman : {t_chain:6.2f} s  (target < 5 s)   "
          + ", ".join(f"{s['step']}: -{s['removed']}/~{s['changed']}/+{s['filled']}" for s in stats))
    print(f"filter chain with Kalman    : {t_kalman:6.2f} s  (target < 30 s)")
    print(f"identity check (detect)     : {t_detect:6.2f} s  ({(swaps.kind == 'exchange').sum()} exchanges "
          f"flagged, {n_events} injected)")
    print(f"identity correction         : {t_correct:6.2f} s  ({report['exchanges']} exchanges undone)")
    print(f"identity check + correction : {t_detect + t_correct:6.2f} s  (motion gate included: "
          f"{sum(report['gate']['rejected'].values())} detections blanked)")
    print(f"identity accuracy vs clean  : {identity_accuracy(pose, session.pose):.4f} -> "
          f"{identity_accuracy(fixed, session.pose):.4f}")
    ok = t_chain < 5 and t_kalman < 30
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
