"""Body model and the frame-by-frame motion of two mice with scripted contacts.

Coordinates are mm with the origin at the arena centre, x to the right and
y *down* (image orientation), so ``px = centre_px + mm / mm_per_px`` with no
flip. Angles are measured from +x towards +y; an animal's left is at its
heading -90 degrees. Randomness is drawn up front by the caller; the per-frame
loop (plain floats: faster than numpy on length-2 arrays) draws nothing.

Phases of one episode (agent A sniffs point P of target T): APPROACH -- T
stops and turns P's side towards A (stepping off the wall if needed); A walks
to a stand-off pose facing P, nose ``r0`` + 8 mm from P (``r0``: where A's
nose is 47 mm from all of T's keypoints); DOCKING (a few frames) -- A's pose,
in T's frame, is blended onto the stand-off pose at ``r0``; CONTACT (the
ground-truth frames) -- first and last frame are one fast dart (nose <= 19 mm
from P), in between the nose wobbles 4.5-12 mm from P, head on P; LEAVING --
A backs off along the same line to ``r0`` + 35 mm, then roams again.

While roaming, each nose is kept 62 mm from the other animal's keypoints
(soft avoidance plus a hard push; 45-47 mm while approaching, docking and
leaving), so the scripted contacts are the only ones.
"""

from __future__ import annotations

from math import atan2, cos, hypot, inf, pi, sin

import numpy as np
from scipy.signal import lfilter

from .spacing import _REACH, _closest, _move, _resolve, _wall_shift

KEYPOINTS = ("nose", "left_ear", "right_ear", "neck", "body_center", "tail_base")
EDGES = (("nose", "left_ear"), ("nose", "right_ear"), ("left_ear", "neck"),
         ("right_ear", "neck"), ("neck", "body_center"), ("body_center", "tail_base"))
BEHAVIORS = ("nose2nose", "nose2anogenital", "nose2neck", "nose2left_ear", "nose2right_ear")
# body geometry (mm at scale 1): centre->neck, neck->nose, ears forward/lateral of neck, centre->tail base
NECK, HEAD, EAR_F, EAR_L, TAIL = 25.0, 20.0, 6.0, 8.0, 30.0
_D2R = pi / 180.0
# behaviour -> (target keypoint index, approach-direction angles in the target's
# frame (deg, 0 = the target's head direction, -90 = its left), nose distance range mm)
_CONTACT = {
    "nose2nose": (0, np.linspace(-15, 15, 5), (5.0, 9.0)),
    "nose2anogenital": (5, np.linspace(145, 215, 7), (6.0, 12.0)),
    "nose2neck": (3, np.r_[np.linspace(-135, -112, 4), np.linspace(112, 135, 4)], (4.5, 7.5)),
    "nose2left_ear": (1, np.linspace(-97, -53, 5), (6.0, 11.0)),
    "nose2right_ear": (2, np.linspace(53, 97, 5), (6.0, 11.0)),
}
TARGET_KEYPOINT = {b: KEYPOINTS[v[0]] for b, v in _CONTACT.items()}  # the point each behaviour sniffs
CLEAR_FREE, CLEAR_NEAR = 62.0, 47.0  # nose-to-partner-keypoint clearance: roaming / approaching
APPROACH_S, DOCK_S, UNDOCK_S, BACKOFF = 3.0, 0.17, 0.27, 35.0  # lead, docking, leaving (s); back-off mm
FREE, APPROACH, DOCKING, CONTACT, LEAVING = range(5)


def phase_frames(fps: float) -> tuple[int, int, int]:
    """Approach lead, docking and leaving lengths in frames at ``fps``."""
    return (int(round(APPROACH_S * fps)), max(3, int(round(DOCK_S * fps))),
            max(3, int(round(UNDOCK_S * fps))))


