"""Our trajectory filters next to movement's (movement.filtering), on tiny series.

``interpolate_gaps`` calls movement; ``confidence_threshold``,
``rolling_median`` and ``savgol`` keep their own code on purpose (see their
docstrings).  Each test asserts both outputs concretely: where they agree and
where, by design, they differ.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.pose import PoseData
from pipeline.quality import confidence_threshold, interpolate_gaps
from pipeline.quality.filters import rolling_median, savgol
from pipeline.synthetic.files import to_movement_dataset

mf = pytest.importorskip("movement.filtering")

nan = np.nan


def _pose(x, confidence=None) -> PoseData:
    """One individual, one keypoint; x as given, y = 10 * x (missing together)."""
    x = np.asarray(x, dtype=float)
    pos = np.stack([x, 10 * x], axis=-1)[:, None, None, :]
    conf = np.ones(len(x)) if confidence is None else np.asarray(confidence, dtype=float)
    return PoseData(pos, conf[:, None, None], individuals=("a",), keypoints=("nose",))


def _x(pose: PoseData) -> list:
    return pose.positions[:, 0, 0, 0].tolist()


def _mv_position(pose: PoseData):
    return to_movement_dataset(pose).position


def _mv_x(da) -> list:
    return da.values[:, 0, 0, 0].tolist()  # movement dims: time, space, keypoints, individuals


def _same(a: list, b: list) -> bool:
    return np.array_equal(np.array(a), np.array(b), equal_nan=True)


# ---------------------------------------------------------------- confidence_threshold


def test_confidence_threshold_agrees_with_movement_on_finite_confidence():
    pose = _pose([1, 2, 3, 4], confidence=[0.9, 0.1, 0.5, 0.49])
    ours, stats = confidence_threshold(pose, threshold=0.5)
    ds = to_movement_dataset(pose)
    theirs = mf.filter_by_confidence(ds.position, ds.confidence, threshold=0.5)
    assert _same(_x(ours), [1, nan, 3, nan])
    assert _same(_mv_x(theirs), [1, nan, 3, nan])
    assert stats == {"removed": 2, "changed": 0, "filled": 0}


def test_confidence_threshold_keeps_unknown_confidence_unlike_movement():
    # NaN confidence = unknown (interpolated points, files without scores): we keep, movement removes.
    pose = _pose([1, 2, 3], confidence=[0.9, nan, 0.1])
    ours, _ = confidence_threshold(pose, threshold=0.5)
    ds = to_movement_dataset(pose)
    theirs = mf.filter_by_confidence(ds.position, ds.confidence, threshold=0.5)
    assert _same(_x(ours), [1, 2, nan])
    assert _same(_mv_x(theirs), [1, nan, nan])


def test_confidence_threshold_after_interpolation_keeps_filled_points():
    filled, _ = interpolate_gaps(_pose([1, nan, 3], confidence=[0.9, nan, 0.9]), max_gap_frames=1)
    ours, _ = confidence_threshold(filled, threshold=0.5)
    ds = to_movement_dataset(filled)
    assert _same(_x(ours), [1, 2, 3])
    assert _same(_mv_x(mf.filter_by_confidence(ds.position, ds.confidence, threshold=0.5)), [1, nan, 3])


# ---------------------------------------------------------------- interpolate_gaps (calls movement)


@pytest.mark.parametrize("method", ["linear", "cubic"])
@pytest.mark.parametrize("max_gap", [0, 1, 2, 3])
def test_interpolate_gaps_equals_movement(method, max_gap):
    x = [nan, 0, 1, nan, 9, 16, nan, nan, 49, 64, nan, nan, nan, 169, 196, nan]
    pose = _pose(x)
    ours, stats = interpolate_gaps(pose, max_gap_frames=max_gap, method=method)
    theirs = _mv_x(mf.interpolate_over_time(_mv_position(pose), method=method, max_gap=max_gap))
    np.testing.assert_allclose(_x(ours), theirs, rtol=0, atol=1e-9)  # same values, same NaN mask
    assert stats["filled"] == {0: 0, 1: 1, 2: 1 + 2, 3: 1 + 2 + 3}[max_gap]  # interior gaps of 1, 2 and 3 frames
    # edge gaps are never filled, by either
    assert np.isnan(_x(ours)[0]) and np.isnan(_x(ours)[-1])


def test_interpolate_gaps_linear_values():
    ours, stats = interpolate_gaps(_pose([nan, 0, nan, nan, 3, nan, nan, nan, 7, nan]), max_gap_frames=2)
    assert _same(_x(ours), [nan, 0, 1, 2, 3, nan, nan, nan, 7, nan])
    assert stats == {"removed": 0, "changed": 0, "filled": 2}
    assert np.isnan(ours.confidence[2:4]).all() and (ours.confidence[[1, 4, 8]] == 1).all()


def test_interpolate_gaps_guards_where_movement_fails():
    # cubic through a series of 3 valid points: movement (scipy interp1d) raises; we fill linearly
    pose = _pose([0, nan, 2, nan, 6])
    with pytest.raises(ValueError):
        mf.interpolate_over_time(_mv_position(pose), method="cubic", max_gap=1)
    ours, _ = interpolate_gaps(pose, max_gap_frames=1, method="cubic")
    assert _same(_x(ours), [0, 1, 2, 4, 6])
    # a negative gap limit: movement blanks the whole series; we fill nothing
    pose = _pose([1, nan, 3, nan, nan, 6, 7])
    assert _same(_mv_x(mf.interpolate_over_time(_mv_position(pose), max_gap=-5)), [nan] * 7)
    ours, stats = interpolate_gaps(pose, max_gap_frames=-5)
    assert _same(_x(ours), [1, nan, 3, nan, nan, 6, 7])
    assert stats == {"removed": 0, "changed": 0, "filled": 0}


def test_interpolate_gaps_equals_movement_on_real_sleap_file(shared_data):
    from pipeline.io import read_pose

    pose = read_pose(shared_data / "sleap_flies" / "clip.predictions.slp")
    for method in ("linear", "cubic"):
        ours, stats = interpolate_gaps(pose, max_gap_frames=5, method=method)
        theirs = mf.interpolate_over_time(_mv_position(pose), method=method, max_gap=5)
        np.testing.assert_allclose(ours.positions, np.transpose(theirs.values, (0, 3, 2, 1)), rtol=0, atol=1e-9)
        assert stats["filled"] == 116 and stats["removed"] == stats["changed"] == 0


# ---------------------------------------------------------------- rolling_median (ours on purpose)


def test_rolling_median_agrees_with_movement_inside_the_recording():
    x = [5, 0, 3, 1, 2, 8, nan, 4, 7, 6, 1]
    pose = _pose(x)
    ours = _x(rolling_median(pose, window=3)[0])
    theirs = _mv_x(mf.rolling_filter(_mv_position(pose), 3, "median", min_periods=1))
    assert _same(ours, [2.5, 3, 1, 2, 2, 5, nan, 5.5, 6, 6, 3.5])
    assert _same(theirs, [0, 3, 1, 2, 2, 5, 6, 5.5, 6, 6, 6])
    # frames 1..n-2 agree where the point is present
    assert _same(ours[1:-1], [v if not np.isnan(o) else nan for v, o in zip(theirs[1:-1], x[1:-1], strict=True)])


def test_rolling_median_ends_and_gaps_differ_from_movement():
    pose = _pose([0, 3, 1, nan, 2, 8])
    ours = _x(rolling_median(pose, window=3)[0])
    assert _same(ours, [1.5, 1, 2, nan, 5, 5])  # truncated end windows, gap stays a gap
    # reflect padding: frame 0 is the median of [3, 0, 3], the last of [2, 8, 2]
    filled = _mv_x(mf.rolling_filter(_mv_position(pose), 3, "median", min_periods=1))
    assert _same(filled, [3, 1, 2, 1.5, 5, 2])  # and the gap is filled with its neighbours' median
    # movement's default min_periods=None: the gap grows by window // 2 on both sides
    strict = _mv_x(mf.rolling_filter(_mv_position(pose), 3, "median"))
    assert _same(strict, [3, 1, nan, nan, nan, 2])


# ---------------------------------------------------------------- savgol (ours on purpose)


def test_savgol_equals_movement_without_gaps():
    rng = np.random.default_rng(0)
    pose = _pose(np.cumsum(rng.normal(size=40)))
    ours = _x(savgol(pose, window=7, order=2)[0])
    theirs = _mv_x(mf.savgol_filter(_mv_position(pose), 7, polyorder=2))
    assert ours == theirs  # the same scipy call (mode="interp"), bit for bit


def test_savgol_gaps_cost_only_their_frames_unlike_movement():
    x = [2.0 * t + 1 for t in range(12)]
    x[5] = nan
    pose = _pose(x)
    line = [2.0 * t + 1 for t in range(12)]
    ours = _x(savgol(pose, window=5, order=2)[0])
    # the gap is bridged for the filter: a straight line stays straight; only frame 5 is missing
    np.testing.assert_allclose(ours, [v if t != 5 else nan for t, v in enumerate(line)], atol=1e-9)
    # movement hands NaN to scipy: frames 3..7 (gap +- window // 2) are lost
    theirs = _mv_x(mf.savgol_filter(_mv_position(pose), 5, polyorder=2, mode="nearest"))
    assert np.flatnonzero(np.isnan(theirs)).tolist() == [3, 4, 5, 6, 7]
    np.testing.assert_allclose(np.array(theirs)[2], line[2], atol=1e-9)
    # and a gap near an end makes its default mode="interp" raise
    edge = _pose([nan] + line[1:])
    with pytest.raises(ValueError, match="edge windows"):
        mf.savgol_filter(_mv_position(edge), 5, polyorder=2)
    ours = _x(savgol(edge, window=5, order=2)[0])
    assert np.isnan(ours[0]) and np.isfinite(ours[1:]).all()
    np.testing.assert_allclose(ours[3:], line[3:], atol=1e-9)  # windows clear of the held end value
