"""Per-behaviour binary classifiers on pose features, their thresholds, and bouts from their output.

A :class:`LabelledSeries` is one animal or ordered pair of one recording:
features (frames x features) and a boolean label per frame per behaviour.
:func:`fit_classifier` trains one binary model per behaviour on the training
series (scikit-learn HistGradientBoosting by default, or RandomForest; both
take NaN features as they are) and, when validation series are given,
chooses each behaviour's probability threshold there to maximise frame F1.
:func:`predict_bouts` turns probabilities into bouts with the rule engine's
:func:`~pipeline.behavior.bouts.find_bouts` (minimum bout, gap merge, end exclusive).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..behavior.bouts import find_bouts
from .features import json_ready

ALGORITHMS = ("hist_gradient_boosting", "random_forest")
DEFAULTS = {
    "hist_gradient_boosting": {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31,
                               "min_samples_leaf": 20, "l2_regularization": 0.0, "early_stopping": False},
    "random_forest": {"n_estimators": 200, "min_samples_leaf": 5, "max_features": "sqrt", "n_jobs": 1},
}


@dataclass(frozen=True)
class ClassifierParams:
    """How classifiers are trained and their output post-processed (JSON-able, hashable).

    Parameters
    ----------
    algorithm : {"hist_gradient_boosting", "random_forest"}
    hyperparameters : mapping
        Passed to the scikit-learn estimator over :data:`DEFAULTS`.
    class_weight : {None, "balanced"}
        ``"balanced"`` weights each class by the inverse of its frequency. Not
        the default: the threshold chosen on validation data already corrects
        for a rare class, and with sample weights scikit-learn 1.9's
        HistGradientBoosting finds its bins by weighted percentiles, which
        made a fit 5-50x slower here.
    threshold : float, optional
        A fixed probability threshold for every behaviour; None chooses one per
        behaviour on the validation series (0.5 without them).
    min_bout_s, max_gap_s : float
        Post-processing into bouts (:func:`~pipeline.behavior.bouts.find_bouts`).
    frame_step : int
        Train on every ``frame_step``-th frame (neighbouring frames are near copies).
    negatives_per_positive : float, optional
        Random undersampling (as SimBA's): keep at most this many frames
        without the behaviour per frame with it (seeded); None keeps all.
    seed : int
        ``random_state`` of the estimator and of the undersampling.

    Examples
    --------
    >>> p = ClassifierParams(hyperparameters={"max_iter": 50})
    >>> ClassifierParams.from_dict(p.to_dict()) == p, p.estimator_options()["max_iter"]
    (True, 50)
    """

    algorithm: str = "hist_gradient_boosting"
    hyperparameters: tuple = field(default=())
    class_weight: str | None = None
    threshold: float | None = None
    min_bout_s: float = 0.2
    max_gap_s: float = 0.2
    frame_step: int = 1
    negatives_per_positive: float | None = None
    seed: int = 0

    def __post_init__(self):
        hp = self.hyperparameters
        items = hp.items() if isinstance(hp, Mapping) else hp
        object.__setattr__(self, "hyperparameters", tuple(sorted((str(k), v) for k, v in items)))
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.class_weight not in ("balanced", None):
            raise ValueError(f"class_weight must be 'balanced' or None, got {self.class_weight!r}")
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if int(self.frame_step) != self.frame_step or self.frame_step < 1:
            raise ValueError(f"frame_step must be a whole number >= 1, got {self.frame_step}")
        if self.negatives_per_positive is not None and not self.negatives_per_positive > 0:
            raise ValueError(f"negatives_per_positive must be > 0 or None, got {self.negatives_per_positive}")

    def estimator_options(self) -> dict:
        """The estimator's keyword arguments: defaults, then ``hyperparameters``."""
        return {**DEFAULTS[self.algorithm], **dict(self.hyperparameters), "random_state": self.seed,
                "class_weight": self.class_weight}

    def to_dict(self) -> dict:
        """Plain values, for JSON and content hashing."""
        d = dataclasses.asdict(self)
        d["hyperparameters"] = dict(self.hyperparameters)
        return json_ready(d)

    @classmethod
    def from_dict(cls, d: Mapping) -> ClassifierParams:
        """Inverse of :meth:`to_dict`."""
        return cls(**dict(d))


DEFAULT_PARAMS = ClassifierParams()


@dataclass(frozen=True)
class LabelledSeries:
    """Features and per-frame labels of one animal or ordered pair of one recording.

    Parameters
    ----------
    recording : str
        What splits go by: every series of a recording is on the same side.
    name : str
        Which animal or pair (``"m1>m2"``).
    features : ndarray, shape (frames, features)
    labels : mapping of str to ndarray of bool, shape (frames,)
        Per behaviour; a behaviour absent from the mapping is all False.
    fps : float
    """

    recording: str
    name: str
    features: np.ndarray
    labels: Mapping
    fps: float

    def label(self, behavior: str) -> np.ndarray:
        """Boolean labels of ``behavior`` (all False when unlabelled here)."""
        y = self.labels.get(behavior)
        return np.zeros(len(self.features), bool) if y is None else np.asarray(y, dtype=bool)


@dataclass(frozen=True)
class TrainedClassifier:
    """Per-behaviour models and thresholds.

    Attributes
    ----------
    models : dict of str to estimator
    thresholds : dict of str to float
    params : ClassifierParams
    validation_f1 : dict of str to float
        Frame F1 at the chosen threshold on the validation series (NaN without them).
    """

    models: dict
    thresholds: dict
    params: ClassifierParams
    validation_f1: dict

    @property
    def behaviors(self) -> tuple[str, ...]:
        return tuple(self.models)


def labels_from_bouts(bouts, *, agent: str, target: str | None = None, n_frames: int, frame_offset: int = 0,
                      behaviors: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Per-frame labels of one animal (or ordered pair) from a bout table.

    Parameters
    ----------
    bouts : DataFrame
        Columns ``behavior``, ``agent``, ``start_frame``, ``end_frame`` (end
        exclusive, video frames) and, for a pair, ``target``.
    agent : str, keyword-only
    target : str, optional, keyword-only
        The partner; None takes the agent's bouts whatever their target.
    n_frames, frame_offset : int, keyword-only
        The frames covered: ``[frame_offset, frame_offset + n_frames)``.
    behaviors : sequence of str, optional, keyword-only
        Default: every behaviour in ``bouts``; one without bouts here is all False.

    Returns
    -------
    dict of str to ndarray of bool, shape (n_frames,)

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"behavior": ["sniff", "sniff"], "agent": ["m1", "m2"], "target": ["m2", "m1"],
    ...                   "start_frame": [1, 2], "end_frame": [3, 4]})
    >>> labels_from_bouts(t, agent="m1", target="m2", n_frames=5)["sniff"].astype(int).tolist()
    [0, 1, 1, 0, 0]
    """
    from ..behavior.agreement import to_mask

    rows = bouts[bouts["agent"] == agent]
    if target is not None:
        rows = rows[rows["target"] == target]
    names = sorted(set(bouts["behavior"])) if behaviors is None else list(behaviors)
    return {b: to_mask(rows.loc[rows["behavior"] == b, ["start_frame", "end_frame"]].to_numpy(),
                       n_frames=n_frames, frame_offset=frame_offset) for b in names}


def make_estimator(params: ClassifierParams):
    """An unfitted scikit-learn estimator for ``params``."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    cls = HistGradientBoostingClassifier if params.algorithm == "hist_gradient_boosting" else RandomForestClassifier
    return cls(**params.estimator_options())