def body_keypoints(cx, cy, th, bend, scale) -> np.ndarray:
    """Keypoints from body centre, heading and bend (any broadcastable shapes).

    Returns an array of shape ``(..., 6, 2)`` in :data:`KEYPOINTS` order.
    """
    cx, cy, th, bend, s = np.broadcast_arrays(*map(np.asarray, (cx, cy, th, bend, scale)))
    hb, h, tt = th + 0.5 * bend, th + bend, th - 0.5 * bend
    neck = np.stack([cx + NECK * s * np.cos(hb), cy + NECK * s * np.sin(hb)], -1)
    fwd = np.stack([np.cos(h), np.sin(h)], -1)
    left = np.stack([fwd[..., 1], -fwd[..., 0]], -1)
    ss = s[..., None]
    ear = neck + EAR_F * ss * fwd
    return np.stack([neck + HEAD * ss * fwd, ear + EAR_L * ss * left, ear - EAR_L * ss * left, neck,
                     np.stack([cx, cy], -1),
                     np.stack([cx - TAIL * s * np.cos(tt), cy - TAIL * s * np.sin(tt)], -1)], -2)


def ou(rng: np.random.Generator, shape, *, tau_frames: float, sigma: float) -> np.ndarray:
    """Stationary Ornstein-Uhlenbeck (AR(1)) noise along the last axis."""
    a = np.exp(-1.0 / tau_frames)
    e = rng.standard_normal(shape) * sigma * np.sqrt(1 - a * a)
    e[..., 0] = rng.standard_normal(shape[:-1]) * sigma
    return lfilter([1.0], [1.0, -a], e, axis=-1)


def pre_contact_radius(behavior: str, scale: float) -> np.ndarray:
    """For each approach angle, the nose distance from the target point at which
    the nose is :data:`CLEAR_NEAR` mm from every keypoint of a straight target."""
    k, ang, _ = _CONTACT[behavior]
    pts = body_keypoints(0.0, 0.0, 0.0, 0.0, scale)
    rel = pts - pts[k]
    u = np.stack([np.cos(ang * _D2R), np.sin(ang * _D2R)], -1)  # (a, 2)
    along = u @ rel.T  # (a, 6)
    perp2 = (rel ** 2).sum(-1)[None] - along ** 2
    root = along + np.sqrt(np.clip(CLEAR_NEAR ** 2 - perp2, 0, None))
    return np.where(perp2 < CLEAR_NEAR ** 2, root, 0.0).max(1).clip(CLEAR_NEAR) + 1.0


def _ref_angle(k, th, b):
    """Angle the approach directions of target keypoint ``k`` are relative to."""
    return th - 0.5 * b if k == 5 else th + b


def _kp(x, y, th, b, s):
    """One animal's keypoints as a flat list x0, y0, ..., x5, y5."""
    hb, h, tt = th + 0.5 * b, th + b, th - 0.5 * b
    nx, ny = x + NECK * s * cos(hb), y + NECK * s * sin(hb)
    ch, sh = cos(h), sin(h)
    ex, ey = nx + EAR_F * s * ch, ny + EAR_F * s * sh
    el = EAR_L * s
    return [nx + HEAD * s * ch, ny + HEAD * s * sh, ex + el * sh, ey - el * ch, ex - el * sh, ey + el * ch,
            nx, ny, x, y, x - TAIL * s * cos(tt), y - TAIL * s * sin(tt)]


def _wrap(a):
    return (a + pi) % (2 * pi) - pi





