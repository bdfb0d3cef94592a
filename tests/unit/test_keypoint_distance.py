"""Keypoint-distance measures, pure part (issue 15 §2)."""

import numpy as np
import pytest

from pipeline.errors import InputError
from pipeline.keypoint_distance import check_pairs, distance_stats, pair_distances, stats_table
from pipeline.quality.compare import spike_frames, spike_recall
from pipeline.synthetic import simulate_session

PAIR = [{"name": "snout", "a": "nose", "b": "neck"}]


def test_distances_and_their_statistics():
    session = simulate_session(seed=2, duration_s=30)
    pose = session.pose
    d = pair_distances(pose.positions, pose.keypoints, PAIR, scale=session.mm_per_px)
    i, j = pose.keypoints.index("nose"), pose.keypoints.index("neck")
    expected = np.hypot(*(pose.positions[:, :, i] - pose.positions[:, :, j]).transpose(2, 0, 1)) * 0.8
    np.testing.assert_allclose(d[..., 0], expected)
    stats = distance_stats(d)
    ok = expected[:, 0][~np.isnan(expected[:, 0])]
    n, mean, var, mad, _ = stats[0, 0]
    assert n == len(ok) and np.isclose(mean, ok.mean()) and np.isclose(var, ok.var(ddof=1))
    assert np.isclose(mad, np.median(np.abs(ok - np.median(ok))))
    table = stats_table(stats, pose.individuals, PAIR)
    assert list(table["individual"]) == list(pose.individuals) and (table["pair"] == "snout").all()


def test_spikes_of_a_distance_are_found():
    """Jumps of the snout length (a tracker putting the nose on the wrong spot for 1-3 frames) at known frames."""
    session = simulate_session(seed=5, duration_s=60)
    d = pair_distances(session.pose.positions, session.pose.keypoints, PAIR, scale=session.mm_per_px)
    clean = distance_stats(d)[:, 0, 4]
    present = ~np.isnan(d[:, 0, 0])           # a jump next to a missing frame is not defined: spikes away from them
    frames = [t for t in range(100, 1700, 160) if present[t - 1:t + 4].all()]
    for n, t in enumerate(frames):
        d[t:t + 1 + n % 3, 0, 0] += 12.0 if n % 2 else -12.0   # mm, up or down: > 5 robust SD (1.47 mm)
    found = spike_frames(d[:, 0, 0], min_spread=0.5 * session.mm_per_px)
    assert spike_recall(found, frames) == 1.0
    stats = distance_stats(d, min_spread=0.5 * session.mm_per_px)
    assert stats[0, 0, 4] - clean[0] == len(frames) and stats[1, 0, 4] == clean[1]


def test_bad_pairs_are_refused():
    assert check_pairs([("a", "b")])[0]["name"] == "a-b"
    for bad in ([], [("a", "a")], [{"a": "x"}], [("a", "b"), {"name": "a-b", "a": "c", "b": "d"}]):
        with pytest.raises(InputError):
            check_pairs(bad)
    with pytest.raises(InputError, match=r"keypoint\(s\) \['jaw_tip'\] of the pairs are not in the pose"):
        pair_distances(np.zeros((2, 1, 1, 2)), ["nose"], [{"name": "j", "a": "nose", "b": "jaw_tip"}])
