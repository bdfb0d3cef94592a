"""Keeping two simulated animals apart and inside the arena (used by :mod:`.motion`).

Keypoints of one animal are a flat list ``[x0, y0, x1, y1, ...]`` of six
points (nose first, body centre at index 8-9), as in :mod:`.motion`.
"""

from __future__ import annotations

from math import hypot, inf, sqrt

_REACH = 52.0  # no keypoint is further than this from the body centre (body scale <= 1.15)


def _closest(px, py, k):
    """Distance from (px, py) to the nearest point of the flat list ``k``, and that point."""
    best, m = inf, 0
    for q in (0, 2, 4, 6, 8, 10):
        dx, dy = px - k[q], py - k[q + 1]
        d2 = dx * dx + dy * dy
        if d2 < best:
            best, m = d2, q
    return sqrt(best), k[m], k[m + 1]


def _wall_shift(k, limit):
    """Shift (dx, dy) that brings the outermost keypoint back inside ``limit``."""
    if hypot(k[8], k[9]) + _REACH <= limit:  # all keypoints are within _REACH of the centre
        return 0.0, 0.0
    dx = dy = 0.0
    lim2 = limit * limit
    for _ in range(2):
        r2, m = 0.0, 0
        for q in (0, 2, 4, 6, 8, 10):
            x, y = k[q] + dx, k[q + 1] + dy
            d2 = x * x + y * y
            if d2 > r2:
                r2, m = d2, q
        if r2 <= lim2:
            break
        r = sqrt(r2)
        dx -= (r - limit) * (k[m] + dx) / r
        dy -= (r - limit) * (k[m + 1] + dy) / r
    return dx, dy


def _resolve(K, X, Y, clear, w0, lim):
    """Keep both animals inside the arena and each nose ``clear`` mm from the
    other's keypoints (``w0``: the share of a push that moves animal 0)."""
    for it in range(8):
        for i in (0, 1):
            dx, dy = _wall_shift(K[i], lim)
            if dx or dy:
                _move(K, X, Y, i, dx, dy)
        if not clear or not _separate(K, X, Y, clear, w0 if it < 2 else 0.5):
            return
    for i in (0, 1):
        _move(K, X, Y, i, *_wall_shift(K[i], lim))


def _move(K, X, Y, i, dx, dy):
    X[i] += dx
    Y[i] += dy
    K[i] = [v + (dy if q % 2 else dx) for q, v in enumerate(K[i])]


def _separate(K, X, Y, clear, w0):
    """Push the two animals apart so each nose is ``clear`` mm from the other's keypoints."""
    moved = False
    if hypot(K[0][8] - K[1][8], K[0][9] - K[1][9]) > clear + 2 * _REACH:
        return False
    for i in (0, 1):
        j = 1 - i
        d, qx, qy = _closest(K[i][0], K[i][1], K[j])
        if d < clear:
            nx, ny = (K[i][0] - qx) / max(d, 1e-9), (K[i][1] - qy) / max(d, 1e-9)
            moved = True
            for m, sgn, w in ((i, 1.0, w0 if i == 0 else 1 - w0), (j, -1.0, w0 if j == 0 else 1 - w0)):
                _move(K, X, Y, m, sgn * w * (clear - d) * nx, sgn * w * (clear - d) * ny)
    return moved