def run_motion(*, n_frames, fps, radius, scale, init, turn_noise, speed_pref, plan, episodes):
    """Integrate both animals frame by frame.

    Parameters
    ----------
    n_frames, fps, radius : int, float, float
        Length, frame rate and arena radius (mm).
    scale : sequence of 2 float
        Body size factor per animal.
    init : ndarray, shape (2, 3)
        Initial centre x, y and heading per animal.
    turn_noise, speed_pref : ndarray, shape (2, n_frames)
        Free-roaming turning rate (rad/s) and preferred speed (mm/s).
    plan : ndarray, shape (2, n_frames) int
        Row 0: phase code (FREE, APPROACH, DOCKING, CONTACT, LEAVING); row 1:
        episode index (-1 when FREE).
    episodes : list of dict
        Per episode: agent, target (0/1), behavior, start, end, dock, undock
        (frames) and the contact wobble parameters d_mid, d_amp (mm), period
        (s), phase and wob (rad).

    Returns
    -------
    ndarray, shape (4, 2, n_frames)
        Centre x, centre y, heading and bend per animal and frame.
    """
    dt, lim = 1.0 / fps, radius - 1.5
    X, Y = [float(v) for v in init[:, 0]], [float(v) for v in init[:, 1]]
    TH, B, V = [float(v) for v in init[:, 2]], [0.0, 0.0], [0.0, 0.0]
    S = [float(s) for s in scale]
    K = [_kp(X[i], Y[i], TH[i], 0.0, S[i]) for i in (0, 1)]
    out = np.empty((4, 2, n_frames))
    tn, sp = turn_noise.tolist(), speed_pref.tolist()
    phases, eps = plan.tolist()
    st = {"ep": -1}
    for t in range(n_frames):
        ph = phases[t]
        if ph == FREE:
            for i in (0, 1):
                _free_step(i, t, X, Y, TH, B, V, K, tn, sp, dt, radius)
            K = [_kp(X[i], Y[i], TH[i], B[i], S[i]) for i in (0, 1)]
            _resolve(K, X, Y, CLEAR_FREE, 0.5, lim)
        else:
            ep = episodes[eps[t]]
            a, g, beh = ep["agent"], ep["target"], ep["behavior"]
            kt, angs, _ = _CONTACT[beh]
            if st["ep"] != eps[t]:
                st = {"ep": eps[t], "ang": None, "dock": None, "kt": kt,
                      "radii": pre_contact_radius(beh, S[g]).tolist()}
            _target_step(a, g, t, ph, st, X, Y, TH, B, V, K, S, tn, dt, lim)
            ref = _ref_angle(kt, TH[g], B[g])
            px, py = K[g][2 * kt], K[g][2 * kt + 1]
            if st["ang"] is None or (ph == APPROACH and not st.get("near")):
                st["ang"], st["r0"], st["fits"] = _choose_side(px, py, ref, K[a], angs, st["radii"], S[a],
                                                               radius, st["ang"])
            if ph == APPROACH:
                _nav_step(a, X, Y, TH, B, V, K, px, py, st["ang"] + ref, st["r0"] + 8.0, dt, st)
                K[a] = _kp(X[a], Y[a], TH[a], B[a], S[a])
                _resolve(K, X, Y, CLEAR_NEAR, 0.8 if a == 0 else 0.2, lim)
            else:
                _scripted_step(a, t, ph, ep, st, px, py, ref, X, Y, TH, B, V, K, S, fps, lim)
        for i in (0, 1):
            out[0, i, t], out[1, i, t], out[2, i, t], out[3, i, t] = X[i], Y[i], TH[i], B[i]
    return out


def _target_step(a, g, t, ph, st, X, Y, TH, B, V, K, S, tn, dt, lim):
    """The approached animal stops, turns the approached side towards the agent
    and, if the agent would not fit between it and the wall, steps away from the wall."""
    busy = ph != APPROACH or st.get("near", False)
    V[g] = 0.9 * V[g] + 0.1 * (6.0 if busy else 2.0)
    turn = tn[g][t] * (0.1 if busy else 0.3)
    if not busy and st["ang"] is not None:
        d = _wrap(atan2(Y[a] - Y[g], X[a] - X[g]) - _ref_angle(st["kt"], TH[g], B[g]) - st["ang"])
        turn += max(-2.5, min(2.5, 2.5 * d))
    TH[g] += turn * dt
    B[g] = 0.8 * B[g] + 0.2 * max(-0.4, min(0.4, 0.12 * turn))
    X[g] += V[g] * dt * cos(TH[g])
    Y[g] += V[g] * dt * sin(TH[g])
    if ph == APPROACH and not st.get("fits", True):
        r = hypot(X[g], Y[g])
        X[g] -= 40.0 * dt * X[g] / r
        Y[g] -= 40.0 * dt * Y[g] / r
    K[g] = _kp(X[g], Y[g], TH[g], B[g], S[g])
    _move(K, X, Y, g, *_wall_shift(K[g], lim))


