"""Classifier pose features (pipeline.classify.features) against direct numpy and pandas on hand-built poses."""

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.classify.features import FeatureParams, animal_features, pair_features, rolling, window_frames
from pipeline.pose import PoseData
from pipeline.provenance import params_hash

KP = ("nose", "left_ear", "right_ear", "neck", "tail_base")
FPS = 10.0


def body(x, y, heading_deg):
    """Keypoints of a straight animal at neck (x, y) facing heading: nose 2 ahead, tail base 4 behind."""
    h = np.deg2rad(heading_deg)
    f, left = np.array([np.cos(h), np.sin(h)]), np.array([np.sin(h), -np.cos(h)])
    neck = np.array([x, y], float)
    return np.stack([neck + 2 * f, neck + f + left, neck + f - left, neck, neck - 4 * f])


def hand_pose(n=9):
    """A walks along +x at 3 units/frame facing +x; B stands still at (20, 10) facing -y (towards A's path)."""
    pos = np.empty((n, 2, len(KP), 2))
    for t in range(n):
        pos[t, 0] = body(3.0 * t, 0.0, 0.0)
        pos[t, 1] = body(20.0, 10.0, -90.0)
    return PoseData(pos, np.ones(pos.shape[:3]), individuals=("A", "B"), keypoints=KP, fps=FPS)


def column(x, names, name):
    return x[:, names.index(name)].astype(np.float64)


PARAMS = FeatureParams(windows_s=(0.3,), min_valid=0.5)


