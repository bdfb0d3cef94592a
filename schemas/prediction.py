"""Classifier evaluation on held-out recordings, and classifier bouts on every pose version.

:class:`BehaviorPrediction` has ``Bout``, ``Summary`` and ``TimeBin`` parts
of the same shape as :class:`schemas.behavior.SocialBouts`' (a solo
behaviour's rows have target = the animal itself), so reports, group
statistics and audits read classifier bouts as they read rule-based ones:
the bout source ``classifier:NAME`` (:mod:`schemas.stats`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import datajoint as dj
import numpy as np

from pipeline import provenance
from pipeline.classify.series import is_pair, scorable_frames

from . import recording, session, store, versions  # noqa: F401  (named by the definitions)
from .behavior import _SUMMARY, _TIMEBIN
from .classifier import (
    Classifier,
    ClassifierParamSet,
    ClassifierTraining,
    ClassifierTrainingSet,
    fetch_inputs,
    load_features,
)
from .features import PoseFeatures

schema = dj.Schema()

_METRICS = ("accuracy", "precision", "recall", "f1", "kappa", "auroc", "pr_auc", "bout_precision", "bout_recall",
            "bout_f1", "r_time_s", "r_n_bouts", "r_mean_bout_s")


def _nullable(names) -> str:
    return "\n".join(f"        {n} = null : float64" for n in names)


@schema
class ClassifierEvaluation(dj.Computed):
    """One row: a trained classifier measured on its training set's test recordings.

    Parts: ``Behavior`` (frame accuracy, precision, recall, F1, kappa, AUROC,
    PR-AUC over all test frames; bout precision / recall / F1 at IoU >= 0.5;
    Pearson r across recordings of time spent, number of bouts and mean bout
    duration: the DeepEthogram paper's Fig. 4-5 measures), ``Recording`` (the
    bout statistics per test recording and series) and ``LearningCurve``
    (test F1 against the number of training recordings, Fig. 6).
    """

    definition = """
    -> ClassifierTraining
    ---
    n_test_recordings : int32
    provenance : json
    """

    class Behavior(dj.Part):
        """One row: one behaviour's measures over all test frames and bouts."""

        definition = f"""
        -> master
        behavior : varchar(32)
        ---
        n_frames : int32
        n_positive : int32
{_nullable(_METRICS)}
        """

    class Recording(dj.Part):
        """One row: one behaviour of one series of one test recording: human vs classifier bout statistics."""

        definition = f"""
        -> master
        -> recording.VideoRecording
        series : varchar(80)
        behavior : varchar(32)
        ---
{_nullable(("f1", "bout_f1", "true_time_s", "pred_time_s", "true_n_bouts", "pred_n_bouts", "true_mean_bout_s",
            "pred_mean_bout_s"))}
        """

    class LearningCurve(dj.Part):
        """One row: one behaviour's test measures when trained on the first n training recordings."""

        definition = """
        -> master
        n_recordings : int32
        behavior : varchar(32)
        ---
        n_frames : int32
        f1 = null : float64
        auroc = null : float64
        bout_f1 = null : float64
        """

    @property
    def key_source(self):
        tested = (Classifier * ClassifierTrainingSet.Recording & "part = 'test'").proj()
        return ClassifierTraining.proj() & tested

    def make_fetch(self, key):
        """The training set's inputs (as for training) and the trained model's file and rows."""
        return fetch_inputs(key), trained_model(key)

    def make_compute(self, key, given, model):
        """Measure on the test recordings; learning curve (no database access)."""
        from pipeline.classify import training_data as td
        from pipeline.classify.evaluate import evaluate_classifier

        started = provenance.now()
        trained = load_classifier(model)
        series = td.labelled_series(load_features(given)["recordings"], given["directed"])
        behaviors, per_recording, curve = [], [], []
        for kind, clf in trained.items():
            test = [s for rec, s in series if rec["part"] == "test" and is_pair(s.name) == (kind == "pair")]
            if clf is None or not test:
                continue
            ev = evaluate_classifier(clf, test)
            behaviors += [_behavior_row(r, test) for r in ev.per_behavior.to_dict("records")]
            per_recording += [_recording_row(r) for r in ev.per_series.to_dict("records")]
            curve += _curve(series, kind, clf, given)
        prov = provenance.record(started=started, inputs=given["inputs"], params=given["params"],
                                 model_sha256=model["model_sha256"])
        n_test = len({td.recording_name(r) for r in given["recordings"] if r["part"] == "test"})
        master = dict(key, n_test_recordings=n_test, provenance=prov)
        return master, behaviors, per_recording, curve

    def make_insert(self, key, master, behaviors, per_recording, curve):
        self.insert1(master)
        self.Behavior.insert(dict(key, **r) for r in behaviors)
        self.Recording.insert(dict(key, **r) for r in per_recording)
        self.LearningCurve.insert(dict(key, **r) for r in curve)


