"""A classifier of a human's BORIS 'interact' labels on a real DeepLabCut pair (ethome_pose_boris).

5,700 frames at 30 fps of an adult and a juvenile mouse; the human labelled
10 'interact' bouts of the adult (662 frames, 11.6 %). Blocked cross-validation
over time (5 contiguous blocks: the next block chooses the threshold, the
other three train, 22 frames either side of the held-out blocks left out so
that no 1.5 s feature window spans both sides). The permutation baseline
reruns the same cross-validation with the labels shifted circularly by 24
offsets spread over 10-90 % of the recording: p = (1 + #null >= observed) / 25.

The features and model are a lighter parameter set than the defaults (two
windows, mean and std; 30 boosting rounds) so that the 125 fits of the
baseline take seconds; the defaults score about the same (F1 0.76, AUROC 0.96
measured once).
"""

import numpy as np
import pytest

from pipeline.annotations import read_annotation
from pipeline.behavior.agreement import bout_agreement
from pipeline.classify.crossval import circular_shift_test, shift_offsets
from pipeline.classify.evaluate import label_bouts
from pipeline.classify.features import FeatureParams, pair_features, window_frames
from pipeline.classify.train import ClassifierParams, predict_bouts
from pipeline.io.dlc import read_dlc

FEATURES = FeatureParams(windows_s=(0.5, 1.5), statistics=("mean", "std"))
PARAMS = ClassifierParams(frame_step=2, min_bout_s=0.5, max_gap_s=0.5,
                          hyperparameters={"max_iter": 30, "max_leaf_nodes": 15})
FPS = 30.0


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One OpenMP thread per test process: two processes share two cores, and HistGradientBoosting's
    threads in both oversubscribed them (the classifier tests took 181 s instead of 39 s)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def ethome(shared_data):
    folder = shared_data / "ethome_pose_boris"
    pose = read_dlc(next(folder.glob("*DLC*.csv")), fps=FPS)
    ann = read_annotation(folder / "e3v813a-20210610T122332-122642_reencode.csv", fps=FPS, fmt="boris",
                          n_frames=pose.n_frames, behaviors=["interact"])
    y = np.zeros(pose.n_frames, bool)
    for b in ann.bouts:
        assert b.subject == "adult"
        y[b.start_frame:b.stop_frame] = True
    x, _ = pair_features(pose, "adult", "juvenile", params=FEATURES, role_map={"tail_base": "tail"})
    return x, y


def test_interact_classifier_beats_circular_shift_baseline(ethome, record_property):
    x, y = ethome
    assert (len(y), int(y.sum()), len(label_bouts(y))) == (5700, 662, 10)
    gap = window_frames(max(FEATURES.windows_s), FPS) // 2
    r = circular_shift_test(x, y, offsets=shift_offsets(len(y), n=24), k=5, gap_frames=gap, params=PARAMS)
    obs, null = r["observed"], r["null"]
    # classifier bouts (per-fold thresholds, then minimum bout / gap merge) against the human's
    pred = predict_bouts(obs["predicted"].astype(float), threshold=0.5, fps=FPS, min_bout_s=PARAMS.min_bout_s,
                         max_gap_s=PARAMS.max_gap_s)
    bouts = bout_agreement(label_bouts(y), pred)
    figures = {"f1": obs["f1"], "auroc": obs["auroc"], "pr_auc": obs["metrics"]["pr_auc"],
               "precision": obs["metrics"]["precision"], "recall": obs["metrics"]["recall"],
               "bout_f1": bouts["f1"], "null_f1_max": null.f1.max(), "null_auroc_max": null.auroc.max(),
               "p_f1": r["p_f1"], "p_auroc": r["p_auroc"]}
    print("\nethome_pose_boris 'interact', 5 time blocks: " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()))
    print(obs["folds"][["fold", "threshold", "n_positive", "f1", "auroc"]].round(3).to_string(index=False))
    for k, v in figures.items():
        record_property(k, v)
    assert r["p_f1"] < 0.05 and r["p_auroc"] < 0.05
    assert obs["f1"] > null.f1.max() and obs["auroc"] > null.auroc.max()
    assert obs["auroc"] > 0.9 and obs["f1"] > 0.6  # measured 0.955 and 0.775: guards against a regression
