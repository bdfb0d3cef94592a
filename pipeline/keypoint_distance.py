"""Distances between named keypoint pairs, per frame, and their spread and spikes per recording.

A pair is ``{"name": "jaw", "a": "jaw_tip", "b": "snout_centre"}``; its
distance is the Euclidean distance of the two keypoints of one individual
in each frame (NaN where either is missing), in the pose's units, or in mm
with a scale (``mm_per_px``).  Per individual and pair:

- ``n_frames``: frames with a distance;
- ``mean``, ``variance`` (ddof 1) of the distance;
- ``mad``: the median absolute deviation from the median (unscaled; × 1.4826
  estimates the SD of a normal distribution);
- ``spike_count``: spikes of the distance series, as defined in
  :mod:`pipeline.quality.compare` (a jump of more than ``k`` robust SDs of
  the local-motion-corrected jumps that returns within ``max_width``
  frames); ``min_spread`` is in the distance's units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError
from .quality.compare import spike_frames

STAT_COLUMNS = ("n_frames", "mean", "variance", "mad", "spike_count")
DEFAULTS = {"k": 5.0, "max_width": 5, "min_spread": 0.5}


def check_pairs(pairs, *, source: str = "keypoint pairs") -> list[dict]:
    """Normalise and check a pair list: names unique and at most 64 characters, two different keypoints each.

    Examples
    --------
    >>> check_pairs([{"name": "jaw", "a": "jaw_tip", "b": "snout_centre"}])
    [{'name': 'jaw', 'a': 'jaw_tip', 'b': 'snout_centre'}]
    >>> check_pairs([["jaw_tip", "snout_centre"]])
    [{'name': 'jaw_tip-snout_centre', 'a': 'jaw_tip', 'b': 'snout_centre'}]
    """
    if not isinstance(pairs, (list, tuple)) or not pairs:
        raise InputError(source, f"give a non-empty list of keypoint pairs, got {pairs!r}")
    out = []
    for i, p in enumerate(pairs):
        if isinstance(p, dict) and {"a", "b"} <= set(p) and set(p) <= {"name", "a", "b"}:
            a, b, name = str(p["a"]), str(p["b"]), str(p.get("name") or f"{p['a']}-{p['b']}")
        elif isinstance(p, (list, tuple)) and len(p) == 2:
            a, b = map(str, p)
            name = f"{a}-{b}"
        else:
            raise InputError(source, f"pair {i}: write {{name, a, b}} or [a, b], got {p!r}")
        if a == b or not a or not b or len(name) > 64:
            raise InputError(source, f"pair {i} ({name!r}): two different keypoints and a name of at most "
                                     "64 characters")
        out.append({"name": name, "a": a, "b": b})
    names = [p["name"] for p in out]
    if len(set(names)) != len(names):
        raise InputError(source, f"pair names repeat: {names}")
    return out


def pair_distances(positions: np.ndarray, keypoints, pairs, *, scale: float = 1.0,
                   source: str = "pose") -> np.ndarray:
    """Distances, shape (time, individual, pair), of a (time, individual, keypoint, space) array.

    Examples
    --------
    >>> pos = np.array([[[[0.0, 0.0], [3.0, 4.0]]]])
    >>> pair_distances(pos, ["nose", "tail"], [{"name": "len", "a": "nose", "b": "tail"}], scale=0.5)
    array([[[2.5]]])
    """
    keypoints = list(keypoints)
    missing = sorted({k for p in pairs for k in (p["a"], p["b"])} - set(keypoints))
    if missing:
        raise InputError(source, f"keypoint(s) {missing} of the pairs are not in the pose (its keypoints: "
                                 f"{keypoints})")
    a = positions[:, :, [keypoints.index(p["a"]) for p in pairs]]
    b = positions[:, :, [keypoints.index(p["b"]) for p in pairs]]
    return np.linalg.norm(a - b, axis=-1) * float(scale)


def distance_stats(distances: np.ndarray, *, k: float = 5.0, max_width: int = 5,
                   min_spread: float = 0.5) -> np.ndarray:
    """Per individual and pair the :data:`STAT_COLUMNS`, shape (individual, pair, 5).

    Examples
    --------
    >>> d = np.r_[np.full(50, 10.0), 30.0, np.full(49, 10.0)][:, None, None]
    >>> n, mean, var, mad, spikes = distance_stats(d)[0, 0]
    >>> int(n), round(float(mean), 1), float(mad), int(spikes)
    (100, 10.2, 0.0, 1)
    """
    _, n_ind, n_pairs = distances.shape
    out = np.full((n_ind, n_pairs, len(STAT_COLUMNS)), np.nan)
    for i in range(n_ind):
        for j in range(n_pairs):
            d = distances[:, i, j]
            ok = d[~np.isnan(d)]
            spikes = spike_frames(d, k=k, max_width=max_width, min_spread=min_spread)
            out[i, j] = [len(ok), ok.mean() if len(ok) else np.nan, ok.var(ddof=1) if len(ok) > 1 else np.nan,
                         np.median(np.abs(ok - np.median(ok))) if len(ok) else np.nan, len(spikes)]
    return out


def stats_table(stats: np.ndarray, individuals, pairs) -> pd.DataFrame:
    """:func:`distance_stats` as a tidy table: one row per individual and pair."""
    rows = [{"individual": ind, "pair": p["name"], **dict(zip(STAT_COLUMNS, stats[i, j].tolist()))}
            for i, ind in enumerate(individuals) for j, p in enumerate(pairs)]
    return pd.DataFrame(rows)
