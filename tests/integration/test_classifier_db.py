"""Classifiers in the database: from a manifest with pose files and BORIS labels to a group report of classifier bouts.

Six synthetic sessions of 3 min (2 episodes per agent and contact); a BORIS
file per session holds the scripted episodes of two contacts as a human's
labels (no target column: with two animals the partner is implied). The
training set splits the sessions by recording: 3 train, 1 validation, 2 test.
"""

import numpy as np
import pytest

from pipeline.annotations import Annotation, Bout
from pipeline.io.boris import write_boris

pytestmark = pytest.mark.integration

BEHAVIORS = ("nose2anogenital", "nose2neck")
SEEDS = range(200, 206)
DURATION_S = 180


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _session(seed, folder):
    from pipeline.synthetic import simulate_session, write_session_files

    s = simulate_session(seed=seed, duration_s=DURATION_S, episode_counts=2, name=f"c{seed}")
    files = write_session_files(s, folder / "pose", formats=("sleap_h5",), stem=s.name)
    eps = s.episodes[s.episodes["behavior"].isin(BEHAVIORS)]
    bouts = tuple(Bout(r.behavior, r.agent, None, int(r.start_frame), int(r.end_frame)) for r in eps.itertuples())
    labels = write_boris(Annotation(bouts, fps=s.fps, source="-", fmt="boris", n_frames=s.n_frames),
                         folder / f"{s.name}_boris.csv")
    subjects = {ind: f"{s.name}_{ind}" for ind in s.individuals}
    return s, {
        "session": s.name, "datetime": "2026-01-01 10:00:00",
        "animals": [{"subject": v} for v in subjects.values()],
        "recordings": [{"camera": "top", "fps": s.fps, "mm_per_px": s.mm_per_px,
                        "pose": [{"source": "sleap", "file": str(files["sleap_h5"]), "skeleton": "mouse6",
                                  "tracks": subjects}],
                        "annotations": [{"file": str(labels), "format": "boris", "annotator": "script",
                                         "ethogram": "contacts", "subjects": subjects}]}]}, subjects


@pytest.fixture
def trained(clean, tmp_path):
    from pipeline.classify.train import ClassifierParams
    from pipeline.synthetic import EDGES, KEYPOINTS
    from schemas.annotation import AnnotationSet
    from schemas.classifier import Classifier, ClassifierParamSet, ClassifierTraining, ClassifierTrainingSet
    from schemas.features import FeatureParamSet, PoseFeatures
    from schemas.ingest import ingest
    from schemas.prediction import BehaviorPrediction, ClassifierEvaluation
    from tests.integration.test_ingest import write_manifest

    made = [_session(seed, tmp_path) for seed in SEEDS]
    sexes = ["M", "F"]
    subjects = [{"subject": sub, "sex": sexes[i % 2], "age_group": "adult"}
                for i, (_, _, subs) in enumerate(made) for sub in subs.values()]
    manifest = write_manifest(tmp_path, {
        "skeletons": [{"skeleton": "mouse6", "keypoints": list(KEYPOINTS), "edges": [list(e) for e in EDGES]}],
        "ethograms": [{"ethogram": "contacts", "behaviors": [f"{b}:directed" for b in BEHAVIORS]}],
        "subjects": subjects, "sessions": [m for _, m, _ in made]})
    ingest(manifest)
    FeatureParamSet.add("short", {"windows_s": [0.3, 1.0]})
    ClassifierParamSet.add("quick", ClassifierParams(frame_step=2, negatives_per_positive=10,
                                                     hyperparameters={"max_iter": 60}), feature_set="short")
    ClassifierTrainingSet.create("contacts", AnnotationSet & {"annotator": "script"}, validation=1 / 6, test=2 / 6,
                                 seed=0, learning_curve=[1, 3])
    Classifier.add("contacts-hgb", training_set="contacts", params="quick")
    for table in (PoseFeatures, ClassifierTraining, ClassifierEvaluation, BehaviorPrediction):
        table.populate(suppress_errors=False)
    return {m["session"]: s for s, m, _ in made}


def test_from_a_manifest_with_boris_labels_to_a_group_report_of_classifier_bouts(trained, tmp_path, capsys):
    """One pipeline run (the fixture takes most of the time), checked step by step."""
    check_training_evaluation_and_predictions(trained)
    check_group_report_reads_classifier_bouts(tmp_path, capsys)
    check_a_tampered_model_file_is_not_loaded()
    check_label_next_writes_a_boris_job(tmp_path, capsys)
    check_agreement_of_the_classifier_with_the_labels()


