"""pipeline.quality: filters, Kalman/RTS, identity-swap detection and correction, accuracy.

Synthetic tests inject jitter, spikes, gaps and swaps into copies of a
simulated session and measure errors against its ground truth; real-data
tests use the SLEAP fly files of ../shared/data/sleap_flies.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from pipeline.quality import (
    STEPS,
    apply_chain,
    body_size,
    centroids,
    confidence_threshold,
    correct_identities,
    detect_swaps,
    identity_accuracy,
    interpolate_gaps,
    max_jump,
    reject_implausible,
)
from pipeline.quality.kalman import cv_kalman_rts
from pipeline.synthetic import ObservationNoise, simulate_session

# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def session():
    return simulate_session(seed=5, duration_s=60, noise=ObservationNoise(jitter_px=2.0, drop_fraction=0.02))


def _truth_px(s):
    return s.true_positions_mm / s.mm_per_px + np.asarray(s.arena_center_px)


def _rmse(pose, truth):
    d = np.linalg.norm(pose.positions - truth, axis=-1)
    return float(np.sqrt(np.nanmean(d ** 2)))


def _spiked(pose, rng, fraction=0.01, low_confidence=True):
    pos, conf = pose.positions.copy(), pose.confidence.copy()
    spike = (rng.random(pos.shape[:3]) < fraction) & ~np.isnan(pos).any(-1)
    ang = rng.uniform(0, 2 * np.pi, spike.sum())
    r = rng.uniform(100, 200, spike.sum())
    pos[spike] += np.c_[r * np.cos(ang), r * np.sin(ang)]
    if low_confidence:
        conf[spike] = rng.uniform(0.0, 0.3, spike.sum())
    return dataclasses.replace(pose, positions=pos, confidence=conf), spike


def inject_swaps(pose, rng, n_segments, min_len, max_len):
    """Swap the two individuals over short segments; returns the pose and swap frames (starts and ends)."""
    n = pose.n_frames
    starts = np.sort(rng.choice(np.arange(30, n - max_len - 30, 30 + max_len), n_segments, replace=False))
    pos, conf, events = pose.positions.copy(), pose.confidence.copy(), []
    for s0 in starts:
        e0 = s0 + int(rng.integers(min_len, max_len))
        pos[s0:e0] = pos[s0:e0, ::-1]
        conf[s0:e0] = conf[s0:e0, ::-1]
        events += [s0, e0]
    return dataclasses.replace(pose, positions=pos, confidence=conf), np.array(events)


# ---------------------------------------------------------------- filters


def test_filters_never_modify_input_and_keep_shape(session):
    p = session.pose
    before = p.positions.copy()
    for name, kw in [("confidence_threshold", {"threshold": 0.5}), ("max_jump", {"max_px_per_frame": 60}),
                     ("interpolate_gaps", {"max_gap_frames": 3}), ("rolling_median", {"window": 5}),
                     ("savgol", {"window": 7, "order": 2}), ("gaussian", {"sigma_frames": 1.0}),
                     ("kalman_rts", {"process_noise": 10.0, "measurement_noise": 4.0})]:
        out, stats = STEPS[name](p, **kw)
        assert out.positions.shape == p.positions.shape and out.individuals == p.individuals
        assert set(stats) == {"removed", "changed", "filled"}
        np.testing.assert_array_equal(np.isnan(out.positions).any(-1), np.isnan(out.positions).all(-1))
    np.testing.assert_array_equal(p.positions, before)


@pytest.mark.parametrize("name, kw, expect_below", [
    ("rolling_median", {"window": 5}, 2.3),
    ("savgol", {"window": 7, "order": 2}, 2.4),
    ("gaussian", {"sigma_frames": 1.0}, 2.3),
    ("kalman_rts", {"process_noise": 10.0, "measurement_noise": 4.0}, 2.3),
])
def test_smoothers_reduce_jitter_error(session, name, kw, expect_below):
    truth = _truth_px(session)
    before = _rmse(session.pose, truth)
    out, stats = STEPS[name](session.pose, **kw)
    after = _rmse(out, truth)
    print(f"{name}: RMSE {before:.3f} -> {after:.3f} px")
    assert before > 2.7 and after < expect_below < before
    assert stats["removed"] == 0 and stats["changed"] > 0.5 * np.isfinite(session.pose.positions[..., 0]).sum()


def test_confidence_threshold_and_max_jump_remove_spikes(session):
    truth = _truth_px(session)
    spiked, spike = _spiked(session.pose, np.random.default_rng(0))
    before = _rmse(spiked, truth)
    by_conf, st_conf = confidence_threshold(spiked, threshold={"synthetic": 0.5, "SLEAP": 0.2})
    by_jump, st_jump = max_jump(spiked, max_px_per_frame=60)
    a_conf, a_jump = _rmse(by_conf, truth), _rmse(by_jump, truth)
    print(f"spikes: RMSE {before:.2f} -> confidence {a_conf:.2f}, max_jump {a_jump:.2f} px")
    assert before > 10 and a_conf < 3.0 and a_jump < 3.5
    assert st_conf["removed"] == spike.sum()
    assert np.isnan(by_jump.positions[spike]).all(-1).mean() > 0.97
    assert st_jump["removed"] < 1.3 * spike.sum()


def test_confidence_threshold_per_engine():
    from pipeline.pose import PoseData
    p = PoseData(np.zeros((3, 1, 1, 2)), np.array([0.1, 0.4, 0.9])[:, None, None], individuals=("a",),
                 keypoints=("k",), source_software="DeepLabCut")
    out, st = confidence_threshold(p, threshold={"SLEAP": 0.2, "DeepLabCut": 0.6})
    assert st["removed"] == 2 and np.isnan(out.positions[:2]).all()
    out, st = confidence_threshold(p, threshold={"default": 0.3})
    assert st["removed"] == 1
    with pytest.raises(ValueError, match="DeepLabCut"):
        confidence_threshold(p, threshold={"SLEAP": 0.2})


def test_max_jump_recovers_after_gap():
    from pipeline.pose import PoseData
    x = np.array([0, 1, 2, 50, 3, np.nan, np.nan, np.nan, 8, 9], float)
    p = PoseData(np.stack([x, np.zeros(10)], -1)[:, None, None], np.ones((10, 1, 1)), individuals=("a",),
                 keypoints=("k",))
    out, st = max_jump(p, max_px_per_frame=2)
    assert st["removed"] == 1 and np.isnan(out.positions[3]).all() and out.positions[8, 0, 0, 0] == 8


def test_max_jump_matches_sequential_reference():
    from pipeline.pose import PoseData
    rng = np.random.default_rng(4)
    xy = np.cumsum(rng.normal(0, 2, (3000, 1, 3, 2)), axis=0)
    xy[rng.random(xy.shape[:3]) < 0.03] += rng.choice([-40.0, 40.0], 2)
    xy[rng.random(xy.shape[:3]) < 0.05] = np.nan
    p = PoseData(xy, np.ones(xy.shape[:3]), individuals=("a",), keypoints=("k1", "k2", "k3"))
    out, _ = max_jump(p, max_px_per_frame=10)
    for k in range(3):
        keep, last, t_last = [], None, None
        for t in range(3000):
            if np.isnan(xy[t, 0, k]).any():
                continue
            if last is None or np.linalg.norm(xy[t, 0, k] - last) <= 10 * (t - t_last):
                last, t_last = xy[t, 0, k], t
                keep.append(t)
        np.testing.assert_array_equal(np.flatnonzero(~np.isnan(out.positions[:, 0, k, 0])), keep)


@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_interpolate_gaps_fills_short_gaps_accurately(session, method):
    truth = _truth_px(session)
    p = session.pose
    pos = p.positions.copy()
    rng = np.random.default_rng(2)
    gap_starts = rng.choice(np.arange(5, p.n_frames - 10), 40, replace=False)
    for g in gap_starts:
        pos[g:g + int(rng.integers(1, 4)), 0, int(rng.integers(0, p.n_keypoints))] = np.nan
    gappy = dataclasses.replace(p, positions=pos)
    out, st = interpolate_gaps(gappy, max_gap_frames=3, method=method)

    def capped(q):  # a missing point counts as a 20 px error
        d = np.linalg.norm(q.positions - truth, axis=-1)
        return float(np.nanmean(np.where(np.isnan(d), 20.0, np.minimum(d, 20.0))))

    before, after = capped(gappy), capped(out)
    filled = np.isnan(gappy.positions).any(-1) & ~np.isnan(out.positions).any(-1)
    fill_err = float(np.linalg.norm(out.positions - truth, axis=-1)[filled].mean())
    print(f"interpolate {method}: capped error {before:.3f} -> {after:.3f} px; filled points err {fill_err:.2f} px")
    assert after < before and fill_err < 5.0 and st["filled"] == filled.sum() > 100
    assert np.isnan(out.confidence[filled]).all()
    long_gap = np.isnan(gappy.positions).any(-1)
    _, st1 = interpolate_gaps(gappy, max_gap_frames=0)
    assert st1["filled"] == 0 and long_gap.sum() > 0


@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_interpolate_gaps_sparse_series_and_half_missing_points(method):
    """All-missing, one-point and three-point series; a point with one NaN coordinate is missing as a whole."""
    from pipeline.pose import PoseData

    n = np.nan
    pos = np.full((7, 1, 4, 2), n)
    pos[3, 0, 1] = [5.0, 5.0]                                   # one valid point: nothing to fill
    pos[[0, 2, 6], 0, 2] = [[0.0, 0.0], [2.0, 4.0], [6.0, 12.0]]  # three points: linear even for cubic
    pos[:, 0, 3] = np.c_[np.arange(7.0), np.arange(7.0)]
    pos[3, 0, 3, 1] = n                                         # half-missing point, gap of one frame
    pose = PoseData(pos, np.ones((7, 1, 4)), individuals=("a",), keypoints=("k0", "k1", "k2", "k3"))
    out, st = interpolate_gaps(pose, max_gap_frames=3, method=method)
    assert np.isnan(out.positions[:, 0, 0]).all()
    assert np.flatnonzero(~np.isnan(out.positions[:, 0, 1, 0])).tolist() == [3]
    np.testing.assert_allclose(out.positions[:, 0, 2], [[0, 0], [1, 2], [2, 4], [3, 6], [4, 8], [5, 10], [6, 12]])
    np.testing.assert_allclose(out.positions[:, 0, 3], np.c_[np.arange(7.0), np.arange(7.0)], atol=1e-12)
    assert st == {"removed": 0, "changed": 0, "filled": 5}
    assert np.isnan(out.confidence[[1, 3, 4, 5], 0, 2]).all() and np.isnan(out.confidence[3, 0, 3])


def test_kalman_matches_filterpy():
    from filterpy import kalman as filterpy  # test dependency (pyproject: [test] extra)
    from filterpy.common import Q_discrete_white_noise
    rng = np.random.default_rng(0)
    z = np.cumsum(rng.normal(0, 1, 300)) + rng.normal(0, 2, 300)
    z[[5, 6, 7, 50, 120, 121]] = np.nan
    z[:3] = np.nan
    q, r = 0.3, 4.0
    mine = cv_kalman_rts(np.c_[z, z[::-1]], process_noise=q, measurement_noise=r)
    kf = filterpy.KalmanFilter(dim_x=2, dim_z=1)
    kf.F, kf.H = np.array([[1.0, 1.0], [0.0, 1.0]]), np.array([[1.0, 0.0]])
    kf.R *= r
    kf.Q = Q_discrete_white_noise(2, 1.0, q)
    kf.x, kf.P = np.array([z[3], 0.0]), np.eye(2) * 1e6 * r
    xs, ps = [], []
    for t in range(3, 300):
        if t > 3:
            kf.predict()
        if not np.isnan(z[t]):
            kf.update(z[t])
        xs.append(kf.x.copy())
        ps.append(kf.P.copy())
    ref = kf.rts_smoother(np.array(xs), np.array(ps))[0][:, 0]
    assert np.isnan(mine[:3, 0]).all()
    np.testing.assert_allclose(mine[3:, 0], ref, rtol=0, atol=1e-9)
    assert np.isnan(mine[-3:, 1]).all()


def test_apply_chain_runs_steps_in_order_and_rejects_unknown(session):
    chain = [{"step": "confidence_threshold", "threshold": 0.5}, {"step": "max_jump", "max_px_per_frame": 60},
             {"step": "interpolate_gaps", "max_gap_frames": 5}, {"step": "rolling_median", "window": 5}]
    assert json.loads(json.dumps(chain)) == chain
    out, stats = apply_chain(session.pose, chain)
    assert [s["step"] for s in stats] == [c["step"] for c in chain]
    assert stats[2]["filled"] > 0 and stats[3]["changed"] > 0
    step_by_step = session.pose
    for c in chain:
        step_by_step, _ = STEPS[c["step"]](step_by_step, **{k: v for k, v in c.items() if k != "step"})
    np.testing.assert_array_equal(out.positions, step_by_step.positions)
    with pytest.raises(ValueError, match="butterworth"):
        apply_chain(session.pose, [{"step": "butterworth", "order": 2}])
    with pytest.raises(ValueError, match="windw"):
        apply_chain(session.pose, [{"step": "rolling_median", "windw": 5}])
    assert apply_chain(session.pose, [])[1] == []


# ---------------------------------------------------------------- identity: synthetic


def _precision_recall(pose, s):
    from pipeline.behavior import CONTACTS, score_session
    r = score_session(pose, mm_per_px=s.mm_per_px)
    from pipeline.behavior.validate import match_bouts
    ms = [match_bouts(r.bouts[r.bouts.behavior == b], s.episodes[s.episodes.behavior == b]) for b in CONTACTS]
    return (sum(m.matched_bouts for m in ms) / sum(m.bouts for m in ms),
            sum(m.matched_episodes for m in ms) / sum(m.episodes for m in ms))


@pytest.fixture(scope="module")
def swapped_session():
    s = simulate_session(seed=11, duration_s=300, episode_counts=3)
    swapped, events = inject_swaps(s.pose, np.random.default_rng(1), 15, 60, 300)
    return s, swapped, events


def test_detect_swaps_precision_recall(swapped_session):
    s, swapped, events = swapped_session
    det = detect_swaps(swapped)
    assert list(det.columns) == ["frame", "individual_a", "individual_b", "confidence", "kind"]
    frames = np.unique(det[det.kind.isin(["exchange", "velocity_spike"])].frame)
    hit = np.array([np.abs(events - f).min() <= 1 for f in frames])
    found = np.array([len(frames) and np.abs(frames - e).min() <= 1 for e in events])
    precision, recall = hit.mean(), found.mean()
    print(f"swaps: {len(events)} injected, {len(frames)} detected, precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.9 and recall >= 0.9
    ex = det[det.kind == "exchange"]
    assert ((ex.confidence >= 0.5) & (ex.confidence <= 1)).all()
    assert set(zip(ex.individual_a, ex.individual_b)) == {("mouse1", "mouse2")}
    assert len(detect_swaps(s.pose).query("kind != 'fragment'")) <= 1   # clean data: (almost) nothing


def test_correct_identities_restores_swapped_tracks(swapped_session):
    s, swapped, events = swapped_session
    before = swapped.positions.copy()
    fixed, report = correct_identities(swapped)
    np.testing.assert_array_equal(swapped.positions, before)
    assert fixed.individuals == s.pose.individuals and report["n_identities"] == 2
    same = (fixed.positions == s.pose.positions) | (np.isnan(fixed.positions) & np.isnan(s.pose.positions))
    restored = same.all(axis=(1, 2, 3)).mean()
    print(f"frames restored {restored:.4f}, exchanges {report['exchanges']}, switches {report['switches']}")
    assert restored >= 0.99
    assert identity_accuracy(fixed, s.pose) >= 0.99 > identity_accuracy(swapped, s.pose)


def test_behaviour_scoring_recovers_after_correction(swapped_session):
    s, swapped, _ = swapped_session
    clean = _precision_recall(s.pose, s)
    broken = _precision_recall(swapped, s)
    fixed = _precision_recall(correct_identities(swapped)[0], s)
    print(f"behaviour precision/recall: clean {clean}, swapped {broken}, corrected {fixed}")
    assert min(broken) < min(clean) - 0.1          # the swaps really hurt
    assert fixed[0] >= clean[0] - 0.02 and fixed[1] >= clean[1] - 0.02


def test_correct_identities_stitches_fragments():
    s = simulate_session(seed=3, duration_s=20, noise=None)
    p = s.pose
    n = p.n_frames
    # four tracks: each animal's track is cut in two at different frames, the pieces renamed
    pos = np.full((n, 4) + p.positions.shape[2:], np.nan)
    pos[:200, 0], pos[200:, 2] = p.positions[:200, 0], p.positions[200:, 0]
    pos[:350, 1], pos[352:, 3] = p.positions[:350, 1], p.positions[352:, 1]
    frag = dataclasses.replace(p, positions=pos, confidence=np.ones(pos.shape[:3]),
                               individuals=("a", "b", "c", "d"))
    det = detect_swaps(frag)
    f = det[det.kind == "fragment"]
    assert set(zip(f.frame, f.individual_a, f.individual_b)) == {(200, "a", "c"), (352, "b", "d")}
    fixed, report = correct_identities(frag)
    assert report["n_identities"] == 2 and fixed.n_individuals == 2
    assert identity_accuracy(fixed, p) == 1.0
    truth_c = centroids(p)
    for j in range(2):
        k = int(np.nanargmin(np.linalg.norm(centroids(fixed)[0, j] - truth_c[0], axis=-1)))
        assert np.nanmax(np.linalg.norm(centroids(fixed)[:, j] - truth_c[:, k], axis=-1)) == 0
    three, rep3 = correct_identities(frag, max_individuals=3)
    assert three.n_individuals == 3


# ---------------------------------------------------------------- identity: real SLEAP flies


def test_centered_pair_corrects_to_two_identities(shared_data):
    from pipeline.io import read_pose
    pose = read_pose(shared_data / "sleap_flies" / "centered_pair_predictions.slp", fps=30)
    assert pose.n_individuals == 27
    fixed, report = correct_identities(pose)
    print(f"centered_pair: {pose.n_individuals} tracks -> {report['n_identities']} identities {fixed.individuals}")
    assert report["n_identities"] == 2 and fixed.n_individuals == 2
    assert (~np.isnan(fixed.positions).all(axis=(2, 3))).mean() > 0.99
    frags = detect_swaps(pose).query("kind == 'fragment'")
    assert len(frags) >= 25


def test_clip_identity_accuracy_before_and_after(shared_data):
    from pipeline.io import read_pose
    folder = shared_data / "sleap_flies"
    pred = read_pose(folder / "clip.predictions.slp", fps=30)
    truth = read_pose(folder / "clip.slp", fps=30)
    assert pred.n_frames == truth.n_frames == 1500 and set(pred.keypoints) < set(truth.keypoints)
    before, details = identity_accuracy(pred, truth, return_details=True)
    fixed, report = correct_identities(pred)
    after, after_details = identity_accuracy(fixed, truth, return_details=True)
    relabelled = identity_accuracy(correct_identities(pred, max_jump=None)[0], truth)
    # ceiling for any identity relabelling: frames whose predicted centroids lie nearest distinct animals
    cp, ct = centroids(pred), centroids(truth, pred.keypoints)
    d = np.linalg.norm(cp[:, :, None] - ct[:, None], axis=-1)
    nearest = np.where(np.isnan(d), np.inf, d).argmin(-1)
    both = ~np.isnan(cp).any(-1).any(1)
    ceiling = np.where(both, nearest[:, 0] != nearest[:, 1], True).mean()
    kept = report["gate"]["kept_fraction"]
    print(f"clip identity accuracy: before {before:.4f}, relabelling only {relabelled:.4f} (ceiling {ceiling:.4f}), "
          f"after relabelling + motion gate {after:.4f} with {kept} of the detections kept, "
          f"exchanges {report['exchanges']}, body size {report['gate']['body_size']:.1f} px")
    assert details["mapping"] == after_details["mapping"] == {"female": "female", "male": "male"}
    # In ~40 frames both predicted instances sit on the same fly (or an instance's two keypoints on two
    # flies): no relabelling reaches 0.99; the motion gate blanks those detections instead.
    assert ceiling < 0.98 and relabelled < 0.98
    assert before < 0.97 and after >= 0.99
    assert min(kept.values()) >= 0.95        # ... while keeping >= 95 % of each identity's detections


def test_reject_implausible_blanks_jumps_and_follows_real_moves():
    s = simulate_session(seed=2, duration_s=20, noise=None)
    p = s.pose
    size = body_size(p)
    assert 50 < size < 200                                   # a mouse is ~100 px in the generator
    clean, rep = reject_implausible(p)
    assert rep["rejected"] == {"mouse1": 0, "mouse2": 0}
    np.testing.assert_array_equal(clean.positions, p.positions)
    sep = np.linalg.norm(centroids(p)[:, 0] - centroids(p)[:, 1], axis=-1)
    t0 = 10 + int(np.flatnonzero(np.convolve(sep[10:] > 2 * size, np.ones(4), "valid") == 4)[0])
    assert t0 < 250
    pos = p.positions.copy()
    pos[t0:t0 + 3, 0] = p.positions[t0:t0 + 3, 1]            # mouse1's detection lands on mouse2 for 3 frames
    pos[300:, 1] += (8 * size, 0.0)                          # mouse2 is relocated for good (e.g. a re-placed animal)
    moved = dataclasses.replace(p, positions=pos)
    gated, rep = reject_implausible(moved)
    blank = np.isnan(gated.positions).all(axis=(2, 3))
    assert blank[t0:t0 + 3, 0].all() and blank[:, 0].sum() == 3
    lost = np.flatnonzero(blank[:, 1])                       # mouse2: a few frames, then followed again
    assert lost.min() == 300 and len(lost) == lost.max() - 299 and len(lost) <= 30
    assert rep["rejected"] == {"mouse1": int(blank[:, 0].sum()), "mouse2": len(lost)}
    np.testing.assert_array_equal(moved.positions, pos)      # input untouched
    with pytest.raises(ValueError, match="max_jump"):
        reject_implausible(p, max_jump=0)
    one = dataclasses.replace(p, positions=p.positions[:, :, :1], confidence=p.confidence[:, :, :1],
                              keypoints=p.keypoints[:1])
    with pytest.raises(ValueError, match="body size"):
        reject_implausible(one)
    assert correct_identities(one)[1]["gate"] is None        # no body size: the correction skips the gate
    with pytest.raises(ValueError, match="frame rate"):
        reject_implausible(dataclasses.replace(p, fps=None))


def test_identity_accuracy_basics(session):
    p = session.pose
    assert identity_accuracy(p, p) == 1.0
    swapped = dataclasses.replace(p, positions=p.positions[:, ::-1].copy())
    acc, details = identity_accuracy(swapped, p, return_details=True)
    assert acc == 1.0 and details["mapping"] == {"mouse1": "mouse2", "mouse2": "mouse1"}   # fixed mapping
    half = p.positions.copy()
    half[: p.n_frames // 4] = half[: p.n_frames // 4, ::-1]
    assert identity_accuracy(dataclasses.replace(p, positions=half), p) == pytest.approx(0.75, abs=0.01)
    with pytest.raises(ValueError, match="frame counts"):
        identity_accuracy(p, dataclasses.replace(p, positions=p.positions[:10], confidence=p.confidence[:10]))


def test_detect_swaps_velocity_spike():
    s = simulate_session(seed=2, duration_s=10, noise=None)
    pos = s.pose.positions.copy()
    pos[150, 0] += (0.0, 120.0)                      # both animals jump at once, no exchange
    pos[150, 1] += (120.0, 0.0)
    det = detect_swaps(dataclasses.replace(s.pose, positions=pos), min_confidence=1.01, spike_speed=60.0)
    spikes = det[det.kind == "velocity_spike"]
    assert set(spikes.frame) <= {150, 151} and 150 in set(spikes.frame)
    assert ((spikes.confidence > 0) & (spikes.confidence < 1)).all()