def _scripted_step(a, t, ph, ep, st, px, py, ref, X, Y, TH, B, V, K, S, fps, lim):
    """Place the agent for a docking, contact or leaving frame: :func:`_scripted`'s pose,
    from the target point (px, py) in the direction frame ``ref``, kept inside the arena."""
    c, s_ = cos(ref), sin(ref)
    if st["dock"] is None:  # first scripted frame: the agent's pose in the target's frame
        dx, dy = K[a][0] - px, K[a][1] - py
        st["dock"] = (dx * c + dy * s_, -dx * s_ + dy * c, TH[a] + B[a] - ref, B[a])
    rx, ry, head, bend = _scripted(t, ph, ep, st, fps)
    _place(a, px + rx * c - ry * s_, py + rx * s_ + ry * c, head + ref, bend, X, Y, TH, B, V, K, S)
    dx, dy = _wall_shift(K[a], lim)  # move the pair together if the agent would leave the arena
    if dx or dy:
        _move(K, X, Y, 0, dx, dy)
        _move(K, X, Y, 1, dx, dy)
    if ph == DOCKING:  # a blend from far off must not cut through the target
        _resolve(K, X, Y, CLEAR_NEAR - 2.0, 1.0 if a == 0 else 0.0, lim)


def _scripted(t, ph, ep, st, fps):
    """Agent nose (x, y), head direction and bend in the target point's frame
    while docking, in contact and backing off."""
    ang, r0 = st["ang"], st["r0"]
    if ph == DOCKING:  # blend from where the approach left it to r0 out, facing the point
        n0x, n0y, h0, b0 = st["dock"]
        w = (t - ep["start"] + ep["dock"] + 1) / ep["dock"]
        w = w * w * (3 - 2 * w)
        return ((1 - w) * n0x + w * r0 * cos(ang), (1 - w) * n0y + w * r0 * sin(ang),
                h0 + w * _wrap(ang + pi - h0), (1 - w) * b0)
    if ph == CONTACT:  # sniffing: distance and angle wobble; one fast frame in and out
        k, n = t - ep["start"], ep["end"] - ep["start"]
        cyc = 2 * pi * k / (ep["period"] * fps)
        osc = sin(cyc + ep["phase"])
        r = ep["d_mid"] + ep["d_amp"] * osc
        if k == 0 or k == n - 1:
            r = min(19.0, r + 0.3 * (r0 - r))
        a2 = ang + 0.08 * osc
        return r * cos(a2), r * sin(a2), a2 + pi + ep["wob"] * cos(cyc), 0.1 * osc
    w = (t - ep["end"]) / (ep["undock"] - 1)  # backing off
    r = r0 + BACKOFF * w * w * (3 - 2 * w)
    return r * cos(ang), r * sin(ang), ang + pi, 0.0


def _place(a, nx, ny, h, bend, X, Y, TH, B, V, K, S):
    """Set animal ``a`` from its nose position, head direction and bend."""
    s = S[a]
    TH[a], B[a], V[a] = h - bend, bend, 0.0
    X[a] = nx - HEAD * s * cos(h) - NECK * s * cos(h - 0.5 * bend)
    Y[a] = ny - HEAD * s * sin(h) - NECK * s * sin(h - 0.5 * bend)
    K[a] = _kp(X[a], Y[a], TH[a], B[a], s)


