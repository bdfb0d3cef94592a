"""Cross-validation over time blocks, its circular-shift permutation baseline, and learning curves.

One recording: :func:`cross_validate_blocks` trains on contiguous time blocks
and predicts the held-out block (never random frames: neighbouring frames are
near copies). :func:`circular_shift_test` asks whether that beats chance:
the labels are shifted circularly against the features by many offsets
(which keeps their bout structure and autocorrelation but breaks their
relation to the pose), the whole cross-validation is rerun on each, and
``p = (1 + #{null >= observed}) / (1 + n_offsets)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .evaluate import evaluate_classifier, frame_metrics
from .splits import block_folds
from .train import (
    DEFAULT_PARAMS,
    ClassifierParams,
    LabelledSeries,
    best_threshold,
    fit_behavior,
    fit_classifier,
    positive_probability,
)


def cross_validate_blocks(features: np.ndarray, labels: np.ndarray, *, k: int = 5, gap_frames: int = 0,
                          params: ClassifierParams = DEFAULT_PARAMS) -> dict:
    """Blocked cross-validation of one behaviour over the frames of one recording.

    Each of ``k`` contiguous blocks is the test block once; the block after it
    (cyclically) chooses the threshold (F1-maximising, unless
    ``params.threshold`` is set; 0.5 when that block holds no labelled
    frame) and the other blocks, less ``gap_frames``
    around the held-out ones, train (:func:`~.splits.block_folds`).

    Parameters
    ----------
    features : ndarray, shape (frames, features)
    labels : ndarray of bool, shape (frames,)
    k, gap_frames : int, keyword-only
    params : ClassifierParams, keyword-only

    Returns
    -------
    dict
        ``probability`` (out-of-fold, per frame), ``predicted`` (thresholded
        per fold), ``folds`` (DataFrame: per fold its threshold and
        :func:`~.evaluate.frame_metrics`), ``f1`` and ``auroc`` over all
        out-of-fold frames, and ``metrics`` (all pooled frame measures).
    """
    y = np.asarray(labels, dtype=bool)
    prob, pred, rows = np.full(len(y), np.nan), np.zeros(len(y), bool), []
    for i, fold in enumerate(block_folds(len(y), k=k, gap_frames=gap_frames)):
        model = fit_behavior(features[fold["train"]], y[fold["train"]], params=params)
        threshold = params.threshold or best_threshold(
            y[fold["validation"]], positive_probability(model, features[fold["validation"]]))[0]
        test = fold["test"]
        prob[test] = positive_probability(model, features[test])
        pred[test] = prob[test] >= threshold
        rows.append({"fold": i, "threshold": threshold, **frame_metrics(y[test], prob[test], threshold=threshold)})
    pooled = _pooled(y, pred, prob)
    return {"probability": prob, "predicted": pred, "folds": pd.DataFrame(rows), "f1": pooled["f1"],
            "auroc": pooled["auroc"], "metrics": pooled}


def _pooled(y: np.ndarray, pred: np.ndarray, prob: np.ndarray) -> dict:
    """Frame measures of the per-fold thresholded predictions, AUROC / PR-AUC of the pooled probabilities."""
    from ..behavior.agreement import frame_agreement

    ranked = frame_metrics(y, prob, threshold=0.5)
    return frame_agreement(y, pred) | {"auroc": ranked["auroc"], "pr_auc": ranked["pr_auc"]}


def shift_offsets(n_frames: int, *, n: int = 24, margin: float = 0.1) -> np.ndarray:
    """``n`` circular shifts evenly spread over ``[margin, 1 - margin]`` of the recording.

    Examples
    --------
    >>> shift_offsets(1000, n=4).tolist()
    [100, 367, 633, 900]
    """
    if not 0 < margin < 0.5 or n < 1:
        raise ValueError(f"need n >= 1 and 0 < margin < 0.5, got n={n}, margin={margin}")
    return np.unique(np.round(np.linspace(margin, 1 - margin, n) * n_frames).astype(np.int64))


def circular_shift_test(features: np.ndarray, labels: np.ndarray, *, offsets: Sequence[int], k: int = 5,
                        gap_frames: int = 0, params: ClassifierParams = DEFAULT_PARAMS) -> dict:
    """Blocked cross-validation on the true labels and on circularly shifted ones.

    Returns
    -------
    dict
        ``observed`` (the :func:`cross_validate_blocks` result), ``null``
        (DataFrame: ``offset``, ``f1``, ``auroc`` per shift), ``p_f1`` and
        ``p_auroc``: ``(1 + #{null >= observed}) / (1 + len(offsets))``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.zeros(400, bool)
    >>> for s in rng.choice(np.arange(0, 380, 20), 8, replace=False): y[s:s + 12] = True
    >>> x = rng.normal(size=(400, 2)); x[y, 0] += 2.0
    >>> r = circular_shift_test(x, y, offsets=shift_offsets(400, n=4), k=5,
    ...                         params=ClassifierParams(algorithm="random_forest",
    ...                                                 hyperparameters={"n_estimators": 10}))
    >>> r["p_f1"], r["p_auroc"]  # the smallest p that 4 shifts allow
    (0.2, 0.2)
    """
    y = np.asarray(labels, dtype=bool)
    observed = cross_validate_blocks(features, y, k=k, gap_frames=gap_frames, params=params)
    null = []
    for off in offsets:
        r = cross_validate_blocks(features, np.roll(y, int(off)), k=k, gap_frames=gap_frames, params=params)
        null.append({"offset": int(off), "f1": r["f1"], "auroc": r["auroc"]})
    null = pd.DataFrame(null, columns=["offset", "f1", "auroc"])
    p = {f"p_{m}": (1 + int(np.sum(null[m].to_numpy() >= observed[m]))) / (1 + len(null)) for m in ("f1", "auroc")}
    return {"observed": observed, "null": null, **p}


def learning_curve(train: Sequence[LabelledSeries], test: Sequence[LabelledSeries], *, sizes: Sequence[int],
                   validation: Sequence[LabelledSeries] = (), behaviors: Sequence[str] | None = None,
                   params: ClassifierParams = DEFAULT_PARAMS, seed: int = 0) -> pd.DataFrame:
    """Held-out F1 against the number of labelled training recordings (DeepEthogram Fig. 6).

    The training recordings are put in one seeded random order and the first
    ``n`` of them used for each ``n`` in ``sizes`` (nested subsets). A
    behaviour with no labelled frame in a subset gets no model (NaN measures).

    Returns
    -------
    DataFrame
        ``n_recordings``, ``n_frames``, ``behavior``, ``f1``, ``auroc``,
        ``bout_f1`` (pooled over ``test``).
    """
    names = sorted({s.recording for s in train})
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    wanted = sorted({b for s in train for b in s.labels}) if behaviors is None else list(behaviors)
    rows = []
    for n in sizes:
        if not 1 <= n <= len(names):
            raise ValueError(f"size {n} is not between 1 and the {len(names)} training recordings")
        chosen = set(order[:n])
        subset = [s for s in train if s.recording in chosen]
        present = [b for b in wanted if any(s.label(b).any() for s in subset)]
        per = _behavior_rows(subset, validation, test, present, params)
        frames = sum(len(s.features) for s in subset)
        rows += [{"n_recordings": n, "n_frames": frames, "behavior": b,
                  **per.get(b, {"f1": np.nan, "auroc": np.nan, "bout_f1": np.nan})} for b in wanted]
    return pd.DataFrame(rows)


def _behavior_rows(subset, validation, test, behaviors, params) -> dict:
    if not behaviors:
        return {}
    clf = fit_classifier(subset, validation, behaviors=behaviors, params=params)
    table = evaluate_classifier(clf, test).per_behavior.set_index("behavior")
    return {b: {m: float(table.loc[b, m]) for m in ("f1", "auroc", "bout_f1")} for b in behaviors}

