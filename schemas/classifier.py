"""Supervised behaviour classifiers: parameter sets, training sets of human labels, and training.

- :class:`ClassifierParamSet`: content-hashed algorithm, hyper-parameters,
  class weighting, feature set and post-processing (threshold, minimum bout,
  gap merge; time bins of the predicted summaries).
- :class:`ClassifierTrainingSet`: annotation sets (one per recording) of one
  ethogram, each with the pose version its features come from, split **by
  recording** into train / validation / test (and train into k folds), seeded.
- :class:`Classifier`: a name for one training set under one parameter set.
- :class:`ClassifierTraining`: one model per behaviour, trained on the train
  recordings, thresholds chosen on the validation ones to maximise frame F1;
  the models are one file in the store with its sha256, loaded only after the
  sha256 is checked. Per-fold metrics (k folds over the train recordings) in
  ``Fold``.

Evaluation and prediction are in :mod:`schemas.prediction`; the computation in
:mod:`pipeline.classify`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import datajoint as dj

from pipeline import provenance
from pipeline.errors import InputError
from pipeline.manifest_values import safe_id

from . import store, versions
from .annotation import AnnotationSet, Ethogram
from .features import FeatureParamSet, PoseFeatures

schema = dj.Schema()


@schema
class ClassifierParamSet(dj.Lookup):
    """One row: one content-hashed way of training classifiers and post-processing their output.

    ``params`` = ``{"classifier": ClassifierParams.to_dict(), "bin_s", "n_bins"}``;
    the feature set is part of the hash.
    """

    definition = """
    classifier_params : char(36)        # uuid of the canonical JSON of params and the feature set
    ---
    classifier_params_name : varchar(64)
    -> FeatureParamSet
    params : json
    """

    @classmethod
    def add(cls, name: str = "default", params=None, *, feature_set: str = "default", bin_s: float = 60.0,
            n_bins: int = 3) -> str:
        """Insert (idempotently) a parameter set and return its id; ``feature_set`` by id or name.

        Raises
        ------
        InputError
            Invalid parameters, an unknown feature set, or a name another parameter set has.
        """
        from pipeline.classify.train import ClassifierParams  # (scipy: not at import)

        try:
            params = params if isinstance(params, ClassifierParams) else ClassifierParams(**dict(params or {}))
        except (TypeError, ValueError) as err:
            raise InputError(f"classifier parameters {name!r}", str(err)) from None
        if not name or len(name) > 64:
            raise InputError("classifier parameters", f"a name has 1 to 64 characters, got {name!r}")
        if not (float(bin_s) > 0 and int(n_bins) >= 1):
            raise InputError(f"classifier parameters {name!r}", f"bin_s must be > 0 and n_bins ≥ 1, got {bin_s}, "
                                                                f"{n_bins}")
        fs = FeatureParamSet.resolve(feature_set)
        values = {"classifier": params.to_dict(), "bin_s": float(bin_s), "n_bins": int(n_bins)}
        ident = provenance.params_hash({"params": values, "feature_set": fs})
        other = ((cls & {"classifier_params_name": name}) - {"classifier_params": ident}).to_arrays("classifier_params")
        if len(other):
            raise InputError(f"classifier parameters {name!r}", f"the name is taken by {other[0]} with other "
                                                                "parameters; choose another name")
        cls.insert1({"classifier_params": ident, "classifier_params_name": name, "feature_set": fs,
                     "params": values}, skip_duplicates=True)
        return ident

    @classmethod
    def resolve(cls, name: str) -> str:
        """The id of a parameter set given by id or name."""
        rows = (cls & [{"classifier_params": name}, {"classifier_params_name": name}]).to_arrays("classifier_params")
        if len(rows) != 1:
            known = sorted(cls.to_arrays("classifier_params_name"))
            raise InputError("classifier parameters", f"{len(rows)} parameter sets have the id or name {name!r}; "
                                                      f"known: {known}")
        return str(rows[0])


@schema
class ClassifierTrainingSet(dj.Manual):
    """One row: labelled recordings of one ethogram, split by recording, to train and test classifiers on.

    ``split`` keeps how the recordings were split (fractions, seed, folds);
    the ``Recording`` parts keep the result, so an audit reads which
    recording was in which part.
    """

    definition = """
    training_set : varchar(64)
    ---
    -> Ethogram
    behaviors : json                    # the behaviours trained (of the ethogram)
    pose_kind : varchar(64)             # raw | corrected | 3d | filtered:NAME: the pose versions features come from
    split : json                        # {validation, test, seed, k_folds, learning_curve}
    provenance : json
    """

    class Recording(dj.Part):
        """One row: one annotation set (one recording) of the training set, its pose version and its part."""

        definition = """
        -> master
        -> AnnotationSet
        ---
        -> versions.PoseVersion         # of the annotation set's session: where the features come from
        part : varchar(16)              # train | validation | test
        fold = null : int16             # 0..k-1 for train recordings when k_folds > 1
        """

    @classmethod
    def create(cls, name: str, annotation_sets, *, behaviors=None, pose_kind: str = "raw", validation: float = 0.2,
               test: float = 0.2, seed: int = 0, k_folds: int = 0, learning_curve=None,
               pose_versions: dict | None = None) -> str:
        """Create a training set from annotation sets (keys or a restriction of AnnotationSet); return its name.

        Parameters
        ----------
        name : str
        annotation_sets : restriction of :class:`AnnotationSet`
            One per recording, all of one ethogram.
        behaviors : sequence of str, optional, keyword-only
            Default: every behaviour of the ethogram.
        pose_kind : str, keyword-only
            Which pose version of each recording the features come from.
        validation, test, seed, k_folds : keyword-only
            The split by recording (:func:`pipeline.classify.splits.split_recordings`).
        learning_curve : sequence of int, optional, keyword-only
            Numbers of training recordings for the learning curve (default: 1, n/4, n/2, n).
        pose_versions : mapping, optional, keyword-only
            ``"SESSION/CAMERA" -> pose_version`` where a recording has several versions of that kind.

        Raises
        ------
        InputError
            An existing name with other contents, no annotation set, two sets on
            one recording, several ethograms, unknown behaviours, a recording
            without (or with several) pose versions of that kind, or a split
            the recordings cannot make.
        """
        from pipeline.classify import training_data as td

        name = safe_id(name, "training set", "training set", "training_set")
        if isinstance(annotation_sets, dj.expression.QueryExpression):
            annotation_sets = annotation_sets.proj()  # restrict by the primary key only
        sets = (AnnotationSet & annotation_sets).proj("ethogram").to_dicts()
        plan = td.plan_training_set(sets, name=name, behaviors=behaviors, pose_kind=pose_kind,
                                    ethogram_behaviors=_ethogram_behaviors(sets), versions=_versions(sets, pose_kind),
                                    chosen=pose_versions or {}, split={"validation": validation, "test": test,
                                                                       "seed": seed, "k_folds": k_folds,
                                                                       "learning_curve": learning_curve})
        if cls & {"training_set": name}:
            have = (cls.Recording & {"training_set": name}).proj("pose_version", "part", "fold").to_dicts()
            if sorted(map(str, have)) != sorted(map(str, plan["parts"])):
                raise InputError(f"training set {name!r}", "exists with other recordings or another split; "
                                                           "choose another name")
            return name
        with cls.connection.transaction:
            cls.insert1(plan["master"])
            cls.Recording.insert(plan["parts"])
        return name


def _ethogram_behaviors(sets: list[dict]) -> dict[str, dict[str, bool]]:
    names = sorted({s["ethogram"] for s in sets})
    rows = (Ethogram.Behavior & [{"ethogram": n} for n in names]).to_dicts() if names else []
    return {n: {r["behavior"]: bool(r["directed"]) for r in rows if r["ethogram"] == n} for n in names}


def _versions(sets: list[dict], pose_kind: str) -> dict[str, list[str]]:
    """``SESSION/CAMERA`` -> the pose versions of that kind of each annotated recording."""
    versions.PoseVersion.sync()
    chosen = versions.selection(pose_kind)
    out = {}
    for s in sets:
        have = (chosen & {"session": s["session"]}).to_arrays("pose_version")
        out[f"{s['session']}/{s['camera']}"] = sorted(
            str(v) for v in have if str(v).startswith(f"{s['camera']}/") or str(v).startswith("3d:"))
    return out


@schema
class Classifier(dj.Manual):
    """One row: a named classifier = one training set under one parameter set (trained by ClassifierTraining)."""

    definition = """
    classifier : varchar(64)
    ---
    -> ClassifierTrainingSet
    -> ClassifierParamSet
    description = '' : varchar(1024)
    """

    @classmethod
    def add(cls, name: str, *, training_set: str, params: str = "default", description: str = "") -> str:
        """Insert a classifier (idempotent); ``params`` by id or name. Another definition under the name is an error."""
        name = safe_id(name, "classifier", "classifier", "classifier")
        if not ClassifierTrainingSet & {"training_set": training_set}:
            raise InputError(f"classifier {name!r}", f"no training set {training_set!r}")
        row = {"classifier": name, "training_set": training_set,
               "classifier_params": ClassifierParamSet.resolve(params), "description": description}
        if cls & {"classifier": name}:
            have = (cls & {"classifier": name}).fetch1()
            if (have["training_set"], have["classifier_params"]) != (training_set, row["classifier_params"]):
                raise InputError(f"classifier {name!r}", "exists with another training set or parameters")
            return name
        cls.insert1(row)
        return name


@schema
class ClassifierTraining(dj.Computed):
    """One row: the trained models of one classifier (one file in the store, with its sha256).

    Parts: ``Behavior`` (threshold chosen on the validation recordings, and
    how many frames trained it) and ``Fold`` (metrics of k-fold
    cross-validation over the train recordings, when the training set asks
    for folds).
    """

    definition = """
    -> Classifier
    ---
    model : <object@ethojoint>          # one model file (skops or joblib)
    model_sha256 : char(64)             # checked before the file is loaded
    n_train_recordings : int32
    n_validation_recordings : int32
    provenance : json                   # params, feature set, recordings and parts, annotation files' sha256
    """

    class Behavior(dj.Part):
        """One row: one behaviour's model: threshold, validation F1, training frames."""

        definition = """
        -> master
        behavior : varchar(32)
        ---
        directed : bool
        threshold : float64             # P(behaviour) >= threshold is the behaviour
        validation_f1 = null : float64  # frame F1 at the threshold on the validation recordings
        n_train_frames : int32
        n_positive_frames : int32
        """

    class Fold(dj.Part):
        """One row: one behaviour in one fold of the k-fold cross-validation over the train recordings."""

        definition = """
        -> master
        fold : int16
        behavior : varchar(32)
        ---
        n_test_recordings : int32
        f1 = null : float64
        precision = null : float64
        recall = null : float64
        auroc = null : float64
        bout_f1 = null : float64
        """

    @property
    def key_source(self):
        needed = (Classifier * ClassifierTrainingSet.Recording * ClassifierParamSet.proj("feature_set")).proj(
            "pose_version", "feature_set")
        lacking = needed - PoseFeatures.proj()
        return Classifier.proj() - lacking.proj()

    def make_fetch(self, key):
        """The training set's recordings with their feature arrays (store metadata) and labels (bouts)."""
        return (fetch_inputs(key),)

    def make_compute(self, key, given):
        """Train, choose thresholds, cross-validate the folds, and upload the model file (no database access)."""
        from pipeline.classify import training_data as td

        started = provenance.now()
        result = td.train_classifier(load_features(given))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{key['classifier']}{td.model_suffix()}"
            sha = td.save_models(result["classifier"], path)
            meta = store.upload(ClassifierTraining, key, "model", path)
        prov = provenance.record(started=started, inputs=given["inputs"], params=given["params"],
                                 feature_set=given["feature_set"], recordings=given["parts"])
        master = dict(key, model=meta, model_sha256=sha, n_train_recordings=result["n_train"],
                      n_validation_recordings=result["n_validation"], provenance=prov)
        return master, [dict(key, **b) for b in result["behaviors"]], [dict(key, **f) for f in result["folds"]]

    def make_insert(self, key, master, behaviors, folds):
        with store.removed_on_error(master["model"]):
            self.insert1(master)
            self.Behavior.insert(behaviors)
            self.Fold.insert(folds)


