"""Agreement between bout sources (pipeline.behavior.agreement) against scikit-learn and by hand."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn import metrics

from pipeline.behavior.agreement import (
    bout_agreement,
    bout_statistics,
    compare_sources,
    frame_agreement,
    match_bouts,
    relabel,
    to_mask,
)


@pytest.mark.parametrize("seed", range(5))
def test_frame_measures_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    a = rng.random(5000) < 0.2
    b = np.where(rng.random(5000) < 0.8, a, rng.random(5000) < 0.3)
    valid = rng.random(5000) < 0.9
    got = frame_agreement(a, b, valid=valid)
    ya, yb = a[valid], b[valid]
    assert got["n_frames"] == valid.sum()
    assert got["precision"] == pytest.approx(metrics.precision_score(ya, yb))
    assert got["recall"] == pytest.approx(metrics.recall_score(ya, yb))
    assert got["f1"] == pytest.approx(metrics.f1_score(ya, yb))
    assert got["kappa"] == pytest.approx(metrics.cohen_kappa_score(ya, yb))
    assert got["accuracy"] == pytest.approx(metrics.accuracy_score(ya, yb))


def test_undefined_ratios_are_nan_not_zero():
    none, some = np.zeros(10, bool), np.r_[np.ones(3, bool), np.zeros(7, bool)]
    r = frame_agreement(some, none)  # b never says yes
    assert math.isnan(r["precision"]) and r["recall"] == 0.0 and r["f1"] == 0.0
    r = frame_agreement(none, none)  # neither: perfect accuracy, chance agreement only
    assert r["accuracy"] == 1.0 and all(math.isnan(r[k]) for k in ("precision", "recall", "f1", "kappa"))


def test_bouts_are_paired_one_to_one_highest_iou_first():
    a = np.array([[0, 10], [1, 11]])
    b = np.array([[1, 11]])
    assert match_bouts(a, b) == [(1, 0, 1.0)]  # not (0, 0, 0.818...)
    assert match_bouts(np.array([[0, 10]]), np.array([[0, 10], [0, 9]])) == [(0, 0, 1.0)]
    assert match_bouts(np.array([[0, 10]]), np.array([[5, 15]])) == []  # IoU 5/15 < 0.5
    assert match_bouts(np.array([[0, 10]]), np.array([[5, 15]]), min_iou=0.3) == [(0, 0, 1 / 3)]
    assert match_bouts(np.empty((0, 2)), np.array([[0, 1]])) == []


def _disjoint_bouts(rng, n):
    edges = np.sort(rng.choice(10_000, size=2 * n, replace=False))
    return edges.reshape(-1, 2)


@pytest.mark.parametrize("seed", range(5))
def test_bout_matching_finds_the_most_pairs(seed):
    """Against the maximum matching (Hungarian on the IoU >= 0.51 graph) of random disjoint bouts."""
    rng = np.random.default_rng(seed)
    a = _disjoint_bouts(rng, 60)
    b = np.clip(a + rng.integers(-40, 40, size=a.shape), 0, None)
    b = b[(b[:, 1] > b[:, 0]) & (rng.random(len(b)) < 0.8)]
    b = np.vstack([b, _disjoint_bouts(rng, 10)])
    inter = np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0])
    union = np.maximum(a[:, None, 1], b[None, :, 1]) - np.minimum(a[:, None, 0], b[None, :, 0])
    edge = (np.clip(inter, 0, None) / union) >= 0.51
    rows, cols = linear_sum_assignment(edge, maximize=True)
    best = int(edge[rows, cols].sum())
    got = bout_agreement(a, b, min_iou=0.51)
    assert best >= 10 and got["matched"] == best
    assert got["precision"] == best / len(b) and got["recall"] == best / len(a)


def test_bout_statistics_and_masks():
    assert bout_statistics(np.empty((0, 2)), fps=30)["n_bouts"] == 0
    assert math.isnan(bout_statistics(np.empty((0, 2)), fps=30)["mean_bout_s"])
    # bouts outside the covered frames are clipped; overlapping bouts are pooled frame-wise
    mask = to_mask(np.array([[5, 12], [8, 10], [40, 50]]), n_frames=10, frame_offset=10)
    assert mask.astype(int).tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]


def _table(rows):
    return pd.DataFrame(rows, columns=["behavior", "agent", "target", "start_frame", "end_frame"])


def test_compare_sources_per_behavior_and_pair():
    human = _table([("attack", "m1", "m2", 0, 30), ("attack", "m1", "m2", 60, 90), ("groom", "m1", "", 100, 130)])
    model = _table([("attack", "m1", "m2", 3, 30), ("attack", "m2", "m1", 60, 90), ("mount", "m1", "m2", 0, 15)])
    out = compare_sources(human, model, fps=30, n_frames=150).set_index(["behavior", "agent", "target"])
    attack = out.loc[("attack", "m1", "m2")]
    assert (attack["precision"], attack["recall"], attack["matched"]) == (1.0, 27 / 60, 1)
    assert (attack["bout_precision"], attack["bout_recall"], attack["bout_f1"]) == (1.0, 0.5, 2 / 3)
    assert (attack["time_s_a"], attack["time_s_b"], attack["n_bouts_diff"]) == (2.0, 0.9, -1)
    swapped = out.loc[("attack", "m2", "m1")]  # the other direction: only the model has it
    assert swapped["precision"] == 0.0 and math.isnan(swapped["recall"]) and math.isnan(swapped["mean_bout_s_a"])
    groom = out.loc[("groom", "m1", "")]
    assert groom["recall"] == 0.0 and math.isnan(groom["precision"]) and groom["time_s_diff"] == -1.0
    assert len(out) == 4


def test_relabel_pools_a_vocabulary_and_the_animals():
    rules = _table([("nose2nose", "m1", "m2", 0, 10), ("nose2tail", "m2", "m1", 5, 20), ("sidebyside", "m1", "m2",
                                                                                        50, 60)])
    human = _table([("interact", "", "", 0, 18)])
    pooled = relabel(rules, behaviors={"interact": ["nose2nose", "nose2tail"]}, by_agent=False)
    assert pooled.values.tolist() == [["interact", "", "", 0, 10], ["interact", "", "", 5, 20]]
    row = compare_sources(human, pooled, fps=10, n_frames=100).iloc[0]
    assert (row["precision"], row["recall"]) == (18 / 20, 1.0) and row["matched"] == 1


def test_a_bout_table_without_its_columns_is_refused():
    with pytest.raises(ValueError, match=r"bout table b lacks column\(s\) \['target'\]"):
        compare_sources(_table([]), pd.DataFrame(columns=["behavior", "agent", "start_frame", "end_frame"]),
                        fps=30, n_frames=10)
