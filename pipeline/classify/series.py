"""The series of one recording that classifiers see, their labels from human bouts, and their features.

A *series* is what one model row describes: one animal (``"m1"``, for solo
behaviours such as grooming) or one ordered pair (``"m1>m2"``, for directed
behaviours such as attack), named by the subjects the recording's tracks are
mapped to. A solo behaviour is predicted from animal series, a directed one
from pair series.

Labels come from annotation bouts (``behavior, agent, target, start_frame,
end_frame``; video frames, end exclusive). Every frame of the pose's range
that no bout covers is a negative: an annotation file is taken to label the
whole recording (as :mod:`schemas.agreement` does). A bout the labels cannot
be assigned from is refused rather than guessed: a bout without an agent, or a
directed bout without a target when the recording has more than two animals.
Point events (one frame) are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InputError

if TYPE_CHECKING:
    from ..pose import PoseData
    from .features import FeatureParams


def series_names(subjects: Sequence[str]) -> list[tuple[str, str, str]]:
    """``(series, agent, target)`` of every animal (target = itself) and every ordered pair.

    Examples
    --------
    >>> series_names(["a", "b"])
    [('a', 'a', 'a'), ('b', 'b', 'b'), ('a>b', 'a', 'b'), ('b>a', 'b', 'a')]
    """
    solo = [(s, s, s) for s in subjects]
    return solo + [(f"{a}>{t}", a, t) for a in subjects for t in subjects if a != t]


def is_pair(series: str) -> bool:
    """Whether a series name is an ordered pair (``a>b``)."""
    return ">" in series


def series_features(pose: PoseData, *, params: FeatureParams, role_map=None, mm_per_unit: float | None = None,
                    ) -> dict[str, tuple[np.ndarray, tuple[str, ...]]]:
    """Features of every series of ``pose`` (its individuals are subjects): name -> (frames x features, names).

    Examples
    --------
    >>> from pipeline.classify.features import FeatureParams
    >>> from pipeline.synthetic import simulate_session
    >>> pose = simulate_session(seed=0, duration_s=2, episode_counts=0).pose
    >>> out = series_features(pose, params=FeatureParams(windows_s=(0.5,)))
    >>> sorted(out), out["mouse1>mouse2"][0].shape[0]
    (['mouse1', 'mouse1>mouse2', 'mouse2', 'mouse2>mouse1'], 60)
    """
    from .features import animal_features, pair_features  # (scipy: imported when features are computed)

    out = {}
    for name, agent, target in series_names(list(pose.individuals)):
        if agent == target:
            out[name] = animal_features(pose, agent, params=params, role_map=role_map, mm_per_unit=mm_per_unit)
        else:
            out[name] = pair_features(pose, agent, target, params=params, role_map=role_map,
                                      mm_per_unit=mm_per_unit)
    return out


def check_bouts(bouts: pd.DataFrame, *, directed: Mapping[str, bool], n_animals: int, source: str) -> pd.DataFrame:
    """The bouts of the given behaviours that labels can be made from (point events dropped).

    Parameters
    ----------
    bouts : DataFrame
        ``behavior, agent, target, start_frame, end_frame`` (and optionally
        ``is_point``, ``line``); a missing agent or target is None or NaN.
    directed : mapping of str to bool
        The behaviours to keep, and whether each is directed.
    n_animals : int
        Subject-mapped animals of the recording.
    source : str
        Named in errors (the annotation set).

    Raises
    ------
    InputError
        A bout without an agent; a directed bout without a target in a
        recording of more than two animals (which partner is meant?).
    """
    keep = bouts[bouts["behavior"].isin(list(directed))].copy()
    if "is_point" in keep:
        keep = keep[~keep["is_point"].astype(bool)]
    missing = lambda col: keep[col].isna() | (keep[col].astype(str) == "")  # noqa: E731
    bad = keep[missing("agent")]
    if len(bad):
        raise InputError(source, f"{len(bad)} bout(s) of {sorted(set(bad['behavior']))} name no animal (first at "
                                 f"frame {int(bad['start_frame'].min())}): map the file's subjects to animals")
    undirected = keep[missing("target") & keep["behavior"].map(directed).astype(bool)]
    if len(undirected) and n_animals > 2:
        raise InputError(source, f"{len(undirected)} bout(s) of the directed behaviour(s) "
                                 f"{sorted(set(undirected['behavior']))} name no target, and the recording has "
                                 f"{n_animals} animals: label the target (a BORIS modifier or a target column)")
    return keep


def series_labels(bouts: pd.DataFrame, *, agent: str, target: str, directed: Mapping[str, bool], n_frames: int,
                  frame_offset: int = 0) -> dict[str, np.ndarray]:
    """Per-frame labels of one series from checked bouts (:func:`check_bouts`).

    An animal series (``agent == target``) takes the solo behaviours of its
    animal; a pair series the directed behaviours of its agent toward its
    target (or toward no named target: in a two-animal recording that is the
    partner).

    Examples
    --------
    >>> t = pd.DataFrame({"behavior": ["attack", "groom"], "agent": ["a", "a"], "target": [None, None],
    ...                   "start_frame": [1, 3], "end_frame": [3, 5]})
    >>> d = {"attack": True, "groom": False}
    >>> {k: v.astype(int).tolist() for k, v in series_labels(t, agent="a", target="b", directed=d, n_frames=5).items()}
    {'attack': [0, 1, 1, 0, 0]}
    >>> series_labels(t, agent="a", target="a", directed=d, n_frames=5)["groom"].astype(int).tolist()
    [0, 0, 0, 1, 1]
    """
    from ..behavior.agreement import to_mask

    pair = agent != target
    wanted = [b for b, d in directed.items() if bool(d) == pair]
    rows = bouts[bouts["agent"] == agent]
    if pair:
        rows = rows[(rows["target"] == target) | rows["target"].isna() | (rows["target"].astype(str) == "")]
    return {b: to_mask(rows.loc[rows["behavior"] == b, ["start_frame", "end_frame"]].to_numpy(np.int64),
                       n_frames=n_frames, frame_offset=frame_offset) for b in wanted}


def scorable_frames(missing: np.ndarray, *, max_missing: float = 0.5) -> np.ndarray:
    """Frames where a prediction counts: no animal of the series misses more than ``max_missing`` of its keypoints.

    Parameters
    ----------
    missing : ndarray, shape (time,) or (time, animals)
        The ``missing`` base feature(s) of the series (fraction of keypoints missing).

    Examples
    --------
    >>> scorable_frames(np.array([[0.0, 0.2], [0.0, 1.0], [np.nan, 0.0]])).tolist()
    [True, False, False]
    """
    m = np.asarray(missing, dtype=np.float64)
    m = m[:, None] if m.ndim == 1 else m
    with np.errstate(invalid="ignore"):
        return np.all(m <= max_missing, axis=1)
