"""How often tracked identities sit on the right animal, against a proofread truth."""

from __future__ import annotations

import numpy as np

from ..pose import PoseData
from .identity import centroids

__all__ = ["identity_accuracy"]


def identity_accuracy(predicted: PoseData, truth: PoseData, *, return_details: bool = False):
    """Fraction of frames in which every predicted identity lies on its own true animal.

    Both poses are reduced to the centroids of their *shared* keypoints.  In
    each frame a predicted identity "lies on" the true animal whose centroid
    is nearest.  One fixed mapping predicted -> true identity is chosen for
    the whole recording, the one that maximises the number of agreeing
    (frame, identity) pairs (Hungarian).  A frame is scored when at least one
    mapped pair is present in both; it is correct when every mapped pair
    present in both agrees.

    Parameters
    ----------
    predicted, truth : PoseData
        Same number of frames.
    return_details : bool
        Also return ``{"mapping": {pred: true}, "frames_scored": n, "pair_accuracy": x}``.

    Returns
    -------
    float or (float, dict)
        NaN when no frame can be scored.

    Raises
    ------
    ValueError
        Different frame counts or no shared keypoint.
    """
    if predicted.n_frames != truth.n_frames:
        raise ValueError(f"frame counts differ: {predicted.n_frames} predicted, {truth.n_frames} truth")
    shared = [k for k in predicted.keypoints if k in truth.keypoints]
    if not shared:
        raise ValueError(f"no shared keypoints between {predicted.keypoints} and {truth.keypoints}")
    cp, ct = centroids(predicted, shared), centroids(truth, shared)
    d = np.linalg.norm(cp[:, :, None] - ct[:, None], axis=-1)        # (time, pred, true)
    d = np.where(np.isnan(d), np.inf, d)
    nearest = d.argmin(-1)                                           # (time, pred)
    both = np.isfinite(d.min(-1))                                    # pred present, some truth present
    agree = np.stack([(both & (nearest == q)).sum(0) for q in range(truth.n_individuals)], axis=1)
    from scipy.optimize import linear_sum_assignment  # lazily: scipy is slow to import

    rows, cols = linear_sum_assignment(-agree)
    p_ok = ~np.isnan(cp).any(-1)
    t_ok = ~np.isnan(ct).any(-1)
    scored = p_ok[:, rows] & t_ok[:, cols]                           # (time, mapped pairs)
    right = scored & (nearest[:, rows] == cols)
    frames = scored.any(1)
    correct = frames & (right | ~scored).all(1)
    acc = float(correct.sum() / frames.sum()) if frames.any() else float("nan")
    if not return_details:
        return acc
    mapping = {predicted.individuals[p]: truth.individuals[q] for p, q in zip(rows, cols)}
    pair = float(right.sum() / scored.sum()) if scored.any() else float("nan")
    return acc, {"mapping": mapping, "frames_scored": int(frames.sum()), "pair_accuracy": pair}
