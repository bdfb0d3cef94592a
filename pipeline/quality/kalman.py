"""Constant-velocity Kalman filter and RTS smoother, vectorised across series.

Each column of a ``(time, series)`` array is one independent 1D track with
state ``(position, velocity)`` per frame (``dt = 1``)::

    F = [[1, 1], [0, 1]]     H = [1, 0]
    Q = q * [[1/4, 1/2], [1/2, 1]]   (discrete white-noise acceleration)
    R = r

The prior at a series' first observation is ``(that observation, 0)`` with
covariance ``1e6 * r * I`` (uninformative); missing observations (NaN) skip the update.
The 2x2 algebra is written out so one Python loop over time serves all series.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cv_kalman_rts"]


def cv_kalman_rts(z: np.ndarray, *, process_noise: float, measurement_noise: float,
                  initial_variance: float | None = None) -> np.ndarray:
    """Smoothed positions of a constant-velocity model for every column of ``z``.

    Parameters
    ----------
    z : ndarray, shape (time, series)
        Observations; NaN = missing.
    process_noise : float
        ``q``: variance of the random acceleration per frame.
    measurement_noise : float
        ``r``: observation noise variance.
    initial_variance : float, optional
        Prior variance of position and velocity at frame 0 (default ``1e6 * r``).

    Returns
    -------
    ndarray, shape (time, series)
        RTS-smoothed positions; NaN before a series' first and after its last
        observation (and everywhere for an all-missing series).

    Examples
    --------
    >>> z = np.array([[0.0], [1.1], [np.nan], [2.9], [4.0]])
    >>> cv_kalman_rts(z, process_noise=0.01, measurement_noise=0.1).round(1).ravel().tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    """
    z = np.asarray(z, dtype=float)
    if z.ndim != 2:
        raise ValueError(f"z must be (time, series), got shape {z.shape}")
    q, r = float(process_noise), float(measurement_noise)
    if not (q > 0 and r > 0):
        raise ValueError(f"process_noise and measurement_noise must be > 0, got {q}, {r}")
    n_t, n_s = z.shape
    obs = ~np.isnan(z)
    has = obs.any(0)
    first = np.where(has, obs.argmax(0), 0)
    p0 = 1e6 * r if initial_variance is None else float(initial_variance)
    x = np.where(has, z[first, np.arange(n_s)], 0.0)
    v = np.zeros(n_s)
    p00, p01, p11 = np.full(n_s, p0), np.zeros(n_s), np.full(n_s, p0)
    zz = np.nan_to_num(z)
    mf = obs.astype(float)
    xf, vf = np.empty((n_t, n_s)), np.empty((n_t, n_s))
    f00, f01, f11 = np.empty((n_t, n_s)), np.empty((n_t, n_s)), np.empty((n_t, n_s))
    q4, q2 = q / 4.0, q / 2.0
    starts = {int(t): np.flatnonzero(has & (first == t)) for t in np.unique(first[has]) if t > 0}
    for t in range(n_t):
        if t:
            x = x + v
            p00, p01, p11 = p00 + 2.0 * p01 + p11 + q4, p01 + p11 + q2, p11 + q
            if t in starts:  # a series' first observation: reset its prior
                j = starts[t]
                x[j], v[j], p00[j], p01[j], p11[j] = z[t, j], 0.0, p0, 0.0, p0
        m = mf[t]
        s = p00 + r
        k0, k1 = m * p00 / s, m * p01 / s
        y = zz[t] - x
        x = x + k0 * y
        v = v + k1 * y
        p00, p01, p11 = (1.0 - k0) * p00, (1.0 - k0) * p01, p11 - k1 * p01
        xf[t], vf[t], f00[t], f01[t], f11[t] = x, v, p00, p01, p11
    xs, vs = xf[-1].copy(), vf[-1].copy()
    out = np.empty((n_t, n_s))
    out[-1] = xs
    for t in range(n_t - 2, -1, -1):
        a, b, d = f00[t], f01[t], f11[t]
        pa, pb, pd = a + 2.0 * b + d + q4, b + d + q2, d + q          # predicted covariance at t+1
        det = pa * pd - pb * pb
        c00, c01 = a + b, b                                            # P F^T
        c10, c11 = b + d, d
        g00, g01 = (c00 * pd - c01 * pb) / det, (c01 * pa - c00 * pb) / det   # gain (P F^T) Pp^-1
        g10, g11 = (c10 * pd - c11 * pb) / det, (c11 * pa - c10 * pb) / det
        dx, dv = xs - (xf[t] + vf[t]), vs - vf[t]
        xs, vs = xf[t] + g00 * dx + g01 * dv, vf[t] + g10 * dx + g11 * dv
        out[t] = xs
    last = n_t - 1 - obs[::-1].argmax(0)
    t_idx = np.arange(n_t)[:, None]
    out[(t_idx < first) | (t_idx > last) | ~has] = np.nan
    return out