def _f(x):
    return float(x) if x is not None and np.isfinite(x) else None


def _behavior_row(r: dict, test) -> dict:
    return {"behavior": r["behavior"], "n_frames": int(sum(len(s.features) for s in test)),
            "n_positive": int(r["n_positive"]), **{m: _f(r.get(m)) for m in _METRICS}}


def _recording_row(r: dict) -> dict:
    session_, camera = r["recording"].split("/", 1)
    names = ("f1", "bout_f1", "true_time_s", "pred_time_s", "true_n_bouts", "pred_n_bouts", "true_mean_bout_s",
             "pred_mean_bout_s")
    return {"session": session_, "camera": camera, "series": r["series"], "behavior": r["behavior"],
            **{m: _f(r.get(m)) for m in names}}


def _curve(series, kind, clf, given) -> list[dict]:
    from pipeline.classify.crossval import learning_curve

    pick = lambda part: [s for rec, s in series if rec["part"] == part and is_pair(s.name) == (kind == "pair")]  # noqa: E731
    table = learning_curve(pick("train"), pick("test"), sizes=given["split"]["learning_curve"],
                           validation=pick("validation"), behaviors=list(clf.behaviors), params=clf.params,
                           seed=int(given["split"]["seed"]))
    return [{"n_recordings": int(r["n_recordings"]), "behavior": r["behavior"], "n_frames": int(r["n_frames"]),
             "f1": _f(r["f1"]), "auroc": _f(r["auroc"]), "bout_f1": _f(r["bout_f1"])} for r in table.to_dict("records")]


def trained_model(key) -> dict:
    """A trained classifier's model file (metadata), sha256, Behavior rows and parameters (small)."""
    row = store.small((ClassifierTraining & key).fetch1())
    behaviors = (ClassifierTraining.Behavior & key).to_dicts(order_by="behavior")
    params = (Classifier * ClassifierParamSet & key).fetch1("params")
    return {"model": row["model"], "model_sha256": row["model_sha256"], "behaviors": behaviors, "params": params}


def load_classifier(model: dict) -> dict:
    """``{"solo", "pair"} -> TrainedClassifier`` from :func:`trained_model` (file fetched, sha256 checked)."""
    from pipeline.classify import training_data as td

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"model{Path(model['model']['path']).suffix}"
        store.object_ref(model["model"]).download(path)
        return td.classifier_from(path, sha256=model["model_sha256"], behaviors=model["behaviors"],
                                  params=model["params"])


_BOUT = """
        -> master
        bout_index : int32
        ---
        behavior : varchar(32)
        -> session.Session.Animal.proj(agent="subject")
        -> session.Session.Animal.proj(target="subject")   # = agent for a solo behaviour
        start_frame : int32            # video frame number
        end_frame : int32              # exclusive
        start_s : float64              # video time (start_frame / fps)
        duration_s : float64
        mean_probability : float64     # of the behaviour over the bout's frames
        """