def fit_behavior(features: np.ndarray, labels: np.ndarray, *, params: ClassifierParams = ClassifierParams()):
    """Fit one binary model (label True = the behaviour) on frames x features.

    Raises
    ------
    ValueError
        The labels hold only one class.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(400, 3)); y = x[:, 0] > 0.5
    >>> m = fit_behavior(x, y, params=ClassifierParams(hyperparameters={"max_iter": 20}))
    >>> float(np.mean(m.predict(x) == y)) > 0.95
    True
    """
    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        raise ValueError(f"labels of {len(y)} frames are all {bool(y[0]) if len(y) else 'absent'}: "
                         "a binary model needs both classes")
    rows = training_rows(y, params=params)
    return make_estimator(params).fit(np.asarray(features)[rows], y[rows])


def training_rows(labels: np.ndarray, *, params: ClassifierParams) -> np.ndarray:
    """Indices of the frames a model is fitted on: every ``frame_step``-th, then undersampled.

    Examples
    --------
    >>> y = np.r_[np.ones(4, bool), np.zeros(96, bool)]
    >>> len(training_rows(y, params=ClassifierParams(frame_step=2, negatives_per_positive=3)))
    8
    """
    y = np.asarray(labels, dtype=bool)
    rows = np.arange(0, len(y), int(params.frame_step))
    if params.negatives_per_positive is None:
        return rows
    pos, neg = rows[y[rows]], rows[~y[rows]]
    keep = min(len(neg), int(np.ceil(params.negatives_per_positive * len(pos))))
    neg = np.random.default_rng(params.seed).choice(neg, size=keep, replace=False)
    return np.sort(np.r_[pos, neg])


def positive_probability(model, features: np.ndarray) -> np.ndarray:
    """P(behaviour) per frame from a fitted binary model."""
    return model.predict_proba(np.asarray(features))[:, list(model.classes_).index(True)]