def fetch_inputs(key) -> dict:
    """Everything training or evaluating a classifier needs, small (arrays as store metadata)."""
    clf = (Classifier * ClassifierTrainingSet * ClassifierParamSet & key).fetch1()
    directed = {r["behavior"]: bool(r["directed"]) for r in (Ethogram.Behavior & {"ethogram": clf["ethogram"]})
                .to_dicts() if r["behavior"] in clf["behaviors"]}
    recordings = []
    for rec in (ClassifierTrainingSet.Recording & {"training_set": clf["training_set"]}).to_dicts(
            order_by=["session", "camera"]):
        ann = {k: rec[k] for k in ("session", "camera", "annotator", "label_set")}
        feat = {"session": rec["session"], "pose_version": rec["pose_version"], "feature_set": clf["feature_set"]}
        series = [store.small(s) for s in (PoseFeatures.Series & feat).to_dicts(order_by="series")]
        bouts = (AnnotationSet.Bout & ann).proj("behavior", "agent", "target", "start_frame", "end_frame",
                                                "is_point").to_dicts(order_by="bout_index")
        master = (PoseFeatures & feat).proj("n_frames", "frame_offset", "fps").fetch1()
        master = {k: master[k] for k in ("n_frames", "frame_offset", "fps")}
        sha = (AnnotationSet & ann).fetch1("file_sha256")
        recordings.append(dict(ann, pose_version=rec["pose_version"], part=rec["part"], fold=rec["fold"],
                               series=series, bouts=bouts, file_sha256=sha, **master))
    return {"classifier": clf["classifier"], "params": clf["params"], "feature_set": clf["feature_set"],
            "directed": directed, "split": clf["split"], "recordings": recordings,
            "parts": [{k: r[k] for k in ("session", "camera", "annotator", "label_set", "pose_version", "part",
                                         "fold")} for r in recordings],
            "inputs": {f"annotation {r['session']}/{r['camera']}/{r['annotator']}/{r['label_set']}": r["file_sha256"]
                       for r in recordings}}


def load_features(given: dict) -> dict:
    """``given`` with each series' feature array read from the store (no database)."""
    recordings = [dict(r, series=[dict(s, features=store.load_array(s["features"])) for s in r["series"]])
                  for r in given["recordings"]]
    return dict(given, recordings=recordings)
