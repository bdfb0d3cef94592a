"""keypoint_metrics on hand-made arrays (numpy/scipy only, no torch)."""

import numpy as np
import pytest

from pipeline.errors import InputError
from pipeline.inference.metrics import keypoint_metrics, match_instances, oks


def _truth(n_frames=4):
    """Two instances, three keypoints, non-degenerate boxes."""
    base = np.array([[[10.0, 10.0], [30.0, 20.0], [20.0, 40.0]],
                     [[100.0, 100.0], [130.0, 110.0], [110.0, 150.0]]])
    return np.stack([base + f for f in range(n_frames)])


def test_perfect_prediction():
    t = _truth()
    m = keypoint_metrics(t.copy(), t, keypoints=("a", "b", "c"))
    assert m["n_frames"] == 4 and m["n_points"] == 24 and m["n_matched"] == 8
    assert m["mean_px"] == 0.0 and m["median_px"] == 0.0
    assert m["pck"] == {"2.0": 1.0, "5.0": 1.0, "10.0": 1.0}
    assert m["oks_map"] == pytest.approx(1.0) and m["oks_mean"] == pytest.approx(1.0)
    assert set(m["per_keypoint"]) == {"a", "b", "c"}
    assert m["per_keypoint"]["b"]["pck"]["2.0"] == 1.0


def test_swapped_instances_are_matched():
    t = _truth()
    m = keypoint_metrics(t[:, ::-1], t)
    assert m["mean_px"] == 0.0 and m["oks_map"] == pytest.approx(1.0)
    assert match_instances(t[0, ::-1], t[0]) == [(0, 1), (1, 0)]


def test_known_offset_gives_known_numbers():
    t = _truth()
    m = keypoint_metrics(t + [3.0, 4.0], t, thresholds_px=(4.0, 5.0))
    assert m["mean_px"] == pytest.approx(5.0) and m["median_px"] == pytest.approx(5.0)
    assert m["pck"] == {"4.0": 0.0, "5.0": 1.0}
    # scale 100 px: e = 25 / (2*0.025)^2 / 100^2 / 2 = 0.5 -> OKS = exp(-0.5) = 0.607
    m = keypoint_metrics(t + [3.0, 4.0], t, scale=100.0)
    assert m["oks_mean"] == pytest.approx(np.exp(-0.5))
    assert m["oks_map"] == pytest.approx(0.3)  # passes thresholds 0.50, 0.55, 0.60 of ten


def test_oks_uses_bounding_box_area_and_sigmas():
    t = np.array([[0.0, 0.0], [10.0, 10.0]])
    p = t + [1.0, 0.0]
    expected = np.exp(-1.0 / (2 * 0.1) ** 2 / 100.0 / 2)
    assert oks(p, t, sigmas=[0.1, 0.1]) == pytest.approx(expected)
    assert np.isnan(oks(p, np.full_like(t, np.nan), sigmas=[0.1, 0.1]))


def test_missing_points_and_instances_count_as_failures():
    t = _truth(2)
    p = t.copy()
    p[0, 0, 0] = np.nan  # one missed point
    p[1, 1] = np.nan     # one missed instance (3 points)
    m = keypoint_metrics(p, t)
    assert m["n_points"] == 12 and m["mean_px"] == 0.0
    assert m["pck"]["2.0"] == pytest.approx(8 / 12)
    assert m["n_matched"] == 3 and m["n_truth_instances"] == 4
    assert m["per_keypoint"]["keypoint_0"]["pck"]["2.0"] == pytest.approx(2 / 4)
    # the instance missing one of 3 points has OKS 2/3: at thresholds <= 0.65 recall 3/4,
    # precision 1 (AP 76/101 on the 101-point grid); above, recall 2/4, precision 2/3
    assert m["oks_map"] == pytest.approx((4 * 76 / 101 + 6 * 51 / 101 * 2 / 3) / 10)


def test_false_positive_and_scores():
    t = _truth(1)[:, :1]
    p = np.concatenate([t, t + 300.0], axis=1)  # a correct and a spurious instance
    assert keypoint_metrics(p, t)["oks_map"] == pytest.approx(0.5)
    ranked = keypoint_metrics(p, t, scores=[[0.9, 0.1]])
    assert ranked["oks_map"] == pytest.approx(1.0)
    assert keypoint_metrics(p, t, scores=[[0.1, 0.9]])["oks_map"] == pytest.approx(0.5)


def test_single_instance_3d_arrays_and_empty_truth():
    t = _truth()[:, 0]
    assert keypoint_metrics(t, t)["n_points"] == 12
    m = keypoint_metrics(t, np.full_like(t, np.nan))
    assert m["n_points"] == 0 and np.isnan(m["mean_px"]) and np.isnan(m["oks_map"])


def test_bad_shapes_raise_input_error():
    t = _truth()
    with pytest.raises(InputError, match="predicted"):
        keypoint_metrics(t[:2], t)
    with pytest.raises(InputError, match="truth"):
        keypoint_metrics(t, t[..., 0])
    with pytest.raises(InputError, match="keypoints"):
        keypoint_metrics(t, t, keypoints=("a",))
