"""Compare detected bouts with ground-truth episodes (synthetic validation)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class BoutMatch:
    """Counts of one behaviour's comparison (see :func:`match_bouts`)."""

    matched_bouts: int
    bouts: int
    matched_episodes: int
    episodes: int
    detected_frames: int
    true_frames: int
    latency_errors: tuple  # |first detected - first true| start frame, per agent → target

    @property
    def precision(self) -> float:
        return self.matched_bouts / self.bouts if self.bouts else 1.0

    @property
    def recall(self) -> float:
        return self.matched_episodes / self.episodes if self.episodes else 1.0


def match_bouts(detected: pd.DataFrame, truth: pd.DataFrame) -> BoutMatch:
    """Bout-level matching for one behaviour of one session.

    A detected bout matches a true episode of the same agent → target
    (nose-to-nose: the same unordered pair) when their overlap covers at
    least 50 % of the true episode. Precision counts detected bouts that
    match some episode; recall counts episodes matched by some bout. Both
    tables have ``behavior, agent, target, start_frame, end_frame``
    (end exclusive).
    """
    mutual = (detected.behavior == "nose2nose").any() or (truth.behavior == "nose2nose").any()

    def key(df):
        return [tuple(sorted(x)) if mutual else x for x in zip(df.agent, df.target)]

    dk, tk = key(detected), key(truth)
    same = np.array([[a == b for b in tk] for a in dk], bool).reshape(len(dk), len(tk))
    ds, de = detected.start_frame.to_numpy(), detected.end_frame.to_numpy()
    ts, te = truth.start_frame.to_numpy(), truth.end_frame.to_numpy()
    overlap = np.clip(np.minimum(de[:, None], te) - np.maximum(ds[:, None], ts), 0, None)
    m = same & (overlap >= 0.5 * (te - ts))
    latency = []
    for k in set(tk):
        first_true = ts[[x == k for x in tk]].min()
        first_det = ds[[x == k for x in dk]]
        latency.append(abs(first_det.min() - first_true) if len(first_det) else np.inf)
    return BoutMatch(int(m.any(1).sum()), len(dk), int(m.any(0).sum()), len(tk), int((de - ds).sum()),
                     int((te - ts).sum()), tuple(latency))
