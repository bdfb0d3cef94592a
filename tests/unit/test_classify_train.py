"""Classifier splits, thresholds, bouts, model files and measures (pipeline.classify), against scikit-learn, by hand."""

import json

import numpy as np
import pytest
from sklearn import metrics

from pipeline.classify.crossval import circular_shift_test, cross_validate_blocks, learning_curve, shift_offsets
from pipeline.classify.evaluate import bout_metrics, evaluate_classifier, frame_metrics, label_bouts, pearson
from pipeline.classify.modelfile import load_model, save_model, sha256_of
from pipeline.classify.splits import block_folds, kfold_recordings, split_recordings, time_blocks
from pipeline.classify.train import (
    ClassifierParams,
    LabelledSeries,
    best_threshold,
    fit_behavior,
    fit_classifier,
    predict_bouts,
    training_rows,
)
from pipeline.errors import InputError
from pipeline.provenance import params_hash

FAST = ClassifierParams(hyperparameters={"max_iter": 10, "max_leaf_nodes": 7})


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One OpenMP thread per test process: two processes share two cores, and HistGradientBoosting's
    threads in both oversubscribed them (the classifier tests took 181 s instead of 39 s)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def toy_series(recording, seed, n=600):
    """Feature 0 is high inside bouts of 'a', feature 1 inside bouts of 'b'; feature 2 is noise.

    A bout of 'a' (20 frames) then one of 'b' (15 frames) every 80 frames, each shifted by up to 5
    frames at random (so that no circular shift of the labels lines them up again)."""
    rng = np.random.default_rng(seed)
    labels = {"a": np.zeros(n, bool), "b": np.zeros(n, bool)}
    for s in range(20, n - 60, 80):
        a, b = s + rng.integers(-5, 6, 2)
        labels["a"][a:a + 20] = True
        labels["b"][b + 40:b + 55] = True
    x = rng.normal(size=(n, 3))
    x[labels["a"], 0] += 3.0
    x[labels["b"], 1] += 3.0
    x[rng.random(n) < 0.05, 2] = np.nan
    return LabelledSeries(recording, "m1>m2", x, labels, 30.0)


def test_splits_are_by_recording_disjoint_and_seeded():
    names = [f"r{i:02d}" for i in range(12)] * 2  # two series per recording
    s = split_recordings(names, validation=0.25, test=0.25, seed=3)
    assert [len(s[k]) for k in ("train", "validation", "test")] == [6, 3, 3]
    assert set(s["train"]) | set(s["validation"]) | set(s["test"]) == set(names)
    assert not set(s["train"]) & set(s["test"]) and not set(s["validation"]) & set(s["test"])
    assert s == split_recordings(list(reversed(names)), validation=0.25, test=0.25, seed=3)
    assert s != split_recordings(names, validation=0.25, test=0.25, seed=4)
    folds = kfold_recordings(names, k=4, seed=1)
    tested = [n for f in folds for n in f["test"]]
    assert sorted(tested) == sorted(set(names)) and all(not set(f["train"]) & set(f["test"]) for f in folds)
    with pytest.raises(ValueError, match="cannot split"):
        split_recordings(["a", "b"], validation=0.5, test=0.5)


def test_time_blocks_and_folds():
    assert time_blocks(5700, k=5).tolist() == [[0, 1140], [1140, 2280], [2280, 3420], [3420, 4560], [4560, 5700]]
    folds = block_folds(100, k=5, gap_frames=3)
    assert sum(f["test"] for f in folds).tolist() == [1] * 100
    for i, f in enumerate(folds):
        assert not (f["train"] & (f["test"] | f["validation"])).any()
        held = np.flatnonzero(f["test"] | f["validation"])
        dist = np.abs(np.flatnonzero(f["train"])[:, None] - held[None]).min(axis=1)
        assert dist.min() == 4  # 3 frames left out on each side of the held-out blocks
        assert f["validation"][((i + 1) % 5) * 20]


def test_best_threshold_maximises_f1_like_a_brute_force_search():
    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.2
    p = np.clip(np.where(y, 0.6, 0.3) + rng.normal(0, 0.2, 500), 0, 1).round(2)  # ties
    t, f1 = best_threshold(y, p)
    brute = max(metrics.f1_score(y, p >= c) for c in np.unique(p))
    assert f1 == pytest.approx(brute) and metrics.f1_score(y, p >= t) == pytest.approx(brute)
    assert best_threshold(np.zeros(5, bool), np.linspace(0, 1, 5))[0] == 0.5


def test_training_rows_step_and_undersampling():
    y = np.zeros(1000, bool)
    y[100:150] = True
    rows = training_rows(y, params=ClassifierParams(frame_step=2, negatives_per_positive=4, seed=1))
    assert y[rows].sum() == 25 and (~y[rows]).sum() == 100 and (rows % 2 == 0).all()
    assert len(training_rows(y, params=ClassifierParams())) == 1000


