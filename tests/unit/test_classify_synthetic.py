"""Classifiers on synthetic sessions: the generator's scripted episodes are the labels.

Nine sessions of 5 min (3 episodes per agent and behaviour each) are split by
session into train (4), validation (2, for the thresholds) and test (3); no
session is on two sides. Each ordered pair of a session is one series, its
labels the episodes with that agent and target. Every scripted behaviour must
reach bout-level F1 >= 0.9 on the test sessions (bouts matched at IoU >= 0.5
to the episodes, i.e. agreement with the script that generated them).

nose2nose is the hard one: both noses touch, so only the approach, the
target standing still while the agent's nose wobbles, tell which animal is
the agent; the other four differ in which point of the target is touched.
"""

import numpy as np
import pytest

from pipeline.classify.evaluate import evaluate_classifier
from pipeline.classify.features import FeatureParams, pair_features
from pipeline.classify.splits import split_recordings
from pipeline.classify.train import ClassifierParams, LabelledSeries, fit_classifier, labels_from_bouts
from pipeline.synthetic import simulate_session
from pipeline.synthetic.motion import BEHAVIORS

FEATURES = FeatureParams(windows_s=(0.3, 1.0))
PARAMS = ClassifierParams(frame_step=2, negatives_per_positive=10, hyperparameters={"max_iter": 60})
SEEDS = range(100, 109)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One OpenMP thread per test process: two processes share two cores, and HistGradientBoosting's
    threads in both oversubscribed them (the classifier tests took 181 s instead of 39 s)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def session_series(seed: int) -> list[LabelledSeries]:
    s = simulate_session(seed=seed, duration_s=300, episode_counts=3, name=f"s{seed}")
    out = []
    for agent, target in ((0, 1), (1, 0)):
        x, _ = pair_features(s.pose, agent, target, params=FEATURES, mm_per_unit=s.mm_per_px)
        labels = labels_from_bouts(s.episodes, agent=s.individuals[agent], target=s.individuals[target],
                                   n_frames=s.n_frames, behaviors=BEHAVIORS)
        out.append(LabelledSeries(s.name, f"{s.individuals[agent]}>{s.individuals[target]}", x, labels, s.fps))
    return out


@pytest.fixture(scope="module")
def split_and_evaluation():
    names = [f"s{seed}" for seed in SEEDS]
    split = split_recordings(names, validation=2 / 9, test=3 / 9, seed=0)
    series = {f"s{seed}": session_series(seed) for seed in SEEDS}
    part = {k: [x for n in v for x in series[n]] for k, v in split.items()}
    clf = fit_classifier(part["train"], part["validation"], behaviors=BEHAVIORS, params=PARAMS)
    return split, clf, evaluate_classifier(clf, part["test"])


def test_split_is_by_session(split_and_evaluation):
    split, _, ev = split_and_evaluation
    assert [len(split[k]) for k in ("train", "validation", "test")] == [4, 2, 3]
    assert not set(split["train"]) & (set(split["validation"]) | set(split["test"]))
    assert set(ev.per_series.recording) == set(split["test"])


def test_every_scripted_behaviour_reaches_bout_f1_0_9(split_and_evaluation):
    _, clf, ev = split_and_evaluation
    table = ev.per_behavior.set_index("behavior")
    print("\nsynthetic, 3 held-out sessions:\n" + table[["true_n_bouts", "pred_n_bouts", "bout_matched", "bout_f1",
                                                         "f1", "auroc", "pr_auc"]].round(3).to_string())
    assert (table.true_n_bouts == 18).all()  # 3 per agent and behaviour in each of 3 sessions
    assert (table.bout_f1 >= 0.9).all(), table.bout_f1.to_dict()
    assert (table.f1 >= 0.8).all() and (table.auroc >= 0.98).all()


def test_bout_statistics_follow_the_script(split_and_evaluation):
    _, _, ev = split_and_evaluation
    rows = ev.per_series
    # time spent per series and behaviour: classifier against script, across the 30 series x behaviour cells
    r = np.corrcoef(rows.true_time_s, rows.pred_time_s)[0, 1]
    assert r > 0.9
    assert np.abs(rows.pred_n_bouts - rows.true_n_bouts).max() <= 2