def _free_step(i, t, X, Y, TH, B, V, K, tn, sp, dt, radius):
    """Persistent random walk with wall and partner avoidance."""
    th, k, kp = TH[i], K[i], K[1 - i]
    turn, v = tn[i][t], sp[i][t]
    nx, ny = k[0], k[1]
    ax, ay = nx + 50 * cos(th), ny + 50 * sin(th)
    ra = hypot(ax, ay)
    if ra > radius - 10:
        over = min(1.0, (ra - radius + 10) / 40)
        d = _wrap(atan2(-ny, -nx) - th)
        turn += (5.0 if d >= 0 else -5.0) * over
        v *= 1 - 0.6 * over
    d, qx, qy = _closest(nx, ny, kp) if hypot(k[8] - kp[8], k[9] - kp[9]) < 130 + 2 * _REACH else (inf, 0, 0)
    if d < 130:
        w = (130 - d) / (130 - CLEAR_FREE)
        dd = _wrap(atan2(ny - qy, nx - qx) - th)
        turn += 4.0 * w * dd
        if cos(dd) < 0:
            v *= max(0.15, 1 + w * cos(dd))
    turn = max(-8.0, min(8.0, turn))
    V[i] = 0.8 * V[i] + 0.2 * v
    TH[i] = th + turn * dt
    B[i] = 0.75 * B[i] + 0.25 * max(-0.4, min(0.4, 0.12 * turn))
    X[i] += V[i] * dt * cos(TH[i])
    Y[i] += V[i] * dt * sin(TH[i])


def _choose_side(px, py, ref, ka, angs, radii, sa, radius, current=None):
    """Approach angle (target frame) nearest the agent's bearing, preferring poses
    that fit the arena; once chosen, only neighbouring angles (same side) are
    considered. Returns the angle (rad), its pre-contact radius and whether it fits."""
    bearing = atan2(ka[1] - py, ka[0] - px) - ref
    best = (inf, 0.0, 0.0, False)
    for ang, r0 in zip(angs, radii):
        a = ang * _D2R
        if current is not None and abs(_wrap(a - current)) > 0.7:
            continue
        far = r0 + 80 * sa
        fits = hypot(px + far * cos(a + ref), py + far * sin(a + ref)) < radius - 2
        score = abs(_wrap(a - bearing)) + (0.0 if fits else 10.0)
        if score < best[0]:
            best = (score, a, r0, fits)
    return best[1:]


def _nav_step(a, X, Y, TH, B, V, K, px, py, u, r_goal, dt, st):
    """Agent heads for the pose with its nose ``r_goal`` mm from the target point
    (px, py) in direction ``u``, facing it: it comes in along that line, waits
    140 mm off while the target turns if it is on the wrong side, and shuffles
    onto the goal once within 40 mm."""
    g = 1 - a
    ux, uy = cos(u), sin(u)
    reach = r_goal + hypot(K[a][0] - K[a][8], K[a][1] - K[a][9])
    gx, gy = px + reach * ux, py + reach * uy  # where the agent's centre should end up
    x, y = X[a], Y[a]
    dist = hypot(x - gx, y - gy)
    cx, cy = K[g][8], K[g][9]
    phi, phi_g = atan2(y - cy, x - cx), atan2(gy - cy, gx - cx)
    dphi = _wrap(phi_g - phi)
    st["near"] = dist < (80.0 if st.get("near") else 40.0)
    if st["near"]:  # nearly there: face the target point and shuffle onto the goal
        dh = _wrap(u + pi - TH[a])
        step = min(4.0 * dist, 150.0) * dt / max(dist, 1e-9)
        X[a] += step * (gx - x)
        Y[a] += step * (gy - y)
        v = 0.0
    else:
        if abs(dphi) > 1.0 and dist > 60:  # wrong side: close in to 140 mm while the target turns
            rho = hypot(x - cx, y - cy)
            aimx, aimy = cx + 140.0 * (x - cx) / rho, cy + 140.0 * (y - cy) / rho
            dist = abs(rho - 140.0)
        else:
            lead = min(0.7 * dist, 90.0)
            aimx, aimy = gx + lead * ux, gy + lead * uy
        dh = _wrap(atan2(aimy - y, aimx - x) - TH[a])
        v = min(260.0, 4.0 * dist) * max(0.1, cos(dh))
    turn = 7.0 if dh > 2.8 or dh < -2.8 else max(-7.0, min(7.0, 7.0 * dh))
    V[a] = 0.7 * V[a] + 0.3 * v
    TH[a] += turn * dt
    B[a] = 0.75 * B[a] + 0.25 * max(-0.4, min(0.4, 0.12 * turn))
    X[a] += V[a] * dt * cos(TH[a])
    Y[a] += V[a] * dt * sin(TH[a])
