"""Keypoint accuracy of predictions against ground truth (pure numpy/scipy).

Conventions
    ``predicted`` and ``truth`` are ``(frames, instances, keypoints, 2)``
    pixel arrays, NaN = missing; the two may hold different numbers of
    instance slots.  Within a frame, instances are paired by the Hungarian
    assignment on the mean distance over keypoints present in both (a single
    instance on each side is simply paired).  An instance with no point at
    all is absent.
Counting
    ``n_points`` counts the visible truth points.  ``mean_px`` and
    ``median_px`` are over those that have a paired, visible prediction;
    ``pck[t]`` is the fraction of *all* ``n_points`` predicted within ``t``
    px, so a missed point or instance counts as a failure.
OKS mAP
    Object keypoint similarity as in COCO,
    ``OKS = mean_k exp(-d_k^2 / (2 s^2 (2 sigma_k)^2))`` over the visible
    truth keypoints (a missing prediction contributes 0), with ``s^2`` the
    area of the truth instance's bounding box (``scale**2`` if ``scale`` is
    given).  At each OKS threshold 0.50, 0.55, ..., 0.95 a paired instance is
    a true positive if its OKS reaches the threshold; unpaired predictions
    are false positives, unpaired truths false negatives.  Without
    ``scores`` all predictions tie, so the precision/recall curve is a single
    point and AP is precision times recall on COCO's 101 recall points.
"""

from __future__ import annotations

import numpy as np

from pipeline.errors import InputError

__all__ = ["keypoint_metrics", "match_instances", "oks"]

OKS_THRESHOLDS = np.round(np.arange(0.5, 0.951, 0.05), 2)
DEFAULT_SIGMA = 0.025
_EPS = np.spacing(1)


