"""Social-behaviour scoring (pipeline.behavior): geometry with known answers,
bout logic, units, role resolution, and validation against synthetic sessions."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from pipeline.behavior import (
    CONTACTS,
    RuleSet,
    find_bouts,
    resolve_roles,
    score_session,
    social_features,
    summarise_bouts,
    time_binned,
)
from pipeline.behavior.bouts import hysteresis, hysteresis_sparse
from pipeline.behavior.smoothing import running_median
from pipeline.errors import InputError
from pipeline.pose import PoseData

FPS = 30.0
MM_PER_PX = 0.5
KP = ("nose", "left_ear", "right_ear", "neck", "body_center", "tail_base")
FAR = np.array([400.0, 300.0])  # mm: where the partner waits when not in contact


def body(neck, heading_deg):
    """Keypoints (6, 2) in mm of a straight mouse: neck at ``neck``, nose 20 mm ahead,
    ears 6 mm ahead and 8 mm to the sides, centre 25 mm and tail base 50 mm behind."""
    h = math.radians(heading_deg)
    f, left = np.array([math.cos(h), math.sin(h)]), np.array([math.sin(h), -math.cos(h)])
    n = np.asarray(neck, float)
    return np.stack([n + 20 * f, n + 6 * f + 8 * left, n + 6 * f - 8 * left, n, n - 25 * f, n - 50 * f])


def pose_from_mm(frames_mm, *, individuals=("a", "b"), n_space=2, scale=MM_PER_PX):
    """PoseData in px (or mm for 3D) from a (time, individual, keypoint, 2) mm array."""
    pos = np.asarray(frames_mm, float)
    pos = np.concatenate([pos, np.zeros(pos.shape[:-1] + (1,))], -1) if n_space == 3 else pos / scale
    return PoseData(pos, np.ones(pos.shape[:3]), individuals=individuals, keypoints=KP, fps=FPS)


def two_mice(n, a_body, b_far, b_near, contact_frames):
    """Mouse a fixed; mouse b at ``b_far`` except on ``contact_frames`` where it is ``b_near``."""
    arr = np.empty((n, 2, 6, 2))
    arr[:, 0] = a_body
    arr[:, 1] = b_far
    arr[contact_frames, 1] = b_near
    return arr


A = body((0, 0), 0)  # a faces +x, nose at (20, 0)


def test_anogenital_bout_exactly_where_placed():
    # b faces +x with its tail base 5 mm ahead of a's nose on frames 10..39
    arr = two_mice(120, A, body(FAR, 90), body((75, 0), 0), slice(10, 40))
    r = score_session(pose_from_mm(arr), mm_per_px=MM_PER_PX)
    assert r.units == "mm"
    assert r.bouts[["behavior", "agent", "target", "start_frame", "end_frame"]].values.tolist() == [
        ["nose2anogenital", "a", "b", 10, 40]]
    b = r.bouts.iloc[0]
    assert b.start_s == pytest.approx(10 / FPS) and b.duration_s == pytest.approx(1.0)
    assert b.mean_distance == pytest.approx(5.0)
    s = r.summary.set_index(["behavior", "agent", "target"])
    assert s.loc[("nose2anogenital", "a", "b"), "bout_count"] == 1
    assert s.loc[("nose2anogenital", "a", "b"), "latency_s"] == pytest.approx(10 / FPS)
    assert s.loc[("nose2anogenital", "b", "a"), "bout_count"] == 0
    assert np.isnan(s.loc[("nose2anogenital", "b", "a"), "latency_s"])
    assert (s["scorable_fraction"] == 1.0).all()
    # nose2nose is listed once per pair
    assert len(r.summary[r.summary.behavior == "nose2nose"]) == 1


def test_head_direction_limit():
    # b's tail base 10 mm from a's nose, 26.6 deg off a's heading (seen from a's neck)
    arr = two_mice(60, A, body(FAR, 90), body((12, -44), -90), slice(10, 40))
    for limit, expect in ((60, [["nose2anogenital", 10, 40]]), (25, [])):
        r = score_session(pose_from_mm(arr), RuleSet(head_angle_deg=limit), mm_per_px=MM_PER_PX)
        assert r.bouts[["behavior", "start_frame", "end_frame"]].values.tolist() == expect
        f = r.features.angle["tail_base"][0, 20]
        assert f == pytest.approx(math.degrees(math.atan(0.5)))


def test_nose2nose_credited_once_and_exclusive():
    # b faces a; noses 4.5 mm apart, and a's nose is also 7 mm from b's left ear
    n = 90
    arr = np.empty((n, 2, 6, 2))
    arr[:, 0] = A + [6, -2]
    arr[:, 1] = body(FAR, 0)
    near = body((50, 0), 180)  # nose at (30, 0)
    near[1] = [32, -6]  # b's left ear 7.2 mm from a's nose (26, -2)
    arr[20:50, 1] = near
    for order in (("a", "b"), ("b", "a")):
        r = score_session(pose_from_mm(arr, individuals=order), mm_per_px=MM_PER_PX)
        assert r.bouts[["behavior", "agent", "target", "start_frame", "end_frame"]].values.tolist() == [
            ["nose2nose", order[0], order[1], 20, 50]]
    # with the noses apart the ear contact is scored
    arr[20:50, 1, 0] = [60, 40]
    r = score_session(pose_from_mm(arr), mm_per_px=MM_PER_PX)
    assert r.bouts[["behavior", "agent", "target", "start_frame", "end_frame"]].values.tolist() == [
        ["nose2left_ear", "a", "b", 20, 50]]


def test_closest_point_wins():
    # a's nose 9 mm from b's right ear and 5 mm from b's neck: nose2neck only
    b = body((30, 0), 90)  # b faces +y; neck (30, 0), right ear at (38, 6)
    b[2] = [29, 9]  # right ear 9.5 mm from a's nose (25, 2)
    arr = two_mice(60, A + [5, 2], body(FAR, 90), b, slice(5, 45))
    r = score_session(pose_from_mm(arr), mm_per_px=MM_PER_PX)
    assert r.bouts[["behavior", "start_frame", "end_frame"]].values.tolist() == [["nose2neck", 5, 45]]


def test_px_rules_and_units_errors():
    arr = two_mice(60, A, body(FAR, 90), body((75, 0), 0), slice(10, 40))
    pose = pose_from_mm(arr)
    with pytest.raises(InputError, match="no mm-per-pixel scale; use a rule set in px"):
        score_session(pose, RuleSet())
    with pytest.raises(ValueError, match="must give every threshold"):
        RuleSet(units="px")
    r = score_session(pose, RuleSet().to_px(MM_PER_PX))  # no scale needed
    assert r.units == "px" and r.bouts.start_frame.tolist() == [10]
    assert r.bouts.mean_distance.iloc[0] == pytest.approx(10.0)  # 5 mm = 10 px
    # 3D poses are mm: no scale, no px rules
    pose3 = pose_from_mm(arr, n_space=3)
    r3 = score_session(pose3)
    assert r3.bouts[["behavior", "start_frame", "end_frame"]].values.tolist() == [["nose2anogenital", 10, 40]]
    with pytest.raises(InputError, match="use a rule set in mm"):
        score_session(pose3, RuleSet().to_px(MM_PER_PX))
    with pytest.raises(InputError, match="frame rate"):
        score_session(PoseData(pose.positions, pose.confidence, individuals=("a", "b"), keypoints=KP),
                      mm_per_px=MM_PER_PX)


def test_find_bouts_merge_and_min_bout():
    def bouts(*runs, n=100, **kw):
        c = np.zeros(n, bool)
        for s, e in runs:
            c[s:e] = True
        kw = {"fps": FPS, "min_bout_s": 0.2, "max_gap_s": 0.2, **kw}
        return find_bouts(c, **kw)[["start_frame", "end_frame"]].values.tolist()

    assert bouts((10, 20), (26, 36)) == [[10, 36]]  # gap 6 frames = 0.2 s: merged
    assert bouts((10, 20), (27, 37)) == [[10, 20], [27, 37]]  # gap 7: not
    assert bouts((10, 15)) == [] and bouts((10, 16)) == [[10, 16]]  # min bout 6 frames
    assert bouts((10, 12), (14, 16)) == [[10, 16]]  # short runs merged first, then kept
    assert bouts((0, 10), (95, 100)) == [[0, 10]]  # edges
    assert bouts((10, 20), (26, 36), max_gap_s=0) == [[10, 20], [26, 36]]


def test_unscorable_frames_bridge_at_most_the_gap():
    c = np.zeros((3, 100), bool)
    ok = np.ones((3, 100), bool)
    c[:, 10:20] = c[:, 26:36] = True
    c[0, 20:26], ok[0, 20:26] = True, False  # 6 unscorable frames (even "in contact"): bridged
    c[1, 26], ok[1, 20:27] = True, False  # 7 unscorable: not
    ok[2, 20:23] = False  # 3 unscorable + 3 non-contact: bridged
    out = find_bouts(c, ok, fps=FPS, min_bout_s=0.2, max_gap_s=0.2).values.tolist()
    assert out == [[0, 10, 36], [1, 10, 20], [1, 27, 36], [2, 10, 36]]


def test_unscorable_in_a_session():
    arr = two_mice(120, A, body(FAR, 90), body((75, 0), 0), slice(10, 70))
    rules = RuleSet(smooth_s=0)
    for gap, expect in ((6, [[10, 70]]), (7, [[10, 30], [37, 70]])):
        a = arr.copy()
        a[30:30 + gap, 1, 5] = np.nan  # b's tail base lost
        r = score_session(pose_from_mm(a), rules, mm_per_px=MM_PER_PX)
        assert r.bouts[["start_frame", "end_frame"]].values.tolist() == expect
        s = r.summary.set_index(["behavior", "agent", "target"])
        assert s.loc[("nose2anogenital", "a", "b"), "scorable_fraction"] == pytest.approx(1 - gap / 120)
        assert s.loc[("nose2nose", "a", "b"), "scorable_fraction"] == 1.0
    # with the default median smoothing an isolated lost frame is filled in
    a = arr.copy()
    a[[30, 50], 1, 5] = np.nan
    r = score_session(pose_from_mm(a), mm_per_px=MM_PER_PX)
    assert r.bouts[["start_frame", "end_frame"]].values.tolist() == [[10, 70]]
    assert r.summary.scorable_fraction.min() == 1.0


def test_hysteresis_and_running_median():
    s = np.array([[0, 0, 1, 1, 0, 0, 0, 0, 0]], bool)
    lo = np.array([[0, 1, 1, 1, 1, 0, 1, 1, 0]], bool)
    assert hysteresis(s, lo).astype(int).tolist() == [[0, 1, 1, 1, 1, 0, 0, 0, 0]]
    x = np.array([[1.0, np.nan, 3.0, 100.0, 5.0, np.nan, np.nan, np.nan, 2.0]])
    m = running_median(x, 3)
    np.testing.assert_allclose(m, [[1, 2, 51.5, 5, 52.5, 5, np.nan, 2, 2]])


def test_sparse_hysteresis_matches_dense():
    rng = np.random.default_rng(3)
    strict = rng.random((3, 400)) < 0.03
    loose = rng.random((3, 400)) < 0.6
    dense = hysteresis(strict, loose)
    keep = strict | loose | (rng.random((3, 400)) < 0.5)  # any superset of the frames in play
    idx = np.flatnonzero(keep)
    link = (np.diff(idx) == 1) & (idx[1:] % 400 != 0)
    sparse = hysteresis_sparse(strict.ravel()[idx], loose.ravel()[idx], link)
    assert (sparse == dense.ravel()[idx]).all() and not dense.ravel()[np.flatnonzero(~keep)].any()


def test_release_extends_bout_edges():
    arr = two_mice(100, A, body(FAR, 90), body((75, 0), 0), slice(20, 60))
    arr[[20, 59], 1] = body((89, 0), 0)  # first and last frame 19 mm away
    r = score_session(pose_from_mm(arr), mm_per_px=MM_PER_PX)
    assert r.bouts[["start_frame", "end_frame"]].values.tolist() == [[20, 60]]
    r = score_session(pose_from_mm(arr), RuleSet(release_factor=1), mm_per_px=MM_PER_PX)
    assert r.bouts[["start_frame", "end_frame"]].values.tolist() == [[21, 59]]


def test_optional_following_and_side_by_side():
    n, v = 90, 100.0  # mm/s along +x
    t = np.arange(n)[:, None, None] / FPS
    arr = np.empty((n, 2, 6, 2))
    arr[:, 0] = A
    arr[:, 1] = body((95, 0), 0)  # a's nose 25 mm behind b's tail base
    arr[..., 0] += v * t
    rules = RuleSet(following=True, side_by_side=True)
    r = score_session(pose_from_mm(arr), rules, mm_per_px=MM_PER_PX)
    assert r.bouts[["behavior", "agent", "target", "start_frame", "end_frame"]].values.tolist() == [
        ["following", "a", "b", 0, n]]
    arr[:, 1] = A + [0, 30]  # side by side, centres 30 mm apart
    arr[:, 1, :, 0] += v * t[:, 0]
    r = score_session(pose_from_mm(arr), rules, mm_per_px=MM_PER_PX)
    assert r.bouts[["behavior", "agent", "target", "start_frame", "end_frame"]].values.tolist() == [
        ["side_by_side", "a", "b", 0, n]]
    assert RuleSet.from_dict(json.loads(json.dumps(rules.to_dict()))) == rules


def test_summaries_and_time_bins():
    b = pd.DataFrame({"pair": [0, 0, 1], "start_frame": [10, 1790, 50], "end_frame": [40, 1830, 56]})
    ok = np.ones((2, 5400), bool)
    ok[1, :540] = False
    s = summarise_bouts(b, fps=FPS, n_frames=5400, scorable=ok).set_index("pair")
    assert s.loc[0, "bout_count"] == 2 and s.loc[0, "frames_in_contact"] == 70
    assert s.loc[0, "total_duration_s"] == pytest.approx(70 / FPS)
    assert s.loc[0, "mean_bout_s"] == pytest.approx(35 / FPS) == s.loc[0, "median_bout_s"]
    assert s.loc[0, "latency_s"] == pytest.approx(10 / FPS)
    assert s.loc[1, "scorable_fraction"] == pytest.approx(0.9)
    tb = time_binned(b, fps=FPS, bin_s=60, n_bins=3, n_pairs=2)
    p0 = tb[tb.pair == 0].set_index("bin")
    assert p0.bout_count.tolist() == [2, 0, 0]
    np.testing.assert_allclose(p0.contact_s, [40 / FPS, 30 / FPS, 0])
    np.testing.assert_allclose(p0.latency_s, [10 / FPS, 0, np.nan])
    assert tb[tb.pair == 1].bout_count.tolist() == [1, 0, 0]


@pytest.mark.parametrize("names, expect", [
    (["Nose", "Left_ear", "Right_ear", "Spine_1", "Center", "Left_fhip", "Right_fhip", "Spine_2",
      "Left_bhip", "Right_bhip", "Tail_base", "Tail_1", "Tail_2", "Tail_tip"],
     {"nose": "Nose", "left_ear": "Left_ear", "right_ear": "Right_ear", "neck": "Spine_1",
      "tail_base": "Tail_base"}),
    (["head", "thorax", "abdomen", "wingL", "wingR"],
     {"nose": "head", "left_ear": None, "right_ear": None, "neck": "thorax", "tail_base": "abdomen"}),
    (["head", "snout", "Ear_L", "Ear_R", "base_of_tail"],
     {"nose": "snout", "left_ear": "Ear_L", "right_ear": "Ear_R", "neck": ("midpoint", "Ear_L", "Ear_R"),
      "tail_base": "base_of_tail"}),
    (["NOSE", "leftear", "ear_right", "Thorax", "neck", "abdomen", "TailBase"],
     {"nose": "NOSE", "left_ear": "leftear", "right_ear": "ear_right", "neck": "neck",
      "tail_base": "TailBase"}),
])
def test_resolve_roles(names, expect):
    assert resolve_roles(names) == expect


def test_resolve_roles_errors_and_overrides():
    with pytest.raises(InputError, match=r"tail base.*\['nose', 'neck'\]"):
        resolve_roles(["nose", "neck"])
    with pytest.raises(InputError, match="neck"):
        resolve_roles(["nose", "left_ear", "tail_base"])
    with pytest.raises(InputError, match="nose"):
        resolve_roles(["tail_base", "neck"])
    r = resolve_roles(["Nose", "Center", "Tail_base"], {"neck": "Center"})
    assert r["neck"] == "Center" and r["left_ear"] is None
    with pytest.raises(InputError, match="not in the skeleton"):
        resolve_roles(["nose", "neck", "tail_base"], {"neck": "Spine_1"})


def test_features_match_an_independent_recomputation():
    rng = np.random.default_rng(7)
    pos = rng.uniform(0, 500, (50, 3, 6, 2))
    pos[3, 1, 0] = np.nan  # individual 1's nose lost on frame 3
    roles = resolve_roles(KP)
    f = social_features(pos, roles, keypoints=KP, mm_per_unit=0.25, fps=FPS)
    assert f.pairs == ((0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1))
    index = {"nose": 0, "left_ear": 1, "right_ear": 2, "neck": 3, "tail_base": 5}
    for t in (0, 17, 49):
        for p, (a, b) in enumerate(f.pairs):
            nose, neck = pos[t, a, 0] * 0.25, pos[t, a, 3] * 0.25
            for name, k in index.items():
                q = pos[t, b, k] * 0.25
                assert f.distance[name][p, t] == pytest.approx(math.dist(nose, q))
                h, v = nose - neck, q - neck
                cos = (h @ v) / (math.hypot(*h) * math.hypot(*v))
                assert f.angle[name][p, t] == pytest.approx(math.degrees(math.acos(cos)), abs=1e-6)
    p10 = f.pairs.index((1, 0))
    assert all(np.isnan(f.distance[k][p10, 3]) for k in index)
    assert np.isnan(f.distance["nose"][f.pairs.index((0, 1)), 3])
    assert np.isfinite(f.distance["tail_base"][f.pairs.index((0, 1)), 3])


def test_midpoint_neck_feature():
    kp = ("snout", "ear_left", "ear_right", "tailbase")
    pos = np.zeros((1, 2, 4, 2))
    pos[0, 1] = [[0, 0], [10, 4], [10, -4], [40, 0]]  # b's ear midpoint (10, 0)
    pos[0, 0] = [[-5, 0], [-20, 4], [-20, -4], [-60, 0]]
    f = social_features(pos, resolve_roles(kp), keypoints=kp, mm_per_unit=1.0)
    assert f.distance["neck"][0, 0] == pytest.approx(15.0)


def test_more_animals_and_rule_set_plumbing():
    arr = two_mice(60, A, body(FAR, 90), body((75, 0), 0), slice(10, 40))
    third = np.broadcast_to(body((-300, -300), 0), (60, 1, 6, 2))
    pose = pose_from_mm(np.concatenate([arr, third], axis=1), individuals=("a", "b", "c"))
    r = score_session(pose, mm_per_px=MM_PER_PX)
    assert r.bouts[["behavior", "agent", "target", "start_frame"]].values.tolist() == [
        ["nose2anogenital", "a", "b", 10]]
    assert len(r.summary) == 3 + 4 * 6  # nose2nose once per unordered pair
    rules = RuleSet(thresholds={"nose2nose": 15}, min_bout_s=0.5)
    assert rules.thresholds["nose2neck"] == 12.0 and hash(rules) == hash(RuleSet.from_dict(rules.to_dict()))
    with pytest.raises(ValueError, match="unknown behaviour"):
        RuleSet(thresholds={"nose2tail": 3})
    with pytest.raises(ValueError, match="release_factor"):
        RuleSet(release_factor=0.5)


def test_matches_the_per_frame_reference_of_the_benchmark():
    """The benchmark's plain-Python loop and the vectorised scorer agree on noisy data."""
    import importlib.util
    from pathlib import Path

    from pipeline.synthetic import ObservationNoise, simulate_session

    path = Path(__file__).resolve().parents[2] / "bench" / "bench_behavior.py"
    spec = importlib.util.spec_from_file_location("bench_behavior", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    s = simulate_session(seed=11, duration_s=90, episode_counts=2,
                         noise=ObservationNoise(jitter_px=2.0, drop_fraction=0.1))
    for rules in (RuleSet(), RuleSet(smooth_s=0), RuleSet(release_factor=1, smooth_s=0.25)):
        r = score_session(s.pose, rules, mm_per_px=s.mm_per_px)
        ours = sorted(map(tuple, r.bouts[["behavior", "agent", "target", "start_frame", "end_frame"]]
                          .astype(object).values.tolist()))
        ref, _ = bench.loop_score(s.pose.positions, list(s.pose.keypoints), s.pose.individuals, rules,
                                  s.mm_per_px, s.fps)
        assert ours == ref and len(ref) >= 5


# ---------------------------------------------------------------- synthetic validation


def test_synthetic_validation():
    from pipeline.behavior.validate import match_bouts
    from pipeline.synthetic import ObservationNoise, simulate_session

    noises = [ObservationNoise(), ObservationNoise(jitter_px=1.0, drop_fraction=0.05)]
    sessions = [simulate_session(seed=40 + i, duration_s=300, episode_counts=3, noise=noises[i % 2])
                for i in range(6)]
    acc = {b: np.zeros(6) for b in CONTACTS}
    lat = {b: [] for b in CONTACTS}
    for s in sessions:
        r = score_session(s.pose, mm_per_px=s.mm_per_px)
        for b in CONTACTS:
            m = match_bouts(r.bouts[r.bouts.behavior == b], s.episodes[s.episodes.behavior == b])
            acc[b] += (m.matched_bouts, m.bouts, m.matched_episodes, m.episodes, m.detected_frames, m.true_frames)
            lat[b] += m.latency_errors
    rows = []
    for b in CONTACTS:
        tp_d, n_d, tp_t, n_t, dur_d, dur_t = acc[b]
        rows.append((b, int(n_t), int(n_d), tp_d / n_d, tp_t / n_t, (dur_d - dur_t) / dur_t, max(lat[b])))
    table = pd.DataFrame(rows, columns=["behavior", "episodes", "bouts", "precision", "recall",
                                        "duration_error", "max_latency_error_frames"])
    print("\n" + table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    assert (table.episodes >= 20).all()
    assert (table.precision >= 0.95).all() and (table.recall >= 0.95).all()
    assert (table.duration_error.abs() <= 0.05).all()
    assert (table.max_latency_error_frames <= 2).all()
