"""Benchmark: classifier features, prediction and bouts on one hour of two mice at 30 fps, and training.

One synthetic hour (108,000 frames, two animals, so two ordered pairs):

1. features (default ``FeatureParams``) of both ordered pairs + prediction of
   the five scripted behaviours + post-processing into bouts (target <= 5 s);
2. training on the hour's labels (the scripted episodes), both pairs, with
   the thresholds chosen on a separate 10-minute session (target <= 60 s);
3. the side-by-side reference: a straightforward per-frame pandas loop that
   computes the same features (``df.iloc`` per frame, ``math`` for the
   geometry, pandas ``mean/std/min/max`` over each frame's window slice). It
   runs on the first ``--ref-frames`` frames (default 1,500) of one pair and is
   scaled linearly to the hour and both pairs (it is linear in frames); its
   values are checked against the vectorised ones on those frames.

Run::

    python bench/bench_classify.py [--minutes 60] [--ref-frames 1500] [--seed 0] [--train-params JSON]

Training uses every 2nd frame, at most 10 frames without a behaviour per frame
with it, and 60 boosting rounds (``TRAIN``); ``--train-params '{}'`` times the
defaults (every frame, 100 rounds) instead.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.behavior.agreement import bout_agreement  # noqa: E402
from pipeline.classify.evaluate import label_bouts  # noqa: E402
from pipeline.classify.features import FeatureParams, pair_features, window_frames  # noqa: E402
from pipeline.classify.train import (  # noqa: E402
    ClassifierParams,
    LabelledSeries,
    classifier_bouts,
    fit_classifier,
    labels_from_bouts,
)
from pipeline.synthetic import simulate_session  # noqa: E402
from pipeline.synthetic.motion import BEHAVIORS  # noqa: E402

NAN = float("nan")
TRAIN = ClassifierParams(frame_step=2, negatives_per_positive=10, hyperparameters={"max_iter": 60})

# ---------------------------------------------------------------- the per-frame pandas reference


def _pt(row, ind, kp, scale):
    x, y = row[f"{ind}|{kp}|x"], row[f"{ind}|{kp}|y"]
    return (x * scale, y * scale)


def _points(row, ind, scale):
    p = {k: _pt(row, ind, k, scale) for k in ("nose", "left_ear", "right_ear", "neck", "tail_base")}
    p["centre"] = ((p["neck"][0] + p["tail_base"][0]) / 2, (p["neck"][1] + p["tail_base"][1]) / 2)
    return p


def _dist(p, q):
    return math.hypot(q[0] - p[0], q[1] - p[1])


def _angle(u, v):
    if any(c != c for c in u + v):
        return NAN
    return math.degrees(math.atan2(abs(u[0] * v[1] - u[1] * v[0]), u[0] * v[0] + u[1] * v[1]))


def _sub(p, q):
    return (p[0] - q[0], p[1] - q[1])


def _derivative(values, t, fps):
    """np.gradient (edge_order 1) at frame t of a list of (x, y) or numbers; NaN when frame t itself is
    missing, as in movement (xarray's differentiate weighs the centre frame too, by ~0)."""
    n = len(values)
    here = values[t][0] if isinstance(values[t], tuple) else values[t]
    if here != here:
        return (NAN, NAN) if isinstance(values[t], tuple) else NAN
    lo, hi = (t, t + 1) if t == 0 else ((t - 1, t) if t == n - 1 else (t - 1, t + 1))
    a, b = values[lo], values[hi]
    if isinstance(a, tuple):
        return tuple((bb - aa) / (hi - lo) * fps for aa, bb in zip(a, b))
    return (b - a) / (hi - lo) * fps


def _kinematics(pts, who, point, t, fps, cache):
    """Speed and acceleration magnitude of one point at frame t, NaN where the point is missing."""
    pos = [p[who][point] for p in pts]
    key = (who, point)
    if key not in cache:
        cache[key] = [_derivative(pos, i, fps) for i in range(len(pos))]
    vel = cache[key]
    acc = _derivative(vel, t, fps)
    return math.hypot(*vel[t]), math.hypot(*acc)


def _base_row(pts, t, fps, cache, within, between, heads):
    p = pts[t]
    row = {}
    for who in ("agent", "target"):
        q = p[who]
        for a, b in within:
            row[f"{who}.{a}-{b}"] = _dist(q[a], q[b])
        for point in ("centre", "nose"):
            s, acc = _kinematics(pts, who, point, t, fps, cache)
            row[f"{who}.speed_{point}"], row[f"{who}.acceleration_{point}"] = s, acc
    a, g = p["agent"], p["target"]
    for x, y in between:
        row[f"{x}>{y}"] = _dist(a[x], g[y])
    for y in heads:
        row[f"head_angle>{y}"] = _angle(_sub(a["nose"], a["neck"]), _sub(g[y], a["neck"]))
    row["target_head_angle>centre"] = _angle(_sub(g["nose"], g["neck"]), _sub(a["centre"], g["neck"]))
    row["body_angle"] = _angle(_sub(a["neck"], a["tail_base"]), _sub(g["neck"], g["tail_base"]))
    d = [_dist(pp["agent"]["centre"], pp["target"]["centre"]) for pp in pts[max(0, t - 1):t + 2]]
    row["centre_distance_rate"] = _derivative(d, min(t, 1), fps)
    return row


def reference_features(pose, agent, target, *, frames, mm_per_unit, params):
    """The features of ``pair_features`` on frames ``[0, frames)``, one frame at a time with pandas."""
    ind = pose.individuals
    cols = {f"{i}|{k}|{c}": pose.positions[:, a, b, d] for a, i in enumerate(ind)
            for b, k in enumerate(pose.keypoints) for d, c in enumerate("xy")}
    reach = frames + window_frames(max(params.windows_s), pose.fps) // 2 + 2
    df = pd.DataFrame(cols).iloc[:reach]
    pts = []
    for t in range(len(df)):
        row = df.iloc[t]
        pts.append({"agent": _points(row, ind[agent], mm_per_unit), "target": _points(row, ind[target], mm_per_unit)})
    cache, base = {}, []
    for t in range(len(df)):
        base.append(_base_row(pts, t, pose.fps, cache, params.within, params.between, params.head_targets))
        miss = {}
        for who, i in (("agent", ind[agent]), ("target", ind[target])):
            vals = [df.iloc[t][f"{i}|{k}|x"] for k in pose.keypoints]
            miss[f"{who}.missing"] = sum(v != v for v in vals) / len(vals)
        base[-1].update(miss)
    base = pd.DataFrame(base)
    names = [c for c in base.columns if not c.endswith("missing")]
    out = []
    for t in range(frames):
        row = dict(base.iloc[t])
        for w_s in params.windows_s:
            w = window_frames(w_s, pose.fps)
            sl = base.iloc[max(0, t - w // 2):t + w // 2 + 1]
            need = max(1, math.ceil(params.min_valid * w - 1e-9))
            for stat in params.statistics:
                for c in names:
                    col = sl[c]
                    ok = col.notna().sum() >= need
                    v = {"mean": col.mean, "std": lambda col=col: col.std(ddof=0), "min": col.min,
                         "max": col.max}[stat]()
                    row[f"{c}@{w_s:g}s:{stat}"] = v if ok else NAN
            for c in ("agent.missing", "target.missing"):
                row[f"{c}@{w_s:g}s:mean"] = sl[c].mean()
        out.append(row)
    return pd.DataFrame(out)


# ---------------------------------------------------------------- the measured pipeline


def pair_series(session, params):
    out = []
    for a, t in ((0, 1), (1, 0)):
        x, names = pair_features(session.pose, a, t, params=params, mm_per_unit=session.mm_per_px)
        labels = labels_from_bouts(session.episodes, agent=session.individuals[a], target=session.individuals[t],
                                   n_frames=session.n_frames, behaviors=BEHAVIORS)
        out.append(LabelledSeries(session.name, f"{a}>{t}", x, labels, session.fps))
    return out, names


def predict_hour(session, clf, params):
    """Features of both pairs, probabilities, bouts: what a prediction job does."""
    bouts = {}
    for a, t in ((0, 1), (1, 0)):
        x, _ = pair_features(session.pose, a, t, params=params, mm_per_unit=session.mm_per_px)
        bouts[(a, t)] = classifier_bouts(clf, x, fps=session.fps)
    return bouts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--ref-frames", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-params", default=None,
                    help="ClassifierParams as JSON for the training step ('{}': the defaults); "
                         f"default {json.dumps(TRAIN.to_dict())}")
    args = ap.parse_args(argv)
    train_params = TRAIN if args.train_params is None else ClassifierParams.from_dict(json.loads(args.train_params))
    params = FeatureParams()
    counts = max(1, int(round(args.minutes / 3)))  # per agent and behaviour: 200 episodes an hour
    hour = simulate_session(seed=args.seed, duration_s=args.minutes * 60, episode_counts=counts, name="hour")
    val = simulate_session(seed=args.seed + 1, duration_s=600, episode_counts=3, name="validation")
    print(f"synthetic: {hour.n_frames} frames x 2 animals, {len(hour.episodes)} scripted episodes; "
          f"validation session {val.n_frames} frames")

    t0 = time.perf_counter()
    train, names = pair_series(hour, params)
    t_feat = time.perf_counter() - t0
    vseries, _ = pair_series(val, params)
    t0 = time.perf_counter()
    clf = fit_classifier(train, vseries, behaviors=BEHAVIORS, params=train_params)
    t_fit = time.perf_counter() - t0
    print(f"features: {len(names)} per pair ({train[0].features.nbytes / 1e6:.0f} MB per pair, float32)")
    print(f"training on {args.minutes:g} min of labels (2 pairs, {len(BEHAVIORS)} behaviours, thresholds on the "
          f"validation session; {train_params.to_dict()}): {t_fit:.1f} s (+ {t_feat:.1f} s features)  [target <= 60 s]")

    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        bouts = predict_hour(hour, clf, params)
        times.append(time.perf_counter() - t0)
    n_bouts = sum(len(b) for per in bouts.values() for b in per.values())
    print(f"features + prediction + bouts, both pairs: {min(times):.2f} s best, {np.median(times):.2f} s median "
          f"of 3; {n_bouts} bouts  [target <= 5 s]")
    f1 = {b: bout_agreement(np.concatenate([label_bouts(s.label(b)) for s in train[:1]]), bouts[(0, 1)][b])["f1"]
          for b in BEHAVIORS}
    print("bout F1 on the (training) hour, pair 0>1: " + ", ".join(f"{b} {v:.3f}" for b, v in f1.items()))

    n = args.ref_frames
    t0 = time.perf_counter()
    ref = reference_features(hour.pose, 0, 1, frames=n, mm_per_unit=hour.mm_per_px, params=params)
    t_ref = time.perf_counter() - t0
    ours = pd.DataFrame(train[0].features[:n], columns=names)
    diff = np.abs(ref[list(names)].to_numpy(float) - ours.to_numpy(float))
    scale = np.maximum(1.0, np.abs(ref[list(names)].to_numpy(float)))
    same_nan = np.array_equal(np.isnan(ref[list(names)].to_numpy(float)), np.isnan(ours.to_numpy(float)))
    worst = np.nanmax(diff / scale)
    print(f"per-frame pandas loop on {n} frames of one pair: {t_ref:.1f} s; values agree with the vectorised "
          f"features to {worst:.1e} (relative, float32), NaN in the same places: {same_nan}")
    scaled = t_ref * hour.n_frames / n * 2
    print(f"loop scaled linearly to {hour.n_frames} frames x 2 pairs: {scaled:.0f} s, against {t_feat:.2f} s "
          f"vectorised: {scaled / t_feat:.0f}x")
    if not same_nan or worst > 1e-3:
        raise SystemExit("the per-frame reference disagrees with the vectorised features")


if __name__ == "__main__":
    main()
