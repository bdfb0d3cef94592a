"""Shared helpers: positions as ``(time, series)`` arrays, point-count stats."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..pose import PoseData


def stats(before: np.ndarray, after: np.ndarray) -> dict:
    """Point counts removed / changed / filled between two position arrays."""
    b_ok = ~np.isnan(before).any(-1)
    a_ok = ~np.isnan(after).any(-1)
    both = b_ok & a_ok
    moved = both & (before != after).any(-1)
    return {"removed": int((b_ok & ~a_ok).sum()), "changed": int(moved.sum()),
            "filled": int((~b_ok & a_ok).sum())}


def new(pose: PoseData, positions: np.ndarray, confidence: np.ndarray | None = None):
    """A copy of ``pose`` with new positions (missing points made fully NaN) and its stats."""
    positions = positions.copy()
    positions[np.isnan(positions).any(-1)] = np.nan
    conf = pose.confidence.copy() if confidence is None else confidence
    out = dataclasses.replace(pose, positions=positions, confidence=conf)
    return out, stats(pose.positions, positions)


def flat(pose: PoseData) -> np.ndarray:
    """Positions as a ``(time, series)`` copy, missing points fully NaN."""
    pos = pose.positions.copy()
    pos[np.isnan(pos).any(-1)] = np.nan
    return pos.reshape(pose.n_frames, -1)


def fill_all(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over every gap of each column, edges held constant; all-NaN stays NaN."""
    t = np.arange(x.shape[0])
    out = x.copy()
    for j in np.flatnonzero(np.isnan(x).any(0)):
        ok = ~np.isnan(x[:, j])
        if ok.any():
            out[:, j] = np.interp(t, t[ok], x[ok, j])
    return out


def smooth(pose: PoseData, smoothed_flat: np.ndarray) -> tuple[PoseData, dict]:
    """Put smoothed series back, keeping missing points missing."""
    x = flat(pose)
    out = np.where(np.isnan(x), np.nan, smoothed_flat)
    return new(pose, out.reshape(pose.positions.shape))
