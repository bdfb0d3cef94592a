"""Pair features of a rule document, computed once per recording (see :mod:`.primitives`).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError
from .docroles import _role_points
from .primitives import (
    axis_angle,
    axis_position,
    gradient_speed,
    heading_angle,
    motion_angle,
    point_speed,
    set_distance,
)
from .ruledoc import DISTANCE_PRIMITIVES, Feature, RuleDocument
from .smoothing import running_median

# ---------------------------------------------------------------- features

class _Features:
    """Features of all ordered pairs of one recording, computed once each."""

    def __init__(self, positions, roles: dict, doc: RuleDocument, fps, source: str):
        n = positions.shape[1]
        self.pairs = tuple((a, b) for a in range(n) for b in range(n) if a != b)
        self.ai = np.array([p[0] for p in self.pairs], dtype=np.intp)
        self.ti = np.array([p[1] for p in self.pairs], dtype=np.intp)
        self.fps, self.doc, self.source = fps, doc, source
        self.roles = roles
        self.points = {r: _role_points(positions, *spec) for r, spec in roles.items()}
        self.n_frames = positions.shape[0]
        self.length = self._body_lengths() if doc.units == "body_lengths" else None
        self.cache: dict = {}

    def _body_lengths(self) -> np.ndarray:
        tail, head = (self._point(r, "body_length") for r in self.doc.body_length)
        d = np.sqrt(np.sum((head - tail)[:, :, 0] ** 2, axis=-1))  # (time, individual)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an animal never seen: NaN
            return np.nanmedian(d, axis=0)

    def _point(self, role: str, what: str) -> np.ndarray:
        pts = self.points[role]
        if pts.shape[2] != 1:
            raise InputError(self.source, f"{what} needs a single point for role {role!r}, which is a set of "
                                          f"{pts.shape[2]} keypoints; map it to one keypoint, a centroid or a median")
        return pts

    def get(self, feat: Feature, window: int = 1) -> np.ndarray:
        """``(pairs, time)`` values of a feature, median-smoothed over ``window`` frames."""
        key = (feat, window)
        if key not in self.cache:
            self.cache[key] = running_median(self.get(feat), window) if window > 1 else self._compute(feat)
        return self.cache[key]

    def _compute(self, f: Feature) -> np.ndarray:
        prim = f.primitive
        if prim in DISTANCE_PRIMITIVES:
            return self._distance(f)
        return {"head_angle": self._head_angle, "body_angle": self._body_angle, "speed": self._speed,
                "gradient_speed": self._speed, "motion_angle": self._motion_angle,
                "axis_position": self._axis_position}[prim](f)

    def _head_angle(self, f: Feature) -> np.ndarray:
        prim = f.primitive
        if f.get("convention") == "ccw360" and self.points[f.get("head")].shape[-1] != 2:
            raise InputError(self.source, "head_angle convention 'ccw360' is defined for 2D poses only")
        origin = f.get("origin") or f.get("tail")
        return heading_angle(self._point(f.get("tail"), prim), self._point(f.get("head"), prim),
                             self._point(origin, prim), self._point(f.get("target"), prim), self.ai, self.ti,
                             convention=f.get("convention"))

    def _body_angle(self, f: Feature) -> np.ndarray:
        return axis_angle(self._point(f.get("tail"), f.primitive), self._point(f.get("head"), f.primitive),
                          self.ai, self.ti)

    def _motion_angle(self, f: Feature) -> np.ndarray:
        return motion_angle(self._point(f.get("role"), f.primitive), self.ai, self.ti, fps=self.fps)

    def _axis_position(self, f: Feature) -> np.ndarray:
        pts = [self._point(f.get(k), f.primitive) for k in ("point", "tail", "head")]
        d = axis_position(*pts, self.ai, self.ti)
        return d if self.length is None else d / self.length[self.ai][:, None]

    def _distance(self, f: Feature) -> np.ndarray:
        if f.primitive == "centre_distance":
            a = b = self._point(f.get("role"), "centre_distance")
        else:
            a, b = self.points[f.get("agent")], self.points[f.get("target")]
        window = 1
        if f.primitive == "path_distance":
            window = max(1, f.get("window").to_frames(self.fps, self.doc.frame_rounding, where=self.source))
        d = set_distance(a, b, self.ai, self.ti, window=window)
        return d if self.length is None else d / self.length[self.ai][:, None]

    def _speed(self, f: Feature) -> np.ndarray:
        per_second = f.get("per") == "second"
        if per_second and not self.fps:
            raise InputError(self.source, "speed per second needs the frame rate (fps)")
        fps = self.fps if per_second else None
        if f.primitive == "gradient_speed":
            s = gradient_speed(self._point(f.get("role"), f.primitive), fps=fps)
        else:
            s = point_speed(self.points[f.get("role")], lag=f.get("lag"), mean_window=f.get("mean_window"),
                            decimals=f.get("decimals"), fps=fps)
        who = self.ai if f.get("of") == "agent" else self.ti
        s = s[who]
        return s if self.length is None else s / self.length[who][:, None]