def best_threshold(labels: np.ndarray, probability: np.ndarray) -> tuple[float, float]:
    """The probability threshold (``p >= threshold`` is the behaviour) with the highest frame F1.

    Returns
    -------
    (threshold, f1)
        The midpoint between the best probability cut and the next lower
        probability; ``(0.5, nan)`` when the labels hold no positive frame.

    Examples
    --------
    >>> t, f1 = best_threshold(np.array([0, 0, 1, 1, 0], bool), np.array([0.1, 0.3, 0.6, 0.9, 0.65]))
    >>> round(t, 6), f1
    (0.45, 0.8)
    """
    y = np.asarray(labels, dtype=bool)
    p = np.asarray(probability, dtype=np.float64)
    if not y.any():
        return 0.5, float("nan")
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    last = np.r_[ps[1:] != ps[:-1], True]  # cut after each run of equal probabilities
    tp = np.cumsum(ys)[last]
    n_pred = np.flatnonzero(last) + 1
    f1 = 2 * tp / (n_pred + y.sum())
    i = int(np.argmax(f1))
    cut = np.flatnonzero(last)[i]
    below = ps[cut + 1] if cut + 1 < len(ps) else 0.0
    return float((ps[cut] + below) / 2), float(f1[i])


def stack(series: Sequence[LabelledSeries], behavior: str | None = None):
    """Features of several series one under the other, with the labels of ``behavior``."""
    if not series:
        raise ValueError("no series given")
    x = np.concatenate([s.features for s in series])
    y = None if behavior is None else np.concatenate([s.label(behavior) for s in series])
    return x, y


def fit_classifier(train: Sequence[LabelledSeries], validation: Sequence[LabelledSeries] = (), *,
                   behaviors: Sequence[str] | None = None,
                   params: ClassifierParams = ClassifierParams()) -> TrainedClassifier:
    """Train one binary model per behaviour; choose thresholds on ``validation``.

    Parameters
    ----------
    train : sequence of LabelledSeries
    validation : sequence of LabelledSeries, optional
        Must share no recording with ``train``.
    behaviors : sequence of str, optional, keyword-only
        Default: every behaviour labelled in ``train``, sorted.
    params : ClassifierParams, keyword-only

    Returns
    -------
    TrainedClassifier
    """
    overlap = {s.recording for s in train} & {s.recording for s in validation}
    if overlap:
        raise ValueError(f"recordings {sorted(overlap)} are in both the training and the validation series")
    behaviors = sorted({b for s in train for b in s.labels}) if behaviors is None else list(behaviors)
    x, _ = stack(train)
    xv = stack(validation)[0] if validation else None
    models, thresholds, scores = {}, {}, {}
    for b in behaviors:
        models[b] = fit_behavior(x, stack(train, b)[1], params=params)
        thresholds[b], scores[b] = (params.threshold or 0.5), float("nan")
        if xv is not None:
            t, f1 = best_threshold(stack(validation, b)[1], positive_probability(models[b], xv))
            thresholds[b], scores[b] = (params.threshold, f1) if params.threshold else (t, f1)
    return TrainedClassifier(models=models, thresholds=thresholds, params=params, validation_f1=scores)


def predict_probabilities(classifier: TrainedClassifier, features: np.ndarray) -> dict[str, np.ndarray]:
    """P(behaviour) per frame for every behaviour of the classifier.

    The features are made float64 and column-major once for all models (the
    estimators would each convert float32, and row-major input predicted
    4x slower than column-major here).
    """
    x = np.asfortranarray(features, dtype=np.float64)
    return {b: positive_probability(m, x) for b, m in classifier.models.items()}


def predict_bouts(probability: np.ndarray, *, threshold: float, fps: float, min_bout_s: float,
                  max_gap_s: float) -> np.ndarray:
    """Bouts ``[start, end)`` (frames, end exclusive) where ``probability >= threshold``.

    Gaps of at most ``max_gap_s`` are merged, then bouts shorter than
    ``min_bout_s`` dropped (:func:`~pipeline.behavior.bouts.find_bouts`).
    NaN probabilities are never the behaviour.

    Examples
    --------
    >>> p = np.r_[np.zeros(5), np.full(10, 0.9), 0.2, np.full(10, 0.8), np.zeros(3), 0.9]
    >>> predict_bouts(p, threshold=0.5, fps=30, min_bout_s=0.1, max_gap_s=0.05).tolist()
    [[5, 26]]
    """
    p = np.asarray(probability, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        on = p >= threshold
    b = find_bouts(on, fps=fps, min_bout_s=min_bout_s, max_gap_s=max_gap_s)
    return b[["start_frame", "end_frame"]].to_numpy(np.int64)


def classifier_bouts(classifier: TrainedClassifier, features: np.ndarray, *, fps: float) -> dict[str, np.ndarray]:
    """Post-processed bouts of every behaviour, with the classifier's thresholds and bout settings."""
    p = classifier.params
    return {b: predict_bouts(prob, threshold=classifier.thresholds[b], fps=fps, min_bout_s=p.min_bout_s,
                             max_gap_s=p.max_gap_s)
            for b, prob in predict_probabilities(classifier, features).items()}
