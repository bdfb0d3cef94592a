"""Benchmark: social-behaviour scoring of one hour of two-mouse pose at 30 fps.

Times the generic rule engine (``score_document`` with the
``ethojoint-default`` preset, then bouts and 1-minute ``time_binned`` tables
per behaviour, as a pipeline would) against a straightforward per-frame
Python loop implementation of the same rules (written out below; plain
floats from ``positions.tolist()``, ``math``, sorted windows for the running
median), measured side by side in one run, and asserts that both find the
same bouts.  The fixed scorer that the preset replaces (``score_session``
with ``RuleSet()``) is timed too, for comparison, and must agree with both
(bouts and summaries). Run::

    python bench/bench_behavior.py [--minutes 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from pipeline.behavior import RuleSet, find_bouts, resolve_roles, score_session, time_binned  # noqa: E402
from pipeline.behavior.bouts import gap_frames, min_frames  # noqa: E402
from pipeline.behavior.ruledoc import load_document  # noqa: E402
from pipeline.behavior.ruleengine import score_document  # noqa: E402
from pipeline.behavior.rules import DIRECTED  # noqa: E402
from pipeline.behavior.smoothing import smooth_window  # noqa: E402

NAN = float("nan")
PRESET = "ethojoint-default"
POINTS = ("nose", "tail_base", "neck", "left_ear", "right_ear")


# ---------------------------------------------------------------- the per-frame loop reference


def _median(seq, t, h):
    vals = sorted(v for v in seq[max(0, t - h):t + h + 1] if v == v)
    n = len(vals)
    return (vals[(n - 1) // 2] + vals[n // 2]) / 2 if n else NAN


def _hyst(strict, loose):
    out, t, n = [False] * len(strict), 0, len(strict)
    while t < n:
        if strict[t] or loose[t]:
            s = t
            while t < n and (strict[t] or loose[t]):
                t += 1
            if any(strict[s:t]):
                out[s:t] = [True] * (t - s)
        else:
            t += 1
    return out


def _loop_features(P, k, pairs, s, T):
    """Nose-to-point distances and head-direction angles per point, pair and frame."""
    D = {name: [[NAN] * T for _ in pairs] for name in POINTS}
    A = {name: [[NAN] * T for _ in pairs] for name in POINTS}
    for t in range(T):
        fr = P[t]
        for p, (a, b) in enumerate(pairs):
            nx, ny = fr[a][k["nose"]][0] * s, fr[a][k["nose"]][1] * s
            kx, ky = fr[a][k["neck"]][0] * s, fr[a][k["neck"]][1] * s
            hx, hy = nx - kx, ny - ky
            for name in POINTS:
                qx, qy = fr[b][k[name]][0] * s, fr[b][k[name]][1] * s
                dx, dy = qx - nx, qy - ny
                D[name][p][t] = math.sqrt(dx * dx + dy * dy)
                vx, vy = qx - kx, qy - ky
                A[name][p][t] = math.degrees(math.atan2(abs(hx * vy - hy * vx), hx * vx + hy * vy))
    return D, A


def _loop_decide(D, A, pairs, rules, T):
    """(nose2nose per pair and frame, directed behaviour or None per pair and frame)."""
    th, head, rf = rules.thresholds, rules.head_angle_deg, rules.release_factor
    names = list(DIRECTED)

    def directed(p, t, f, excluded):
        best, bd = None, math.inf
        if not excluded:
            for beh in names:
                d = D[DIRECTED[beh]][p][t]
                if d < f * th[beh] and A[DIRECTED[beh]][p][t] < head and d < bd:
                    best, bd = beh, d
        return best

    rev = [pairs.index((b, a)) for a, b in pairs]
    nn_s = [[D["nose"][p][t] < th["nose2nose"] for t in range(T)] for p in range(len(pairs))]
    strict = [[directed(p, t, 1.0, nn_s[p][t]) for t in range(T)] for p in range(len(pairs))]
    if rf <= 1:
        return nn_s, strict
    nn = [_hyst(nn_s[p], [D["nose"][p][t] < rf * th["nose2nose"] and strict[p][t] is None
                          and strict[rev[p]][t] is None for t in range(T)]) for p in range(len(pairs))]
    final = []
    for p in range(len(pairs)):
        loose = [directed(p, t, rf, nn[p][t]) for t in range(T)]
        per = {}
        for beh in names:
            got = _hyst([x == beh for x in strict[p]],
                        [loose[t] == beh and strict[p][t] in (None, beh) for t in range(T)])
            per[beh] = [g and not nn[p][t] for t, g in enumerate(got)]
        final.append([next((b for b in names if per[b][t]), None) for t in range(T)])
    return nn, final


def _loop_runs(D, A, nn, strict, beh, p, T):
    """Contact runs ``[start, end]`` of one behaviour and pair, and its number of scorable frames."""
    pt = "nose" if beh == "nose2nose" else DIRECTED[beh]
    runs, start, ok_count = [], None, 0
    for t in range(T + 1):
        ok = t < T and D[pt][p][t] == D[pt][p][t] and (beh == "nose2nose" or A[pt][p][t] == A[pt][p][t])
        ok_count += ok
        hit = ok and (nn[p][t] if beh == "nose2nose" else strict[p][t] == beh)
        if hit and start is None:
            start = t
        elif not hit and start is not None:
            runs.append([start, t])
            start = None
    return runs, ok_count


def _loop_bouts(runs, gap, shortest):
    """Merge gaps of at most ``gap`` frames, keep bouts of at least ``shortest`` frames."""
    merged = []
    for r in runs:
        if merged and r[0] - merged[-1][1] <= gap:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    return [r for r in merged if r[1] - r[0] >= shortest]


def loop_score(pos, keypoints, individuals, rules, mm_per_px, fps):
    """Same rules, frame by frame in plain Python. Returns (bouts, summaries)."""
    roles = resolve_roles(keypoints)
    k = {r: keypoints.index(v) for r, v in roles.items()}  # this bench's skeleton has a neck
    n_ind, T = len(individuals), len(pos)
    pairs = [(a, b) for a in range(n_ind) for b in range(n_ind) if a != b]
    D, A = _loop_features(pos.tolist(), k, pairs, mm_per_px, T)
    h = smooth_window(rules.smooth_s, fps) // 2
    if h:
        D = {n: [[_median(row, t, h) for t in range(T)] for row in D[n]] for n in POINTS}
        A = {n: [[_median(row, t, h) for t in range(T)] for row in A[n]] for n in POINTS}
    nn, strict = _loop_decide(D, A, pairs, rules, T)
    bouts, summaries = [], []
    gap, shortest = gap_frames(rules.max_gap_s, fps), min_frames(rules.min_bout_s, fps)
    for beh in ("nose2nose",) + tuple(DIRECTED):
        for p, (a, b) in enumerate(pairs):
            if beh == "nose2nose" and a > b:
                continue
            runs, ok_count = _loop_runs(D, A, nn, strict, beh, p, T)
            kept = _loop_bouts(runs, gap, shortest)
            bouts += [(beh, individuals[a], individuals[b], st, en) for st, en in kept]
            durs = [(en - st) / fps for st, en in kept]
            summaries.append(dict(behavior=beh, agent=individuals[a], target=individuals[b], bout_count=len(kept),
                                  total_duration_s=sum(durs), mean_bout_s=statistics.fmean(durs) if durs else NAN,
                                  median_bout_s=statistics.median(durs) if durs else NAN,
                                  latency_s=kept[0][0] / fps if kept else NAN, scorable_fraction=ok_count / T))
    return sorted(bouts), summaries


# ---------------------------------------------------------------- benchmark


def make_pose(minutes: float, seed: int):
    from pipeline.synthetic import simulate_session

    s = simulate_session(seed=seed, duration_s=60.0 * minutes, episode_counts=max(1, int(minutes * 0.6)))
    return s.pose, s.mm_per_px, len(s.episodes)


def _bins(fps: float, n_frames: int) -> int:
    return int(math.ceil(n_frames / fps / 60))


def engine_run(pose, mm_per_px, doc, roles):
    """The generic engine as a pipeline runs it: frames, then bouts and 1-minute bins per behaviour.

    Returns the sorted bout tuples ``(behavior, agent, target, start_frame, end_frame)``.
    """
    res = score_document(pose, doc, roles=roles, mm_per_px=mm_per_px)
    bouts = []
    for beh in res.behaviors:
        contact, ok = res.contact[beh], res.scorable[beh]
        b = find_bouts(contact, ok, fps=res.fps, min_bout_s=0, max_gap_s=0)  # the engine made the bouts
        time_binned(b, fps=res.fps, bin_s=60, n_bins=_bins(res.fps, pose.n_frames), n_frames=pose.n_frames,
                    scorable=ok)
        names = [(res.individuals[a], res.individuals[t]) for a, t in res.pairs]
        bouts += [(beh, *names[p], s, e) for p, s, e in b[["pair", "start_frame", "end_frame"]].to_numpy().tolist()]
    return sorted(bouts)


def fixed_run(pose, mm_per_px, rules):
    """The fixed scorer (``score_session``) with the same bouts and bins; returns its ScoreResult."""
    r = score_session(pose, rules, mm_per_px=mm_per_px)
    for contact, ok in r.frames.values():
        b = find_bouts(contact, ok, fps=r.fps, min_bout_s=rules.min_bout_s, max_gap_s=rules.max_gap_s)
        time_binned(b, fps=r.fps, bin_s=60, n_bins=_bins(r.fps, pose.n_frames), n_frames=pose.n_frames,
                    scorable=ok)
    return r


def timed(fn, repeat: int):
    """(last result, list of run times in seconds)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, times