@pytest.mark.parametrize("algorithm", ["hist_gradient_boosting", "random_forest"])
def test_fit_threshold_bouts_and_evaluation(algorithm, tmp_path):
    hgb = algorithm == "hist_gradient_boosting"
    params = ClassifierParams(algorithm=algorithm, hyperparameters={"max_iter": 15} if hgb else {"n_estimators": 20},
                              class_weight=None if hgb else "balanced", min_bout_s=0.2, max_gap_s=0.1)
    train = [toy_series(f"r{i}", i) for i in range(3)]
    val, test = [toy_series("rv", 10)], [toy_series("t1", 20), toy_series("t2", 21), toy_series("t3", 22)]
    clf = fit_classifier(train, val, params=params)
    assert clf.behaviors == ("a", "b") and all(0 < t < 1 for t in clf.thresholds.values())
    ev = evaluate_classifier(clf, test)
    summary = ev.per_behavior.set_index("behavior")
    assert (summary.f1 > 0.8).all() and (summary.auroc > 0.95).all() and (summary.bout_f1 > 0.8).all()
    assert len(ev.per_series) == 6 and set(ev.per_series.recording) == {"t1", "t2", "t3"}
    row = ev.per_series.iloc[0]
    assert row.true_n_bouts == 7 and row.true_time_s == pytest.approx(140 / 30)  # 7 bouts of 20 frames
    # a model written and read back predicts the same; a changed file is refused
    path = tmp_path / "a.joblib"
    digest = save_model(clf.models["a"], path)
    assert digest == sha256_of(path) and len(digest) == 64
    x = test[0].features
    np.testing.assert_array_equal(load_model(path, sha256=digest).predict_proba(x), clf.models["a"].predict_proba(x))
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(InputError, match="refusing"):
        load_model(path, sha256=digest)


def test_training_and_validation_must_not_share_a_recording():
    with pytest.raises(ValueError, match="both"):
        fit_classifier([toy_series("r1", 0)], [toy_series("r1", 1)], params=FAST)
    with pytest.raises(ValueError, match="both classes"):
        fit_behavior(np.zeros((10, 2)), np.zeros(10, bool), params=FAST)


def test_predict_bouts_merges_gaps_and_drops_short_bouts():
    p = np.zeros(100)
    p[10:20] = p[22:30] = 0.9  # gap of 2 frames: merged at max_gap 0.1 s (3 frames)
    p[50:52] = 0.95  # 2 frames: dropped at min_bout 0.1 s (3 frames)
    p[60] = np.nan
    got = predict_bouts(p, threshold=0.5, fps=30, min_bout_s=0.1, max_gap_s=0.1)
    assert got.tolist() == [[10, 30]]


def test_frame_and_bout_measures_equal_scikit_learn():
    rng = np.random.default_rng(5)
    y = rng.random(2000) < 0.3
    p = np.clip(y * 0.4 + rng.random(2000) * 0.6, 0, 1)
    r = frame_metrics(y, p, threshold=0.5)
    assert r["f1"] == pytest.approx(metrics.f1_score(y, p >= 0.5))
    assert r["accuracy"] == pytest.approx(metrics.accuracy_score(y, p >= 0.5))
    assert r["auroc"] == pytest.approx(metrics.roc_auc_score(y, p))
    assert r["pr_auc"] == pytest.approx(metrics.average_precision_score(y, p))
    assert np.isnan(frame_metrics(np.zeros(5, bool), np.ones(5), threshold=0.5)["auroc"])
    assert label_bouts(np.array([1, 1, 0, 1], bool)).tolist() == [[0, 2], [3, 4]]
    b = bout_metrics(np.array([[0, 10], [20, 30]]), np.array([[0, 9], [40, 50]]), fps=10)
    assert (b["bout_matched"], b["bout_f1"], b["pred_time_s"], b["true_mean_bout_s"]) == (1, 0.5, 1.9, 1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1) and np.isnan(pearson([1, 2], [1, 2]))


def test_blocked_cross_validation_and_circular_shift_baseline():
    s = toy_series("r", 0, n=600)
    y = s.labels["a"]
    cv = cross_validate_blocks(s.features, y, k=5, gap_frames=5, params=FAST)
    assert len(cv["folds"]) == 5 and np.isfinite(cv["probability"]).all()
    assert cv["f1"] > 0.8 and cv["auroc"] > 0.95
    assert cv["f1"] == pytest.approx(metrics.f1_score(y, cv["predicted"]))
    test = circular_shift_test(s.features, y, offsets=shift_offsets(600, n=19), k=5, params=FAST)
    assert test["p_f1"] == test["p_auroc"] == 0.05 and test["null"].auroc.median() < 0.7
    # labels unrelated to the features: not significant
    noise = np.random.default_rng(1).normal(size=s.features.shape)
    test = circular_shift_test(noise, y, offsets=shift_offsets(600, n=9), k=5, params=FAST)
    assert test["p_auroc"] > 0.1 and test["observed"]["auroc"] < 0.7


def test_learning_curve_improves_with_recordings():
    train = [toy_series(f"r{i}", i, n=240) for i in range(4)]
    test = [toy_series("t", 9)]
    curve = learning_curve(train, test, sizes=[1, 4], validation=[toy_series("v", 8)], params=FAST)
    assert list(curve.columns[:3]) == ["n_recordings", "n_frames", "behavior"]
    assert curve.n_frames.tolist() == [240, 240, 960, 960]
    f1 = curve.set_index(["n_recordings", "behavior"]).f1
    assert f1[4, "a"] > 0.8 and f1[4, "b"] > 0.8


def test_classifier_params_are_json():
    p = ClassifierParams(algorithm="random_forest", hyperparameters={"n_estimators": 50}, threshold=0.4)
    assert ClassifierParams.from_dict(json.loads(json.dumps(p.to_dict()))) == p and hash(p)
    assert p.estimator_options()["n_estimators"] == 50
    assert params_hash(p.to_dict()) == params_hash(ClassifierParams.from_dict(p.to_dict()).to_dict()) != \
        params_hash(ClassifierParams().to_dict())
    with pytest.raises(ValueError, match="algorithm"):
        ClassifierParams(algorithm="svm")
