"""Agreement between two bout sources on one recording (human vs human, rules, classifier).

A *bout table* is a DataFrame with columns ``behavior``, ``agent``,
``target`` (``""`` for a solo behaviour or an unknown target), ``start_frame``
and ``end_frame`` (video frames, end exclusive; a point event is one frame).
Source ``a`` is the reference (e.g. the human) and ``b`` the one judged:
precision is the share of ``b``'s frames (or bouts) that ``a`` confirms.

For each behaviour and agent → target found in either source, over the
frames ``[frame_offset, frame_offset + n_frames)``:

- frame level: precision, recall, F1, Cohen's kappa and accuracy, counting
  only frames where both sources could score (``valid``);
- bout level: bouts paired one to one, greedily by temporal IoU (highest
  first), when IoU >= ``min_iou`` (0.5); precision, recall and F1 of the pairs;
- the bout statistics that the DeepEthogram paper compares (Bohnslav et al.
  2021, Fig. 4-5): time spent, number of bouts and mean bout duration in
  each source, and their differences (b - a).

An undefined ratio (no positives to divide by) is NaN, never 0. Kappa is NaN
when both sources agree by chance alone (expected agreement 1, e.g. no frame
of the behaviour in either).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

KEY = ("behavior", "agent", "target")
BOUT_TABLE = (*KEY, "start_frame", "end_frame")


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def frame_agreement(a: np.ndarray, b: np.ndarray, *, valid: np.ndarray | None = None) -> dict:
    """Frame-level agreement of two boolean label series (``a`` the reference).

    Parameters
    ----------
    a, b : ndarray of bool, shape (time,)
    valid : ndarray of bool, optional
        Frames to count (e.g. where both sources could score); all by default.

    Returns
    -------
    dict
        ``n_frames`` (counted), ``tp``, ``fp``, ``fn``, ``tn``, ``precision``,
        ``recall``, ``f1``, ``kappa``, ``accuracy``.

    Examples
    --------
    >>> a = np.array([1, 1, 1, 0, 0, 0, 0, 0], bool)
    >>> b = np.array([0, 1, 1, 1, 0, 0, 0, 0], bool)
    >>> r = frame_agreement(a, b)
    >>> r["precision"], r["recall"], round(r["kappa"], 3), r["accuracy"]
    (0.6666666666666666, 0.6666666666666666, 0.467, 0.75)
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"label series must be 1-D and of one length, got {a.shape} and {b.shape}")
    if valid is not None:
        keep = np.asarray(valid, dtype=bool)
        a, b = a[keep], b[keep]
    n = a.size
    tp, fp, fn = int(np.sum(a & b)), int(np.sum(~a & b)), int(np.sum(a & ~b))
    tn = n - tp - fp - fn
    observed = _ratio(tp + tn, n)
    chance = _ratio((tp + fn) * (tp + fp) + (tn + fp) * (tn + fn), n * n)
    kappa = (observed - chance) / (1.0 - chance) if n and chance < 1.0 else float("nan")
    return {"n_frames": n, "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn), "f1": _ratio(2 * tp, 2 * tp + fp + fn), "kappa": kappa,
            "accuracy": observed}


def match_bouts(a: np.ndarray, b: np.ndarray, *, min_iou: float = 0.5) -> list[tuple[int, int, float]]:
    """Pair bouts of two sources one to one by temporal IoU, highest first.

    Parameters
    ----------
    a, b : ndarray of int, shape (n, 2) and (m, 2)
        ``[start, end)`` of each bout, in frames.
    min_iou : float, keyword-only
        Pairs below this IoU are never made.

    Returns
    -------
    list of (index in a, index in b, IoU)

    Examples
    --------
    >>> match_bouts(np.array([[0, 10], [20, 30]]), np.array([[2, 10], [28, 40]]))
    [(0, 0, 0.8)]
    """
    a, b = np.asarray(a, dtype=np.int64).reshape(-1, 2), np.asarray(b, dtype=np.int64).reshape(-1, 2)
    if not len(a) or not len(b):
        return []
    inter = np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0])
    union = np.maximum(a[:, None, 1], b[None, :, 1]) - np.minimum(a[:, None, 0], b[None, :, 0])
    iou = np.where(inter > 0, inter / np.maximum(union, 1), 0.0)
    ia, ib = np.nonzero(iou >= min_iou)
    order = np.lexsort((ib, ia, -iou[ia, ib]))  # highest IoU first; ties in bout order
    used_a, used_b, pairs = set(), set(), []
    for i, j in zip(ia[order].tolist(), ib[order].tolist()):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j, float(iou[i, j])))
    return sorted(pairs)