def _as_points(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 3:  # (frames, keypoints, 2): one instance
        a = a[:, None]
    if a.ndim != 4 or a.shape[-1] != 2:
        raise InputError(name, f"expected a (frames, instances, keypoints, 2) array, got shape {a.shape}")
    return a


def match_instances(predicted: np.ndarray, truth: np.ndarray) -> list[tuple[int, int]]:
    """Pair the instances of one frame by mean keypoint distance (Hungarian).

    Parameters
    ----------
    predicted, truth : ndarray, shape (instances, keypoints, 2)
        One frame; NaN = missing.

    Returns
    -------
    list of (int, int)
        ``(predicted_slot, truth_slot)`` pairs.  Only instances with at least
        one point are paired, and only pairs sharing a visible keypoint.

    Examples
    --------
    >>> t = np.array([[[0., 0.]], [[10., 10.]]])
    >>> match_instances(t[::-1], t)
    [(0, 1), (1, 0)]
    """
    from scipy.optimize import linear_sum_assignment

    p_ok = np.flatnonzero(np.isfinite(predicted).all(-1).any(-1))
    t_ok = np.flatnonzero(np.isfinite(truth).all(-1).any(-1))
    if not len(p_ok) or not len(t_ok):
        return []
    d = np.linalg.norm(predicted[p_ok][:, None] - truth[t_ok][None], axis=-1)  # (p, t, k)
    finite = np.isfinite(d)
    shared = finite.any(-1)
    cost = np.where(finite, d, 0.0).sum(-1) / np.maximum(finite.sum(-1), 1)
    cost[~shared] = 1e6 * (cost[shared].max(initial=0.0) + 1.0)
    rows, cols = linear_sum_assignment(cost)
    return [(int(p_ok[r]), int(t_ok[c])) for r, c in zip(rows, cols) if shared[r, c]]


def oks(predicted: np.ndarray, truth: np.ndarray, *, sigmas, area: float | None = None) -> float:
    """COCO object keypoint similarity of one predicted instance to one truth.

    Parameters
    ----------
    predicted, truth : ndarray, shape (keypoints, 2)
        NaN = missing.  Keypoints missing from ``truth`` are ignored; those
        missing from ``predicted`` score 0.
    sigmas : array_like, shape (keypoints,)
        Per-keypoint sigma (COCO uses ``(2 * sigma)**2`` as the variance).
    area : float, optional
        Object scale squared; default the truth bounding-box area.

    Returns
    -------
    float
        In [0, 1]; NaN if ``truth`` has no visible point.

    Examples
    --------
    >>> t = np.array([[0., 0.], [10., 10.]])
    >>> oks(t, t, sigmas=[0.025, 0.025])
    1.0
    """
    visible = np.isfinite(truth).all(-1)
    if not visible.any():
        return float("nan")
    if area is None:
        span = np.ptp(truth[visible], axis=0)
        area = float(span[0] * span[1])
    var = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2
    d2 = np.sum((predicted - truth) ** 2, axis=-1)
    e = d2 / var / (area + _EPS) / 2.0
    sim = np.where(np.isfinite(e), np.exp(-np.where(np.isfinite(e), e, 0.0)), 0.0)
    return float(sim[visible].mean())


def _average_precision(oks_values, scores, n_truth: int, threshold: float) -> float:
    """COCO 101-point interpolated AP; predictions with equal scores tie."""
    if n_truth == 0:
        return float("nan")
    if not len(oks_values):
        return 0.0
    order = np.argsort(-scores, kind="mergesort")
    tp = (np.nan_to_num(oks_values[order], nan=-1.0) >= threshold).astype(float)
    s = scores[order]
    last = np.r_[s[1:] != s[:-1], True]  # evaluate only at the end of each tie block
    ctp, cfp = np.cumsum(tp)[last], np.cumsum(1.0 - tp)[last]
    recall, precision = ctp / n_truth, ctp / np.maximum(ctp + cfp, _EPS)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    grid = np.linspace(0.0, 1.0, 101)
    idx = np.searchsorted(recall, grid, side="left")
    return float(np.where(idx < len(recall), precision[np.minimum(idx, len(recall) - 1)], 0.0).mean())


def _summary(errors: np.ndarray, n_points: int, thresholds) -> dict:
    found = errors[np.isfinite(errors)]
    return {
        "mean_px": float(found.mean()) if found.size else float("nan"),
        "median_px": float(np.median(found)) if found.size else float("nan"),
        "pck": {str(float(t)): (float((found <= t).sum() / n_points) if n_points else float("nan"))
                for t in thresholds},
    }


def keypoint_metrics(predicted, truth, *, thresholds_px=(2.0, 5.0, 10.0), oks_sigmas=None, scale=None,
                     keypoints=None, scores=None) -> dict:
    """Pixel error, PCK and COCO-style OKS mAP of predicted keypoints.

    Parameters
    ----------
    predicted, truth : array_like, shape (frames, instances, keypoints, 2)
        Pixel coordinates, NaN = missing; a 3-D array is one instance.  The
        instance counts may differ, frames and keypoints must agree.
    thresholds_px : sequence of float
        PCK distance thresholds in pixels.
    oks_sigmas : float or array_like (keypoints,), optional
        Per-keypoint OKS sigma; default 0.025 each (variance ``(2 sigma)^2``).
    scale : float or array_like, optional
        Object scale ``s`` in px (scalar, or ``(frames, truth_instances)``);
        default ``sqrt`` of the truth bounding-box area.
    keypoints : sequence of str, optional
        Keypoint names for ``per_keypoint``; default ``keypoint_0``, ...
    scores : array_like, shape (frames, predicted_instances), optional
        Instance scores that rank predictions for mAP; default all equal.

    Returns
    -------
    dict
        ``n_frames``, ``n_points``, ``n_truth_instances``,
        ``n_predicted_instances``, ``n_matched``, ``mean_px``, ``median_px``,
        ``pck`` ({"2.0": fraction, ...}), ``oks_mean``, ``oks_map``, and
        ``per_keypoint`` ({name: {"mean_px", "median_px", "pck"}}).

    Raises
    ------
    InputError
        Arrays of the wrong shape or that disagree.

    Examples
    --------
    >>> t = np.zeros((1, 1, 2, 2)); t[0, 0, 1] = 10
    >>> m = keypoint_metrics(t + [3.0, 4.0], t)
    >>> m["mean_px"], m["pck"]["5.0"], m["pck"]["2.0"]
    (5.0, 1.0, 0.0)
    """
    pred, true = _as_points(predicted, "predicted"), _as_points(truth, "truth")
    if pred.shape[0] != true.shape[0] or pred.shape[2] != true.shape[2]:
        raise InputError("predicted", f"shape {pred.shape} does not match truth {true.shape} "
                                      "(frames and keypoints must agree)")
    n_frames, _, n_kp, _ = true.shape
    names = tuple(f"keypoint_{k}" for k in range(n_kp)) if keypoints is None else tuple(map(str, keypoints))
    if len(names) != n_kp:
        raise InputError("keypoints", f"{len(names)} names for {n_kp} keypoints")
    sigmas = np.broadcast_to(np.asarray(DEFAULT_SIGMA if oks_sigmas is None else oks_sigmas, float), (n_kp,))
    scales = None if scale is None else np.broadcast_to(np.asarray(scale, float), (n_frames, true.shape[1]))
    inst_scores = np.zeros(pred.shape[:2]) if scores is None else np.asarray(scores, float)
    if inst_scores.shape != pred.shape[:2]:
        raise InputError("scores", f"shape {inst_scores.shape}, expected {pred.shape[:2]}")

    visible = np.isfinite(true).all(-1)  # (frames, truth_instances, keypoints)
    errors = np.full(visible.shape, np.nan)
    oks_values, oks_scores, n_pred, n_truth, n_matched = [], [], 0, 0, 0
    for f in range(n_frames):
        pairs = match_instances(pred[f], true[f])
        present_p = np.isfinite(pred[f]).all(-1).any(-1)
        present_t = visible[f].any(-1)
        n_pred += int(present_p.sum())
        n_truth += int(present_t.sum())
        n_matched += len(pairs)
        for p, t in pairs:
            errors[f, t] = np.linalg.norm(pred[f, p] - true[f, t], axis=-1)
            area = None if scales is None else float(scales[f, t]) ** 2
            oks_values.append(oks(pred[f, p], true[f, t], sigmas=sigmas, area=area))
            oks_scores.append(inst_scores[f, p])
        paired = {p for p, _ in pairs}
        for p in np.flatnonzero(present_p):
            if p not in paired:  # unpaired prediction: a false positive at every threshold
                oks_values.append(-1.0)
                oks_scores.append(inst_scores[f, p])
    errors[~visible] = np.nan
    oks_values, oks_scores = np.asarray(oks_values, float), np.asarray(oks_scores, float)
    aps = [_average_precision(oks_values, oks_scores, n_truth, t) for t in OKS_THRESHOLDS]
    n_points = int(visible.sum())
    out = {"n_frames": int(n_frames), "n_points": n_points, "n_truth_instances": n_truth,
           "n_predicted_instances": n_pred, "n_matched": n_matched}
    out.update(_summary(errors[visible], n_points, thresholds_px))
    matched_oks = oks_values[oks_values >= 0]
    out["oks_mean"] = float(matched_oks.mean()) if matched_oks.size else float("nan")
    out["oks_map"] = float(np.mean(aps)) if n_truth else float("nan")
    out["per_keypoint"] = {name: _summary(errors[..., k][visible[..., k]], int(visible[..., k].sum()), thresholds_px)
                           for k, name in enumerate(names)}
    return out
