"""Series, labels, training-set plans, predicted rows and label-next: the pure parts of the classifier tables."""

import numpy as np
import pandas as pd
import pytest

from pipeline.classify.label_next import MARK, most_uncertain, write_boris_job
from pipeline.classify.outputs import prediction_rows
from pipeline.classify.series import check_bouts, series_labels
from pipeline.classify.training_data import plan_training_set
from pipeline.errors import InputError

DIRECTED = {"attack": True, "groom": False}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One OpenMP thread: two test processes share two cores (see test_classify_real)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _bouts(rows):
    return pd.DataFrame(rows, columns=["behavior", "agent", "target", "start_frame", "end_frame", "is_point"])


def test_solo_labels_go_to_the_animal_and_directed_ones_to_the_pair():
    b = _bouts([("attack", "a", "b", 2, 5, False), ("attack", "a", "c", 6, 8, False), ("groom", "a", None, 0, 3, False),
                ("attack", "b", "a", 1, 2, False), ("groom", "a", None, 9, 10, True)])
    b = check_bouts(b, directed=DIRECTED, n_animals=3, source="x")
    assert len(b) == 4  # the point event is not a label
    ab = series_labels(b, agent="a", target="b", directed=DIRECTED, n_frames=10)
    assert list(ab) == ["attack"] and np.flatnonzero(ab["attack"]).tolist() == [2, 3, 4]
    aa = series_labels(b, agent="a", target="a", directed=DIRECTED, n_frames=10)
    assert list(aa) == ["groom"] and np.flatnonzero(aa["groom"]).tolist() == [0, 1, 2]
    shifted = series_labels(b, agent="a", target="c", directed=DIRECTED, n_frames=4, frame_offset=5)
    assert shifted["attack"].astype(int).tolist() == [0, 1, 1, 0]


@pytest.mark.parametrize("rows, n_animals, problem", [
    ([("attack", None, "b", 2, 5, False)], 2, r"1 bout\(s\) of \['attack'\] name no animal"),
    ([("attack", "", "b", 2, 5, False)], 2, "name no animal"),
    ([("attack", "a", None, 2, 5, False)], 3, r"directed behaviour\(s\) \['attack'\] name no target, and the "
                                              r"recording has 3 animals"),
])
def test_bouts_labels_cannot_be_assigned_from_are_refused(rows, n_animals, problem):
    with pytest.raises(InputError, match=f"^set 1: .*{problem}"):
        check_bouts(_bouts(rows), directed=DIRECTED, n_animals=n_animals, source="set 1")


def test_a_directed_bout_without_target_labels_the_partner_of_two_animals():
    b = check_bouts(_bouts([("attack", "a", None, 2, 5, False)]), directed=DIRECTED, n_animals=2, source="x")
    assert series_labels(b, agent="a", target="b", directed=DIRECTED, n_frames=6)["attack"].sum() == 3


def _sets(n):
    return [{"session": f"s{i}", "camera": "top", "annotator": "ann", "label_set": "main", "ethogram": "e"}
            for i in range(n)]


def _plan(sets, **change):
    args = {"name": "ts", "behaviors": None, "pose_kind": "raw", "ethogram_behaviors": {"e": DIRECTED},
            "versions": {f"{s['session']}/top": ["top/sleap"] for s in sets}, "chosen": {},
            "split": {"validation": 0.2, "test": 0.2, "seed": 0, "k_folds": 3, "learning_curve": None}}
    return plan_training_set(sets, **(args | change))


def test_a_training_set_is_split_by_recording_with_folds_and_a_learning_curve():
    plan = _plan(_sets(10))
    parts = pd.DataFrame(plan["parts"])
    assert parts.groupby("part").size().to_dict() == {"test": 2, "train": 6, "validation": 2}
    train = parts[parts.part == "train"]
    assert sorted(train.fold.value_counts().tolist()) == [2, 2, 2] and parts[parts.part != "train"].fold.isna().all()
    assert plan["master"]["split"]["learning_curve"] == [1, 3, 6] and plan["master"]["behaviors"] == ["attack", "groom"]
    assert (parts.pose_version == "top/sleap").all()


@pytest.mark.parametrize("sets, change, problem", [
    ([], {}, "no annotation set matched"),
    (_sets(3) + _sets(1), {}, r"recording\(s\) \['s0/top'\] have several annotation sets"),
    (_sets(5), {"behaviors": ["fly"]}, r"behaviour\(s\) \['fly'\] are not in ethogram 'e'"),
    (_sets(5), {"versions": {"s0/top": ["top/a", "top/b"]}}, r"s0/top has 2 raw pose versions \['top/a', 'top/b'\]"),
    (_sets(5), {"versions": {}}, "s0/top has no raw pose versions"),
    (_sets(5), {"chosen": {"s0/top": "top/x"}}, r"pose version 'top/x' is not one of its raw versions"),
    (_sets(2), {}, "cannot split 2 recordings"),
])
def test_a_training_set_that_cannot_be_made_is_refused(sets, change, problem):
    with pytest.raises(InputError, match=f"training set 'ts': .*{problem}"):
        _plan(sets, **change)