def bout_agreement(a: np.ndarray, b: np.ndarray, *, min_iou: float = 0.5) -> dict:
    """Bout-level precision, recall and F1 of ``b`` against ``a`` (pairs from :func:`match_bouts`).

    Examples
    --------
    >>> r = bout_agreement(np.array([[0, 10], [20, 30]]), np.array([[2, 10], [28, 40]]))
    >>> r["matched"], r["precision"], r["recall"], r["f1"]
    (1, 0.5, 0.5, 0.5)
    """
    a, b = np.asarray(a).reshape(-1, 2), np.asarray(b).reshape(-1, 2)
    matched = len(match_bouts(a, b, min_iou=min_iou))
    return {"matched": matched, "precision": _ratio(matched, len(b)), "recall": _ratio(matched, len(a)),
            "f1": _ratio(2 * matched, len(a) + len(b))}


def bout_statistics(bouts: np.ndarray, *, fps: float) -> dict:
    """Time spent (s), number of bouts and mean bout duration (s; NaN without bouts).

    Examples
    --------
    >>> bout_statistics(np.array([[0, 30], [60, 75]]), fps=30)
    {'time_s': 1.5, 'n_bouts': 2, 'mean_bout_s': 0.75}
    """
    bouts = np.asarray(bouts, dtype=np.int64).reshape(-1, 2)
    frames = int(np.sum(bouts[:, 1] - bouts[:, 0]))
    return {"time_s": frames / fps, "n_bouts": len(bouts), "mean_bout_s": _ratio(frames, len(bouts)) / fps}


def to_mask(bouts: np.ndarray, *, n_frames: int, frame_offset: int = 0) -> np.ndarray:
    """Per-frame labels from ``[start, end)`` bouts in video frames (clipped to the covered frames).

    Examples
    --------
    >>> to_mask(np.array([[12, 14]]), n_frames=5, frame_offset=10).astype(int)
    array([0, 0, 1, 1, 0])
    """
    mark = np.zeros(n_frames + 1, dtype=np.int64)
    bouts = np.clip(np.asarray(bouts, dtype=np.int64).reshape(-1, 2) - frame_offset, 0, n_frames)
    np.add.at(mark, bouts[:, 0], 1)
    np.add.at(mark, bouts[:, 1], -1)
    return np.cumsum(mark[:-1]) > 0


def relabel(bouts: pd.DataFrame, *, behaviors: Mapping[str, Sequence[str]] | None = None,
            by_agent: bool = True) -> pd.DataFrame:
    """Put a source in the other's vocabulary before comparing.

    Parameters
    ----------
    bouts : DataFrame
        A bout table.
    behaviors : mapping, keyword-only
        New name -> the behaviours it stands for (their bouts are pooled); the
        behaviours not named are dropped. ``None`` keeps every behaviour.
    by_agent : bool, keyword-only
        False pools every agent and target (``agent = target = ""``), for
        labels given without animals.

    Examples
    --------
    >>> t = pd.DataFrame({"behavior": ["n2n", "follow"], "agent": ["m1", "m2"], "target": ["m2", "m1"],
    ...                   "start_frame": [0, 5], "end_frame": [3, 9]})
    >>> relabel(t, behaviors={"interact": ["n2n", "follow"]}, by_agent=False).values.tolist()
    [['interact', '', '', 0, 3], ['interact', '', '', 5, 9]]
    """
    out = bouts.loc[:, list(BOUT_TABLE)].copy()
    if behaviors is not None:
        names = {old: new for new, olds in behaviors.items() for old in olds}
        out = out[out["behavior"].isin(names)].assign(behavior=lambda t: t["behavior"].map(names))
    if not by_agent:
        out = out.assign(agent="", target="")
    return out.reset_index(drop=True)