@schema
class BehaviorPrediction(dj.Computed):
    """One row: the bouts a trained classifier predicts on one pose version.

    Parts: ``Series`` (per-frame probabilities of each series, frames x
    behaviours), then post-processed ``Bout``, ``Summary`` and ``TimeBin``
    rows shaped like :class:`schemas.behavior.SocialBouts`'.
    """

    definition = """
    -> versions.PoseVersion
    -> ClassifierTraining
    ---
    n_frames : int32
    frame_offset : int32
    fps : float64
    n_bouts : int32
    provenance : json                   # model sha256, feature set, thresholds, post-processing
    """

    class Series(dj.Part):
        """One row: the per-frame probabilities of one series (an animal or an ordered pair)."""

        definition = """
        -> master
        series : varchar(80)
        ---
        behaviors : json                # the columns
        probability : <array@ethojoint> # frames x behaviours, float32; NaN where not scorable
        """

    class Bout(dj.Part):
        """One row: one predicted bout of one behaviour of one agent (toward one target)."""

        definition = _BOUT

    class Summary(dj.Part):
        """One row: one behaviour of one agent toward one target (itself for a solo one) over the recording."""

        definition = _SUMMARY

    class TimeBin(dj.Part):
        """One row: one behaviour of one agent toward one target in one time bin."""

        definition = _TIMEBIN

    @property
    def key_source(self):
        trained = (ClassifierTraining * Classifier * ClassifierTrainingSet.proj("pose_kind")
                   * ClassifierParamSet.proj("feature_set")).proj("pose_kind", "feature_set")
        kinds = sorted(set(trained.to_arrays("pose_kind")))
        base = (versions.PoseVersion * ClassifierTraining).proj()
        if not kinds:
            return base & "FALSE"
        ready = [(PoseFeatures & versions.selection(k).proj()).proj() * (trained & {"pose_kind": k}).proj(
            "feature_set") for k in kinds]
        return base & [r.proj() for r in ready]

    def make_fetch(self, key):
        """The version's features (store metadata) and the classifier's model file and rows."""
        fs = (Classifier * ClassifierParamSet & key).fetch1("feature_set")
        feat = {"session": key["session"], "pose_version": key["pose_version"], "feature_set": fs}
        master = (PoseFeatures & feat).proj("n_frames", "frame_offset", "fps").fetch1()
        series = [store.small(s) for s in (PoseFeatures.Series & feat).to_dicts(order_by="series")]
        return {k: master[k] for k in ("n_frames", "frame_offset", "fps")}, series, trained_model(key)

    def make_compute(self, key, pose_row, series, model):
        """Predict, post-process into bouts and summaries, upload the probabilities (no database access)."""
        from pipeline.classify.outputs import prediction_rows

        started = provenance.now()
        trained = load_classifier(model)
        predictions, arrays = _predict(trained, series)
        thresholds = {b["behavior"]: float(b["threshold"]) for b in model["behaviors"]}
        clf = model["params"]["classifier"]
        rows = prediction_rows(predictions, thresholds=thresholds, fps=pose_row["fps"], n_frames=pose_row["n_frames"],
                               frame_offset=pose_row["frame_offset"], min_bout_s=clf["min_bout_s"],
                               max_gap_s=clf["max_gap_s"], bin_s=model["params"]["bin_s"],
                               n_bins=model["params"]["n_bins"])
        parts = []
        try:
            for name, (behaviors, values) in arrays.items():
                meta = store.upload(BehaviorPrediction.Series, dict(key, series=name), "probability", values)
                parts.append(dict(key, series=name, behaviors=behaviors, probability=meta))
        except BaseException:
            store.remove(p["probability"] for p in parts)
            raise
        prov = provenance.record(started=started, params=model["params"], model_sha256=model["model_sha256"],
                                 thresholds=thresholds, pose_version=key["pose_version"])
        master = dict(key, **pose_row, n_bouts=len(rows["bouts"]), provenance=prov)
        return master, parts, rows

    def make_insert(self, key, master, parts, rows):
        with store.removed_on_error(*(p["probability"] for p in parts)):
            self.insert1(master)
            self.Series.insert(parts)
            self.Bout.insert(dict(key, bout_index=i, **b) for i, b in enumerate(rows["bouts"]))
            self.Summary.insert(dict(key, **s) for s in rows["summary"])
            self.TimeBin.insert(dict(key, **s) for s in rows["bins"])


def _predict(trained: dict, series: list[dict]) -> tuple[list[dict], dict]:
    """Per-series probabilities (NaN where not scorable) and the prediction records of ``prediction_rows``."""
    from pipeline.classify.train import predict_probabilities

    predictions, arrays = [], {}
    for s in series:
        clf = trained["pair" if is_pair(s["series"]) else "solo"]
        if clf is None:
            continue
        x = store.load_array(s["features"])
        names = list(s["names"])
        missing = [names.index(n) for n in ("agent.missing", "target.missing", "missing") if n in names]
        ok = scorable_frames(x[:, missing])
        probs = predict_probabilities(clf, x)
        columns = []
        for b, p in probs.items():
            p = np.where(ok, p, np.nan)
            columns.append(p.astype(np.float32))
            predictions.append({"behavior": b, "agent": s["agent"], "target": s["target"], "probability": p,
                                "scorable": ok})
        arrays[s["series"]] = (list(probs), np.stack(columns, axis=1))
    return predictions, arrays