def test_distances_angles_speeds_equal_direct_numpy():
    pose = hand_pose()
    x, names = pair_features(pose, "A", "B", params=PARAMS, mm_per_unit=0.5, dtype=np.float64)
    p = pose.positions * 0.5
    nose_a, neck_a, tail_a = p[:, 0, 0], p[:, 0, 3], p[:, 0, 4]
    nose_b, neck_b, tail_b = p[:, 1, 0], p[:, 1, 3], p[:, 1, 4]
    centre_a, centre_b = (neck_a + tail_a) / 2, (neck_b + tail_b) / 2
    np.testing.assert_allclose(column(x, names, "nose>nose"), np.linalg.norm(nose_b - nose_a, axis=1))
    np.testing.assert_allclose(column(x, names, "nose>tail_base"), np.linalg.norm(tail_b - nose_a, axis=1))
    np.testing.assert_allclose(column(x, names, "centre>centre"), np.linalg.norm(centre_b - centre_a, axis=1))
    np.testing.assert_allclose(column(x, names, "agent.nose-neck"), 1.0)  # 2 units * 0.5 mm
    np.testing.assert_allclose(column(x, names, "target.neck-tail_base"), 2.0)
    np.testing.assert_allclose(column(x, names, "agent.left_ear-right_ear"), 1.0)

    def angle(u, v):
        cos = np.sum(u * v, axis=1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
        return np.degrees(np.arccos(np.clip(cos, -1, 1)))

    np.testing.assert_allclose(column(x, names, "head_angle>nose"), angle(nose_a - neck_a, nose_b - neck_a),
                               atol=1e-9)
    np.testing.assert_allclose(column(x, names, "body_angle"), 90.0)  # +x against -y
    # at frame 6 A's neck is at x = 18 (9 mm), B's nose at (20, 8): 45 degrees to the left of A's heading
    assert column(x, names, "head_angle>nose")[6] == pytest.approx(np.degrees(np.arctan2(8, 2)))
    # constant velocity: 3 units/frame * 10 fps * 0.5 mm = 15 mm/s; no acceleration; B still
    np.testing.assert_allclose(column(x, names, "agent.speed_centre"), 15.0)
    np.testing.assert_allclose(column(x, names, "agent.acceleration_nose"), 0.0, atol=1e-9)
    np.testing.assert_allclose(column(x, names, "target.speed_nose"), 0.0, atol=1e-9)
    d = np.linalg.norm(centre_b - centre_a, axis=1)
    np.testing.assert_allclose(column(x, names, "centre_distance_rate"), np.gradient(d) * FPS)
    np.testing.assert_allclose(column(x, names, "agent.missing"), 0.0)


def test_acceleration_of_uniformly_accelerated_animal():
    n = 12
    pos = np.empty((n, 2, len(KP), 2))
    for t in range(n):
        pos[t, 0] = body(0.5 * t * t, 0.0, 0.0)  # a = 1 unit/frame^2 = 100 units/s^2 at 10 fps
        pos[t, 1] = body(50.0, 50.0, 0.0)
    pose = PoseData(pos, np.ones(pos.shape[:3]), individuals=("A", "B"), keypoints=KP, fps=FPS)
    x, names = animal_features(pose, 0, params=PARAMS, dtype=np.float64)
    acc = column(x, names, "acceleration_centre")
    speed = column(x, names, "speed_centre")
    np.testing.assert_allclose(acc[2:-2], 100.0)  # central differences are exact on a parabola inside
    np.testing.assert_allclose(speed[1:-1], np.arange(1, n - 1) * FPS)
    np.testing.assert_allclose(speed, np.linalg.norm(np.gradient(pos[:, 0, 3], axis=0), axis=1) * FPS)


def test_missing_points_stay_missing():
    pose = hand_pose(n=15)
    pos = pose.positions.copy()
    pos[7, 0, 0] = np.nan  # A's nose lost at frame 7
    lost = PoseData(pos, pose.confidence, individuals=pose.individuals, keypoints=KP, fps=FPS)
    x, names = pair_features(lost, "A", "B", params=PARAMS, dtype=np.float64)
    full, _ = pair_features(pose, "A", "B", params=PARAMS, dtype=np.float64)
    # a speed needs the frames either side, an acceleration two frames either side
    reach = {"agent.speed_nose": [6, 7, 8], "agent.acceleration_nose": [5, 6, 7, 8, 9]}
    for name in ("nose>nose", "head_angle>centre", "agent.nose-neck", "agent.speed_nose", "agent.acceleration_nose"):
        col = column(x, names, name)
        gone = reach.get(name, [7])
        assert np.isnan(col[gone]).all() and np.isfinite(np.delete(col, gone)).all(), name
    # features that do not use A's nose are untouched
    for name in ("centre>centre", "body_angle", "agent.speed_centre", "target.nose-neck"):
        np.testing.assert_array_equal(column(x, names, name), column(full, names, name))
    assert column(x, names, "agent.missing")[7] == pytest.approx(1 / 5)
    assert column(x, names, "target.missing")[7] == 0.0
    # a 0.3 s window is 3 frames: the mean around frame 7 is over its two present neighbours
    d = column(x, names, "nose>nose")
    assert column(x, names, "nose>nose@0.3s:mean")[7] == pytest.approx(np.nanmean(d[6:9]))
    assert column(x, names, "nose>nose@0.3s:max")[8] == pytest.approx(np.nanmax(d[7:10]))
    assert column(x, names, "agent.missing@0.3s:mean")[8] == pytest.approx(1 / 15)
    # requiring every frame of the window makes all windows that hold frame 7 missing
    strict, _ = pair_features(lost, "A", "B", params=FeatureParams(windows_s=(0.3,), min_valid=1.0))
    got = column(strict, names, "nose>nose@0.3s:std")
    assert np.isnan(got[6:9]).all() and np.isfinite(np.delete(got, [0, 6, 7, 8, 14])).all()


def test_everything_missing_is_nan_never_zero():
    pose = hand_pose()
    pos = pose.positions.copy()
    pos[:, 1] = np.nan
    x, names = pair_features(PoseData(pos, pose.confidence, individuals=("A", "B"), keypoints=KP, fps=FPS),
                             "A", "B", params=PARAMS)
    assert np.isnan(column(x, names, "nose>nose@0.3s:min")).all()
    assert np.isnan(column(x, names, "target.speed_centre@0.3s:mean")).all()
    np.testing.assert_array_equal(column(x, names, "target.missing"), 1.0)


@pytest.mark.parametrize("width,min_valid", [(3, 0.5), (7, 0.5), (15, 0.3), (5, 1.0)])
def test_window_statistics_equal_pandas_rolling(width, min_valid):
    rng = np.random.default_rng(width)
    x = rng.normal(100.0, 5.0, (400, 3))
    x[rng.random(x.shape) < 0.2] = np.nan
    x[50:70, 1] = np.nan
    got = rolling(x, width, min_valid=min_valid)
    need = int(np.ceil(min_valid * width))
    r = pd.DataFrame(x).rolling(width, center=True, min_periods=need)
    for stat, ref in (("mean", r.mean()), ("std", r.std(ddof=0)), ("min", r.min()), ("max", r.max())):
        np.testing.assert_allclose(got[stat], ref.to_numpy(), rtol=1e-9, atol=1e-9, err_msg=stat)


def test_window_lengths_and_names():
    assert [window_frames(w, 30) for w in (0.2, 0.6, 1.5)] == [7, 19, 45]
    params = FeatureParams()
    pose = hand_pose(n=60)
    x, names = pair_features(pose, 0, 1, params=params)
    n_base = 30  # 2 x 7 own, 10 distances, 3 + 1 head angles, body angle, distance rate
    assert x.shape == (60, n_base + 2 + 3 * (n_base * 4 + 2)) and len(set(names)) == len(names)
    assert names[n_base:n_base + 2] == ("agent.missing", "target.missing")
    assert "head_angle>tail_base@1.5s:std" in names and x.dtype == np.float32
    y, other = pair_features(pose, 1, 0, params=params)
    assert other == names
    np.testing.assert_array_equal(column(x, names, "agent.speed_centre"), column(y, names, "target.speed_centre"))


def test_params_are_json_and_validated():
    p = FeatureParams(windows_s=[0.5, 1], between=[["nose", "nose"]])
    assert FeatureParams.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    assert p.windows_s == (0.5, 1.0) and hash(p) == hash(FeatureParams.from_dict(p.to_dict()))
    # the content hash of a parameter set: the same for equal sets, different otherwise
    assert params_hash(FeatureParams(windows_s=(0.5, 1.0), between=(("nose", "nose"),)).to_dict()) == \
        params_hash(p.to_dict()) != params_hash(FeatureParams().to_dict())
    with pytest.raises(ValueError, match="roles"):
        FeatureParams(between=(("nose", "elbow"),))
    with pytest.raises(ValueError, match="statistics"):
        FeatureParams(statistics=("median",))
    with pytest.raises(ValueError, match="fps"):
        pair_features(PoseData(hand_pose().positions, np.ones((9, 2, 5)), individuals=("A", "B"), keypoints=KP),
                      0, 1)
    with pytest.raises(ValueError, match="differ"):
        pair_features(hand_pose(), "A", "A")


def test_real_dlc_pair_features(shared_data):
    from pipeline.io.dlc import read_dlc

    path = next((shared_data / "ethome_pose_boris").glob("*DLC*.csv"))
    pose = read_dlc(path, fps=30)
    x, names = pair_features(pose, "adult", "juvenile", role_map={"tail_base": "tail"})
    assert x.shape == (5700, len(names))
    d = column(x, names, "nose>nose")
    p = pose.positions
    np.testing.assert_allclose(d, np.linalg.norm(p[:, 1, 0] - p[:, 0, 0], axis=1), rtol=1e-6)
    assert np.isfinite(x).mean() > 0.99
