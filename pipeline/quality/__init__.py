"""Trajectory quality: filtering, identity-swap detection and correction, accuracy.

Pure, vectorised numpy/scipy on :class:`~pipeline.pose.PoseData` (no database):
:mod:`.filters` (outlier removal, gap filling, smoothing, :func:`apply_chain`),
:mod:`.kalman` (constant-velocity Kalman + RTS smoother), :mod:`.identity`
(:func:`detect_swaps`, :func:`correct_identities`, :func:`reject_implausible`), :mod:`.accuracy`
(:func:`identity_accuracy`).
"""

from .accuracy import identity_accuracy
from .filters import (
                      STEPS,
                      apply_chain,
                      confidence_threshold,
                      gaussian,
                      interpolate_gaps,
                      kalman_rts,
                      max_jump,
                      rolling_median,
                      savgol,
)
from .identity import SWAP_COLUMNS, body_size, centroids, correct_identities, detect_swaps, reject_implausible

__all__ = ["STEPS", "SWAP_COLUMNS", "apply_chain", "body_size", "centroids", "confidence_threshold",
           "correct_identities", "detect_swaps", "gaussian", "identity_accuracy", "interpolate_gaps", "kalman_rts",
           "max_jump", "reject_implausible", "rolling_median", "savgol"]