def check_training_evaluation_and_predictions(trained):
    from schemas.classifier import ClassifierTraining, ClassifierTrainingSet
    from schemas.features import PoseFeatures
    from schemas.prediction import BehaviorPrediction, ClassifierEvaluation

    parts = ClassifierTrainingSet.Recording.to_dicts()
    by_part = {p: sorted(r["session"] for r in parts if r["part"] == p) for p in ("train", "validation", "test")}
    assert [len(v) for v in by_part.values()] == [3, 1, 2]
    assert len(PoseFeatures()) == 6 and len(PoseFeatures.Series()) == 6 * 4  # 2 animals + 2 ordered pairs

    model = ClassifierTraining.fetch1()
    assert len(model["model_sha256"]) == 64 and model["n_train_recordings"] == 3
    behaviors = ClassifierTraining.Behavior.to_dicts(order_by="behavior")
    assert [b["behavior"] for b in behaviors] == list(BEHAVIORS) and all(b["directed"] for b in behaviors)
    assert all(0 < b["threshold"] < 1 and b["n_positive_frames"] > 0 for b in behaviors)

    ev = {r["behavior"]: r for r in ClassifierEvaluation.Behavior.to_dicts()}
    print({b: (round(r["f1"], 3), round(r["bout_f1"], 3), round(r["auroc"], 3)) for b, r in ev.items()})
    for b in BEHAVIORS:
        assert ev[b]["bout_f1"] >= 0.9 and ev[b]["auroc"] > 0.95, (b, ev[b])
    tested = {r["session"] for r in ClassifierEvaluation.Recording.to_dicts()}
    assert tested == set(by_part["test"])
    curve = ClassifierEvaluation.LearningCurve.to_dicts()
    assert sorted({r["n_recordings"] for r in curve}) == [1, 3]

    assert len(BehaviorPrediction()) == 6
    for session_, sim in trained.items():
        pred = (BehaviorPrediction.Bout & {"session": session_}).to_pandas().reset_index()
        for b in BEHAVIORS:
            truth = sim.episodes[sim.episodes["behavior"] == b]
            got = pred[pred["behavior"] == b]
            assert abs(len(got) - len(truth)) <= 1, (session_, b, len(got), len(truth))
        summary = (BehaviorPrediction.Summary & {"session": session_}).to_dicts()
        assert {(r["agent"] == r["target"]) for r in summary} == {False}
        assert all(r["scorable_fraction"] > 0.9 for r in summary)


def check_group_report_reads_classifier_bouts(tmp_path, capsys):
    from schemas import stats
    from workers.cli import main

    animals = stats.per_animal(rule_set="classifier:contacts-hgb")
    assert set(animals["behavior"]) == set(BEHAVIORS) and len(animals) == 6 * 2 * len(BEHAVIORS)
    assert (animals["bout_count"] > 0).all()
    rc = main(["report", "--rule-set", "classifier:contacts-hgb", "--group-by", "sex", "--out", str(tmp_path / "r")])
    assert rc == 0 and "Classifier 'contacts-hgb', raw poses" in capsys.readouterr().out


def check_a_tampered_model_file_is_not_loaded():
    from pipeline.errors import InputError
    from schemas.classifier import ClassifierTraining
    from schemas.prediction import load_classifier, trained_model

    model = trained_model(ClassifierTraining.fetch1("KEY"))
    with pytest.raises(InputError, match="differs from the recorded"):
        load_classifier(dict(model, model_sha256="0" * 64))
    assert set(load_classifier(model)["pair"].behaviors) == set(BEHAVIORS)
    assert np.isfinite([b["threshold"] for b in model["behaviors"]]).all()


def check_label_next_writes_a_boris_job(tmp_path, capsys):
    import pandas as pd

    from pipeline.io.boris_project import read_boris_project
    from workers.cli import main

    assert main(["label-next", "contacts-hgb", "--n", "5", "--out", str(tmp_path / "next")]) == 2  # all labelled
    assert "no predicted recording outside the training set" in capsys.readouterr().err
    assert main(["label-next", "contacts-hgb", "--n", "5", "--segment-s", "1", "--out", str(tmp_path / "next"),
                 "--include-labelled"]) == 0
    job = pd.read_csv(tmp_path / "next" / "label_next.csv")
    assert len(job) == 5 and job["uncertainty"].is_monotonic_decreasing and (job["end_s"] - job["start_s"] == 1).all()
    first = job.iloc[0]
    back = read_boris_project(tmp_path / "next" / "label_next.boris", fps=30, observation=first["recording"])
    marks = [(b.start_frame, b.stop_frame) for b in back.bouts if b.behavior == "to_label"]
    assert (int(first["start_frame"]), int(first["end_frame"])) in marks
    assert set(BEHAVIORS) <= set(back.behaviors)
    assert main(["classifier", "show", "contacts-hgb"]) == 0 and main(["classifier", "list"]) == 0
    shown = capsys.readouterr().out
    assert "nose2neck" in shown and "contacts-hgb" in shown


def check_agreement_of_the_classifier_with_the_labels():
    from schemas.agreement import compare
    from schemas.classifier import ClassifierTrainingSet

    test = (ClassifierTrainingSet.Recording & {"part": "test"}).to_arrays("session")[0]
    table, what = compare("annotation:script", "classifier:contacts-hgb", session=str(test), camera="top",
                          pool_animals=True)  # the labels name no target
    rows = table.set_index("behavior")
    assert set(BEHAVIORS) <= set(rows.index)
    assert (rows.loc[list(BEHAVIORS), "f1"] > 0.9).all() and (rows.loc[list(BEHAVIORS), "bout_f1"] > 0.9).all()
    assert what["b"]["classifier"] == "contacts-hgb"