def compare_sources(a: pd.DataFrame, b: pd.DataFrame, *, fps: float, n_frames: int, frame_offset: int = 0,
                    valid: np.ndarray | None = None, min_iou: float = 0.5) -> pd.DataFrame:
    """One row per behaviour and agent -> target found in either bout table: every measure above.

    Parameters
    ----------
    a, b : DataFrame
        Bout tables (``a`` the reference); bouts of one key may overlap (they
        are pooled for frame measures, matched one to one for bout measures).
    fps : float, keyword-only
    n_frames, frame_offset : int, keyword-only
        The recording's covered video frames ``[frame_offset, frame_offset + n_frames)``.
    valid : ndarray of bool, shape (n_frames,), optional
        Frames both sources could score.
    min_iou : float, keyword-only

    Returns
    -------
    DataFrame
        ``behavior, agent, target``; frame ``n_frames, precision, recall, f1,
        kappa, accuracy``; bout ``matched, bout_precision, bout_recall,
        bout_f1``; ``time_s_a, time_s_b, n_bouts_a, n_bouts_b, mean_bout_s_a,
        mean_bout_s_b`` and the differences ``*_diff`` (b - a).

    Examples
    --------
    >>> a = pd.DataFrame({"behavior": ["attack"], "agent": ["m1"], "target": ["m2"],
    ...                   "start_frame": [100], "end_frame": [130]})
    >>> b = a.assign(start_frame=[105])
    >>> r = compare_sources(a, b, fps=30, n_frames=300, frame_offset=100).iloc[0]
    >>> float(r["recall"]), int(r["matched"]), round(float(r["time_s_diff"]), 4)
    (0.8333333333333334, 1, -0.1667)
    """
    for name, table in (("a", a), ("b", b)):
        missing = [c for c in BOUT_TABLE if c not in table.columns]
        if missing:
            raise ValueError(f"bout table {name} lacks column(s) {missing}")
    keys = sorted(set(map(tuple, a.loc[:, list(KEY)].values.tolist()))
                  | set(map(tuple, b.loc[:, list(KEY)].values.tolist())))
    rows = [_compare_one(_bouts(a, key), _bouts(b, key), fps=fps, n_frames=n_frames, frame_offset=frame_offset,
                         valid=valid, min_iou=min_iou) | dict(zip(KEY, key)) for key in keys]
    columns = [*KEY, "n_frames", "precision", "recall", "f1", "kappa", "accuracy", "matched", "bout_precision",
               "bout_recall", "bout_f1", "time_s_a", "time_s_b", "time_s_diff", "n_bouts_a", "n_bouts_b",
               "n_bouts_diff", "mean_bout_s_a", "mean_bout_s_b", "mean_bout_s_diff"]
    return pd.DataFrame(rows, columns=columns)


def _bouts(table: pd.DataFrame, key: tuple) -> np.ndarray:
    hit = np.ones(len(table), dtype=bool)
    for column, value in zip(KEY, key):
        hit &= (table[column] == value).to_numpy()
    return table.loc[hit, ["start_frame", "end_frame"]].to_numpy(dtype=np.int64).reshape(-1, 2)


def _compare_one(a: np.ndarray, b: np.ndarray, *, fps, n_frames, frame_offset, valid, min_iou) -> dict:
    out = frame_agreement(to_mask(a, n_frames=n_frames, frame_offset=frame_offset),
                          to_mask(b, n_frames=n_frames, frame_offset=frame_offset), valid=valid)
    bouts = bout_agreement(a, b, min_iou=min_iou)
    out.update(matched=bouts.pop("matched"), **{f"bout_{k}": v for k, v in bouts.items()})
    stats_a, stats_b = bout_statistics(a, fps=fps), bout_statistics(b, fps=fps)
    for stat in stats_a:
        out[f"{stat}_a"], out[f"{stat}_b"] = stats_a[stat], stats_b[stat]
        out[f"{stat}_diff"] = stats_b[stat] - stats_a[stat]
    return out
