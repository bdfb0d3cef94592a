"""How well a classifier does on held-out data: frame, bout and bout-statistic measures.

Per behaviour: accuracy, precision, recall, F1 and Cohen's kappa of the
thresholded frames (:func:`~pipeline.behavior.agreement.frame_agreement`),
AUROC and PR-AUC (average precision) of the probabilities, bout-level
precision/recall/F1 of the post-processed bouts matched at temporal IoU >= 0.5
(:func:`~pipeline.behavior.agreement.bout_agreement`), and the DeepEthogram
paper's bout statistics (time spent, number of bouts, mean bout duration)
with their Pearson r across recordings (Bohnslav et al. 2021, Fig. 4-5).
An undefined measure (one class only, fewer than 3 recordings, a constant
statistic) is NaN, never 0. Learning curves (F1 against the number of
labelled recordings, Fig. 6) and blocked cross-validation over time with a
circular-shift permutation baseline are in :mod:`.crossval`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..behavior.agreement import bout_agreement, bout_statistics, frame_agreement
from ..behavior.bouts import find_bouts
from .train import LabelledSeries, TrainedClassifier, predict_bouts, predict_probabilities

STATISTICS = ("time_s", "n_bouts", "mean_bout_s")


def label_bouts(labels: np.ndarray) -> np.ndarray:
    """The runs of True frames as ``[start, end)`` rows (no merging, no minimum).

    Examples
    --------
    >>> label_bouts(np.array([0, 1, 1, 0, 1], bool)).tolist()
    [[1, 3], [4, 5]]
    """
    b = find_bouts(np.asarray(labels, dtype=bool), fps=1.0, min_bout_s=0.0, max_gap_s=0.0)
    return b[["start_frame", "end_frame"]].to_numpy(np.int64)


def frame_metrics(labels: np.ndarray, probability: np.ndarray, *, threshold: float) -> dict:
    """Frame measures of ``probability >= threshold`` against ``labels``, and AUROC / PR-AUC.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1, 0, 1], bool)
    >>> r = frame_metrics(y, np.array([0.1, 0.4, 0.8, 0.6, 0.7, 0.9]), threshold=0.5)
    >>> r["precision"], r["recall"], round(r["auroc"], 3), round(r["pr_auc"], 3)
    (0.75, 1.0, 0.889, 0.917)
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(labels, dtype=bool)
    p = np.asarray(probability, dtype=np.float64)
    out = frame_agreement(y, p >= threshold)
    both = 0 < y.sum() < len(y)
    out["auroc"] = float(roc_auc_score(y, p)) if both else float("nan")
    out["pr_auc"] = float(average_precision_score(y, p)) if y.any() else float("nan")
    out["n_positive"] = int(y.sum())
    return out


def bout_metrics(true_bouts: np.ndarray, predicted_bouts: np.ndarray, *, fps: float, min_iou: float = 0.5) -> dict:
    """Bout-level agreement and the bout statistics of both (``true_*`` and ``pred_*``).

    Examples
    --------
    >>> r = bout_metrics(np.array([[0, 30], [60, 90]]), np.array([[2, 30]]), fps=30)
    >>> r["bout_f1"], r["true_n_bouts"], r["pred_time_s"]
    (0.6666666666666666, 2, 0.9333333333333333)
    """
    a = bout_agreement(true_bouts, predicted_bouts, min_iou=min_iou)
    out = {"bout_matched": a["matched"], "bout_precision": a["precision"], "bout_recall": a["recall"],
           "bout_f1": a["f1"]}
    for who, bouts in (("true", true_bouts), ("pred", predicted_bouts)):
        out |= {f"{who}_{k}": v for k, v in bout_statistics(bouts, fps=fps).items()}
    return out


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson r; NaN with fewer than 3 finite pairs or a constant side.

    Examples
    --------
    >>> round(pearson([1, 2, 3, 4], [2, 4, 5, 9]), 4), pearson([1, 1, 1], [1, 2, 3])
    (0.9648, nan)
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


@dataclass(frozen=True)
class Evaluation:
    """Measures of a classifier on held-out series.

    Attributes
    ----------
    per_series : DataFrame
        One row per series and behaviour: ``recording``, ``series``,
        ``behavior``, the frame measures of :func:`frame_metrics`, and
        :func:`bout_metrics`.
    per_behavior : DataFrame
        One row per behaviour: frame measures over all frames pooled, bout
        precision/recall/F1 over all bouts pooled, and ``r_time_s``,
        ``r_n_bouts``, ``r_mean_bout_s``: Pearson r of true against predicted
        bout statistics across recordings.
    """

    per_series: pd.DataFrame
    per_behavior: pd.DataFrame


def evaluate_classifier(classifier: TrainedClassifier, series: Sequence[LabelledSeries], *,
                        min_iou: float = 0.5) -> Evaluation:
    """Measure ``classifier`` on held-out ``series`` (thresholds and bout settings its own).

    Returns
    -------
    Evaluation
    """
    rows, pooled = [], {b: ([], []) for b in classifier.behaviors}
    p = classifier.params
    for s in series:
        for b, prob in predict_probabilities(classifier, s.features).items():
            y, t = s.label(b), classifier.thresholds[b]
            pred = predict_bouts(prob, threshold=t, fps=s.fps, min_bout_s=p.min_bout_s, max_gap_s=p.max_gap_s)
            rows.append({"recording": s.recording, "series": s.name, "behavior": b,
                         **frame_metrics(y, prob, threshold=t),
                         **bout_metrics(label_bouts(y), pred, fps=s.fps, min_iou=min_iou)})
            pooled[b][0].append(y)
            pooled[b][1].append(prob)
    table = pd.DataFrame(rows)
    summary = [{"behavior": b, **frame_metrics(np.concatenate(ys), np.concatenate(ps),
                                               threshold=classifier.thresholds[b]),
                **pooled_bouts(table[table.behavior == b])} for b, (ys, ps) in pooled.items()]
    return Evaluation(per_series=table, per_behavior=pd.DataFrame(summary))


def pooled_bouts(rows: pd.DataFrame) -> dict:
    """Bout precision/recall/F1 over all rows, and Pearson r of the bout statistics across recordings."""
    matched, n_true, n_pred = rows.bout_matched.sum(), rows.true_n_bouts.sum(), rows.pred_n_bouts.sum()
    ratio = lambda a, b: float(a) / float(b) if b else float("nan")  # noqa: E731
    out = {"bout_matched": int(matched), "true_n_bouts": int(n_true), "pred_n_bouts": int(n_pred),
           "bout_precision": ratio(matched, n_pred), "bout_recall": ratio(matched, n_true),
           "bout_f1": ratio(2 * matched, n_true + n_pred)}
    per_rec = recording_statistics(rows)
    for k in STATISTICS:
        out[f"r_{k}"] = pearson(per_rec[f"true_{k}"], per_rec[f"pred_{k}"])
    return out


def recording_statistics(rows: pd.DataFrame) -> pd.DataFrame:
    """Bout statistics per recording (its series summed): time spent, bouts, mean bout duration."""
    g = rows.groupby("recording")
    out = pd.DataFrame({f"{w}_{k}": g[f"{w}_{k}"].sum() for w in ("true", "pred") for k in ("time_s", "n_bouts")})
    for w in ("true", "pred"):
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"{w}_mean_bout_s"] = out[f"{w}_time_s"] / out[f"{w}_n_bouts"].where(out[f"{w}_n_bouts"] > 0)
    return out.reset_index()