def test_predicted_rows_have_the_rule_shape_and_no_data_is_not_zero():
    p = np.r_[np.zeros(30), np.full(30, 0.9), np.zeros(60)]
    ok = np.r_[np.ones(90, bool), np.zeros(30, bool)]
    preds = [{"behavior": "groom", "agent": "a", "target": "a", "probability": p, "scorable": ok},
             {"behavior": "attack", "agent": "a", "target": "b", "probability": np.full(120, 0.9),
              "scorable": np.zeros(120, bool)}]
    rows = prediction_rows(preds, thresholds={"groom": 0.5, "attack": 0.5}, fps=30, n_frames=120, frame_offset=0,
                           min_bout_s=0.2, max_gap_s=0.2, bin_s=2, n_bins=2)
    assert [(b["behavior"], b["agent"], b["target"], b["start_frame"], b["end_frame"]) for b in rows["bouts"]] == \
        [("groom", "a", "a", 30, 60)]
    summary = {r["behavior"]: r for r in rows["summary"]}
    assert summary["groom"]["scorable_fraction"] == 0.75 and summary["groom"]["total_duration_s"] == 1.0
    assert summary["attack"]["scorable_fraction"] == 0.0 and summary["attack"]["bout_count"] == 0
    bins = [(r["behavior"], r["time_bin"], r["scorable_fraction"]) for r in rows["bins"]]
    assert bins == [("groom", 0, 1.0), ("groom", 1, 0.5), ("attack", 0, 0.0), ("attack", 1, 0.0)]


def test_label_next_ranks_segments_and_writes_a_boris_project(tmp_path):
    from pipeline.io.boris_project import read_boris_project

    sure = np.r_[np.zeros(60), np.ones(60)]
    unsure = np.r_[np.zeros(60), np.full(30, 0.5), np.zeros(30)]
    recs = [{"recording": "r1", "fps": 30.0, "frame_offset": 0, "thresholds": {"attack": 0.5},
             "series": {"a>b": {"attack": sure}}},
            {"recording": "r2", "fps": 30.0, "frame_offset": 30, "thresholds": {"attack": 0.5},
             "series": {"a>b": {"attack": unsure}, "b>a": {"attack": sure}}}]
    job = most_uncertain(recs, n=2, segment_s=1)
    assert job[["recording", "start_frame", "end_frame"]].values.tolist() == [["r2", 90, 120], ["r1", 0, 30]]
    assert job["uncertainty"].tolist() == [1.0, 0.0]
    path = write_boris_job(job, tmp_path / "job.boris", videos={
        "r1": {"file": "v1.mp4", "fps": 30, "length_s": 4}, "r2": {"file": "v2.mp4", "fps": 30, "length_s": 5}},
        behaviors={"attack": True})
    back = read_boris_project(path, fps=30, observation="r2")
    assert [(b.behavior, b.start_frame, b.stop_frame) for b in back.bouts] == [(MARK, 90, 120)]
    assert set(back.behaviors) == {MARK, "attack"}


def _recording(i, part, rng, fold=None):
    """One recording of two animals: series features random, labels where feature 0 is high (learnable)."""
    n = 600
    series, bouts = [], []
    for name, agent, target in (("a", "a", "a"), ("b", "b", "b"), ("a>b", "a", "b"), ("b>a", "b", "a")):
        x = rng.normal(size=(n, 3)).astype(np.float32)
        x[:, 0] = np.repeat(rng.normal(size=n // 30), 30)  # 1-s runs, so bouts last
        on = np.flatnonzero(np.diff(np.r_[0, (x[:, 0] > 1).astype(int), 0]))
        behavior = "attack" if agent != target else "groom"
        bouts += [(behavior, agent, None if agent == target else target, int(s), int(e), False)
                  for s, e in on.reshape(-1, 2)]
        series.append({"series": name, "agent": agent, "target": target, "features": x,
                       "names": ["f0", "f1", "missing" if agent == target else "agent.missing"]})
    return {"session": f"s{i}", "camera": "top", "annotator": "ann", "label_set": "main", "part": part, "fold": fold,
            "n_frames": n, "frame_offset": 0, "fps": 30.0, "series": series,
            "bouts": [dict(zip(["behavior", "agent", "target", "start_frame", "end_frame", "is_point"], b))
                      for b in bouts]}


def test_solo_and_directed_behaviours_train_on_their_own_series_and_survive_the_model_file(tmp_path):
    from pipeline.classify import training_data as td

    rng = np.random.default_rng(0)
    parts = ["train", "train", "train", "validation", "test"]
    given = {"classifier": "c", "directed": DIRECTED, "recordings": [
        _recording(i, p, rng, fold=i if p == "train" else None) for i, p in enumerate(parts)],
        "split": {"k_folds": 3}, "params": {"classifier": {"hyperparameters": {"max_iter": 30}}}}
    result = td.train_classifier(given)
    trained = result["classifier"]
    assert trained["solo"].behaviors == ("groom",) and trained["pair"].behaviors == ("attack",)
    rows = {r["behavior"]: r for r in result["behaviors"]}
    assert rows["groom"]["directed"] is False and rows["attack"]["directed"] is True
    assert rows["groom"]["n_train_frames"] == 3 * 2 * 600 and rows["attack"]["validation_f1"] > 0.8
    assert {(f["fold"], f["behavior"]) for f in result["folds"]} == {(k, b) for k in range(3) for b in DIRECTED}
    assert (result["n_train"], result["n_validation"]) == (3, 1)

    sha = td.save_models(trained, tmp_path / f"m{td.model_suffix()}")
    back = td.classifier_from(tmp_path / f"m{td.model_suffix()}", sha256=sha, behaviors=result["behaviors"],
                              params=given["params"])
    x = given["recordings"][4]["series"][0]["features"]
    p0 = trained["solo"].models["groom"].predict_proba(x)
    assert np.array_equal(back["solo"].models["groom"].predict_proba(x), p0)
    assert back["pair"].thresholds == trained["pair"].thresholds

    unlabelled = dict(given, directed={**DIRECTED, "fly": False})
    with pytest.raises(InputError, match=r"classifier 'c': behaviour\(s\) \['fly'\] have no labelled frame"):
        td.train_classifier(unlabelled)
