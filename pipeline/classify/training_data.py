"""Training sets and trained classifiers as plain values (for :mod:`schemas.classifier`; no database).

A recording of a training set gives one :class:`~.train.LabelledSeries` per
series (:mod:`.series`): solo behaviours are trained on animal series,
directed ones on pair series, so a trained classifier is two groups of
per-behaviour models. The model file holds only the scikit-learn estimators
(``{behavior: estimator}``); thresholds and parameters live in the database
rows and are joined back by :func:`classifier_from`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .evaluate import evaluate_classifier
from .modelfile import SUFFIX, load_model, save_model
from .series import check_bouts, is_pair, series_labels
from .splits import kfold_recordings, split_recordings
from .train import ClassifierParams, LabelledSeries, TrainedClassifier, fit_classifier

PARTS = ("train", "validation", "test")


def recording_name(rec: Mapping) -> str:
    """``SESSION/CAMERA``: what splits go by."""
    return f"{rec['session']}/{rec['camera']}"


def default_curve(n_train: int) -> list[int]:
    """Learning-curve sizes: 1, n/4, n/2 and n training recordings (distinct).

    Examples
    --------
    >>> default_curve(8), default_curve(1)
    ([1, 2, 4, 8], [1])
    """
    return sorted({max(1, n_train // 4), max(1, n_train // 2), 1, n_train})


def plan_training_set(sets: Sequence[Mapping], *, name: str, behaviors, pose_kind: str,
                      ethogram_behaviors: Mapping[str, Mapping[str, bool]], versions: Mapping[str, Sequence[str]],
                      chosen: Mapping[str, str], split: Mapping) -> dict:
    """The master and part rows of a training set, checked (:meth:`schemas.classifier.ClassifierTrainingSet.create`).

    Raises
    ------
    InputError
        Naming the training set and the problem.
    """
    where = f"training set {name!r}"
    if not sets:
        raise InputError(where, "no annotation set matched")
    names = [recording_name(s) for s in sets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(where, f"recording(s) {twice} have several annotation sets: choose one per recording")
    ethograms = sorted(ethogram_behaviors)
    if len(ethograms) != 1:
        raise InputError(where, f"the annotation sets use {len(ethograms)} ethograms {ethograms}: use one")
    known = dict(ethogram_behaviors[ethograms[0]])
    wanted = sorted(known) if not behaviors else list(dict.fromkeys(behaviors))
    unknown = [b for b in wanted if b not in known]
    if unknown:
        raise InputError(where, f"behaviour(s) {unknown} are not in ethogram {ethograms[0]!r} ({sorted(known)})")
    parts = _split(names, split, where)
    rows = []
    for s, rec in zip(sets, names):
        rows.append({"training_set": name, **{k: s[k] for k in ("session", "camera", "annotator", "label_set")},
                     "pose_version": _version(rec, versions.get(rec, []), chosen, pose_kind, where), **parts[rec]})
    n_train = sum(r["part"] == "train" for r in rows)
    curve = sorted({int(n) for n in split.get("learning_curve") or default_curve(n_train)})
    if any(not 1 <= n <= n_train for n in curve):
        raise InputError(where, f"learning-curve sizes {curve} must be between 1 and the {n_train} train recordings")
    plan = {k: split[k] for k in ("validation", "test", "seed", "k_folds")} | {"learning_curve": curve}
    master = {"training_set": name, "ethogram": ethograms[0], "behaviors": wanted, "pose_kind": pose_kind,
              "split": plan,
              "provenance": {"annotation_sets": [dict(s) for s in sets], "chosen_versions": dict(chosen)}}
    return {"master": master, "parts": rows}


def _version(rec: str, have: Sequence[str], chosen: Mapping[str, str], pose_kind: str, where: str) -> str:
    if rec in chosen:
        if chosen[rec] not in have:
            raise InputError(where, f"{rec}: pose version {chosen[rec]!r} is not one of its {pose_kind} versions "
                                    f"{list(have)}")
        return chosen[rec]
    if len(have) != 1:
        what = "no" if not have else f"{len(have)}"
        raise InputError(where, f"{rec} has {what} {pose_kind} pose versions {list(have)}: "
                                "choose one (pose_versions={'SESSION/CAMERA': VERSION})")
    return have[0]


def _split(names: Sequence[str], split: Mapping, where: str) -> dict[str, dict]:
    try:
        parts = split_recordings(names, validation=float(split["validation"]), test=float(split["test"]),
                                 seed=int(split["seed"]))
        k = int(split.get("k_folds") or 0)
        folds = kfold_recordings(parts["train"], k=k, seed=int(split["seed"])) if k > 1 else []
    except ValueError as err:
        raise InputError(where, str(err)) from None
    fold_of = {n: f for f, fold in enumerate(folds) for n in fold["test"]}
    return {n: {"part": part, "fold": fold_of.get(n)} for part in PARTS for n in parts[part]}


def labelled_series(recordings: Sequence[Mapping], directed: Mapping[str, bool]) -> list[tuple[dict, LabelledSeries]]:
    """``(recording row, series)`` for every series of every recording, labelled from its bouts.

    ``recordings`` rows have ``session, camera, annotator, label_set, part,
    fold, n_frames, frame_offset, fps, bouts`` and ``series`` (rows with
    ``series, agent, target, features`` as arrays).
    """
    out = []
    for rec in recordings:
        animals = [s for s in rec["series"] if not is_pair(s["series"])]
        source = f"annotation set {recording_name(rec)}/{rec['annotator']}/{rec['label_set']}"
        bouts = check_bouts(pd.DataFrame(rec["bouts"], columns=["behavior", "agent", "target", "start_frame",
                                                                "end_frame", "is_point"]),
                            directed=directed, n_animals=len(animals), source=source)
        for s in rec["series"]:
            labels = series_labels(bouts, agent=s["agent"], target=s["target"], directed=directed,
                                   n_frames=int(rec["n_frames"]), frame_offset=int(rec["frame_offset"]))
            out.append((rec, LabelledSeries(recording=recording_name(rec), name=s["series"],
                                            features=np.asarray(s["features"]), labels=labels, fps=float(rec["fps"]))))
    return out


def groups(directed: Mapping[str, bool]) -> dict[str, list[str]]:
    """Behaviours per series kind: ``{"solo": [...], "pair": [...]}`` (sorted)."""
    return {"solo": sorted(b for b, d in directed.items() if not d),
            "pair": sorted(b for b, d in directed.items() if d)}


def _of(series, kind: str, part: str | None = None, fold=None, not_fold=None):
    return [s for rec, s in series if is_pair(s.name) == (kind == "pair") and (part is None or rec["part"] == part)
            and (fold is None or rec["fold"] == fold) and (not_fold is None or rec["fold"] != not_fold)]


def train_classifier(given: Mapping) -> dict:
    """Train every behaviour's model on the train recordings, thresholds on the validation ones; fold metrics.

    Returns
    -------
    dict
        ``classifier`` ({"solo", "pair"} -> TrainedClassifier or None),
        ``behaviors`` and ``folds`` (part rows), ``n_train``, ``n_validation``.

    Raises
    ------
    InputError
        A behaviour with no labelled frame in the train recordings.
    """
    params = ClassifierParams.from_dict(given["params"]["classifier"])
    series = labelled_series(given["recordings"], given["directed"])
    trained, rows = {}, []
    for kind, behaviors in groups(given["directed"]).items():
        train, val = _of(series, kind, "train"), _of(series, kind, "validation")
        trained[kind] = _fit(train, val, behaviors, params, given["classifier"]) if behaviors else None
        for b in behaviors:
            rows.append({"behavior": b, "directed": kind == "pair", "threshold": trained[kind].thresholds[b],
                         "validation_f1": _finite(trained[kind].validation_f1[b]),
                         "n_train_frames": int(sum(len(s.features) for s in train)),
                         "n_positive_frames": int(sum(s.label(b).sum() for s in train))})
    parts = {r["part"] for r in given["recordings"]}
    n = {p: len({recording_name(r) for r in given["recordings"] if r["part"] == p}) for p in parts}
    return {"classifier": trained, "behaviors": rows, "folds": _folds(series, given, params),
            "n_train": n.get("train", 0), "n_validation": n.get("validation", 0)}


def _fit(train, val, behaviors, params, name):
    empty = [b for b in behaviors if not any(s.label(b).any() for s in train)]
    if not train or empty:
        raise InputError(f"classifier {name!r}", f"behaviour(s) {empty or behaviors} have no labelled frame in the "
                                                 "train recordings: label more, or leave them out of the training set")
    return fit_classifier(train, val, behaviors=behaviors, params=params)


def _folds(series, given: Mapping, params: ClassifierParams) -> list[dict]:
    k = int(given["split"].get("k_folds") or 0)
    rows = []
    for fold in range(k if k > 1 else 0):
        for kind, behaviors in groups(given["directed"]).items():
            train = _of(series, kind, "train", not_fold=fold)
            test = _of(series, kind, "train", fold=fold)
            present = [b for b in behaviors if any(s.label(b).any() for s in train)]
            if not present or not test:
                continue
            clf = fit_classifier(train, _of(series, kind, "validation"), behaviors=present, params=params)
            table = evaluate_classifier(clf, test).per_behavior
            n_test = len({s.recording for s in test})
            rows += [{"fold": fold, "behavior": r["behavior"], "n_test_recordings": n_test,
                      **{m: _finite(r[m]) for m in ("f1", "precision", "recall", "auroc", "bout_f1")}}
                     for r in table.to_dict("records")]
    return rows


def _finite(x):
    return float(x) if x is not None and np.isfinite(x) else None


def model_suffix() -> str:
    """``.skops`` when skops is installed, else ``.joblib``."""
    return SUFFIX


def save_models(trained: Mapping, path) -> str:
    """Write the estimators of a trained classifier (``{"solo": {b: est}, "pair": {...}}``); return the sha256."""
    return save_model({k: dict(v.models) if v else {} for k, v in trained.items()}, path)


def classifier_from(path, *, sha256: str, behaviors: Sequence[Mapping], params: Mapping) -> dict:
    """``{"solo", "pair"} -> TrainedClassifier or None`` from the model file (sha256 checked) and the Behavior rows."""
    models = load_model(path, sha256=sha256)
    p = ClassifierParams.from_dict(params["classifier"])
    out = {}
    for kind in ("solo", "pair"):
        rows = [b for b in behaviors if bool(b["directed"]) == (kind == "pair")]
        out[kind] = TrainedClassifier(models={b["behavior"]: models[kind][b["behavior"]] for b in rows},
                                      thresholds={b["behavior"]: float(b["threshold"]) for b in rows}, params=p,
                                      validation_f1={b["behavior"]: b.get("validation_f1") for b in rows}) \
            if rows else None
    return out