def check_summaries(r, ref_summary):
    """The fixed scorer's summaries agree with the loop's."""
    summ = r.summary.set_index(["behavior", "agent", "target"])
    for row in ref_summary:
        mine = summ.loc[(row["behavior"], row["agent"], row["target"])]
        for key in ("bout_count", "total_duration_s", "mean_bout_s", "median_bout_s", "latency_s",
                    "scorable_fraction"):
            np.testing.assert_allclose(mine[key], row[key], rtol=1e-12, err_msg=f"{row} {key}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5, help="runs of the vectorised scorers (best and median shown)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    pose, mm_per_px, n_episodes = make_pose(args.minutes, args.seed)
    print(f"synthetic session: {pose.n_frames} frames x {pose.n_individuals} animals x {pose.n_keypoints} "
          f"keypoints at {pose.fps:g} fps, {n_episodes} scripted contacts ({time.perf_counter() - t0:.1f} s to make)")
    rules, doc = RuleSet(), load_document(PRESET)
    roles = doc.skeleton_roles("ethojoint_synthetic")
    ours, t_doc = timed(lambda: engine_run(pose, mm_per_px, doc, roles), args.repeat)
    r, t_fixed = timed(lambda: fixed_run(pose, mm_per_px, rules), args.repeat)
    t = time.perf_counter()
    ref_bouts, ref_summary = loop_score(pose.positions, list(pose.keypoints), pose.individuals, rules,
                                        mm_per_px, pose.fps)
    t_loop = time.perf_counter() - t
    fixed = sorted(map(tuple, r.bouts[["behavior", "agent", "target", "start_frame", "end_frame"]]
                       .astype(object).values.tolist()))
    assert fixed == ref_bouts, f"bouts differ: {len(fixed)} fixed scorer vs {len(ref_bouts)} loop"
    assert ours == ref_bouts, f"bouts differ: {len(ours)} rule engine vs {len(ref_bouts)} loop"
    check_summaries(r, ref_summary)
    best, med = min(t_doc), statistics.median(t_doc)
    print(f"bouts: {len(ours)} (identical in all three implementations; summaries agree)")
    print(f"rule engine, preset {PRESET} (frames + bouts + 1-min bins): {best:.3f} s best, "
          f"{med:.3f} s median of {args.repeat}")
    print(f"fixed scorer score_session (same work, for comparison):        {min(t_fixed):.3f} s best, "
          f"{statistics.median(t_fixed):.3f} s median")
    print(f"per-frame Python loop (same rules, same bouts):                 {t_loop:.2f} s")
    print(f"speed-up of the rule engine over the loop: {t_loop / best:.0f}x (best), {t_loop / med:.0f}x (median)")
    return best, t_loop


if __name__ == "__main__":
    main()
