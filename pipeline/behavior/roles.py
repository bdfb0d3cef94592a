"""Map a skeleton's keypoint names to the body-part roles the scorer needs.

Roles: ``nose``, ``left_ear``, ``right_ear``, ``neck``, ``tail_base``. Roles
not given in a ``role_map`` come from the names only when they are
unambiguous (:func:`pipeline.roles.auto_roles`); an ambiguous one is an
error, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..roles import auto_roles

ROLES = ("nose", "left_ear", "right_ear", "neck", "tail_base")

Resolution = dict  # role -> keypoint name, ("midpoint", a, b) for neck, or None


def resolve_roles(keypoints: Sequence[str], role_map: Mapping | None = None, *,
                  source: str = "skeleton") -> Resolution:
    """Resolve the scorer's roles to keypoint names of one skeleton.

    Parameters
    ----------
    keypoints : sequence of str
        The skeleton's keypoint names.
    role_map : mapping, optional
        Explicit ``role -> keypoint name`` entries; they override the built-in
        synonyms. ``None`` as a value marks the role as absent; for ``neck`` a
        ``("midpoint", a, b)`` tuple is accepted.
    source : str, keyword-only
        Named in the error message.

    Returns
    -------
    dict
        ``role -> keypoint name`` for every role in :data:`ROLES`; ``None``
        for an absent ear; ``neck`` is ``("midpoint", left_ear, right_ear)``
        when the skeleton has no neck but has both ears.

    Raises
    ------
    InputError
        No nose, no tail base, or neither a neck nor both ears; or a
        ``role_map`` entry naming an unknown role or keypoint.

    Examples
    --------
    >>> resolve_roles(["Nose", "Left_ear", "Right_ear", "Spine_1", "Tail_base"])["neck"]
    'Spine_1'
    >>> resolve_roles(["snout", "ear_left", "ear_right", "tailbase"])["neck"]
    ('midpoint', 'ear_left', 'ear_right')
    """
    keypoints = [str(k) for k in keypoints]
    role_map = {r: _as_midpoint(v) for r, v in (role_map or {}).items()}
    _check_role_map(role_map, keypoints, source)
    auto, ambiguous = auto_roles(keypoints)
    out: Resolution = {role: _role_value(role, role_map, auto, ambiguous, source) for role in ROLES}
    if out["neck"] is None and out["left_ear"] and out["right_ear"]:
        out["neck"] = ("midpoint", out["left_ear"], out["right_ear"])
    for role, why in (("nose", "nose"), ("tail_base", "tail base"), ("neck", "neck (or both ears)")):
        if out[role] is None:
            raise InputError(source, f"cannot find a {why} among the skeleton's keypoints "
                                     f"{keypoints}; pass role_map={{'{role}': ...}}")
    return out


def _as_midpoint(value):
    """A skeleton role ``{"centroid": [a, b]}`` is the scorer's ``("midpoint", a, b)``."""
    if isinstance(value, Mapping) and list(value) == ["centroid"] and len(value["centroid"]) == 2:
        return ("midpoint", *value["centroid"])
    return tuple(value) if isinstance(value, (tuple, list)) else value


def _check_role_map(role_map: dict, keypoints: list, source) -> None:
    for role, kp in role_map.items():
        if role not in ROLES:
            raise InputError(source, f"role_map names unknown role {role!r}; roles are {list(ROLES)}")
        parts = kp[1:] if isinstance(kp, tuple) else ([] if kp is None else [kp])
        if isinstance(kp, tuple) and (role != "neck" or len(kp) != 3 or kp[0] != "midpoint"):
            raise InputError(source, f"role_map[{role!r}] = {kp!r}: only neck may be ('midpoint', a, b)")
        missing = [p for p in parts if p not in keypoints]
        if missing:
            raise InputError(source, f"role_map[{role!r}] names keypoint(s) {missing} "
                                     f"not in the skeleton {keypoints}")


def _role_value(role: str, role_map: dict, auto: dict, ambiguous: dict, source):
    if role in role_map:
        return role_map[role]
    if role in ambiguous:
        raise InputError(source, f"the keypoint names leave role {role!r} ambiguous (one of {ambiguous[role]}); "
                                 f"set it for the skeleton (`ethojoint skeleton roles SKELETON {role}=KEYPOINT`) "
                                 "or pass role_map")
    return _as_midpoint(auto[role]) if role in auto else None


def role_points(positions: np.ndarray, keypoints: Sequence[str], roles: Resolution, *,
                layout: str = "time-major") -> dict:
    """Positions of every role.

    Parameters
    ----------
    positions : ndarray
        ``(time, individual, keypoint, space)``, or with ``layout="space-major"``
        ``(individual, keypoint, space, time)``.
    keypoints : sequence of str
    roles : dict
        From :func:`resolve_roles`.
    layout : {"time-major", "space-major"}, keyword-only

    Returns
    -------
    dict of str to ndarray
        ``(time, individual, space)`` arrays, or ``(space, individual, time)``
        views for ``layout="space-major"``. Absent roles (an ear the skeleton
        lacks) are all-NaN; a midpoint neck is the mean of its two keypoints
        (NaN when either is missing).
    """
    positions = np.asarray(positions, dtype=np.float64)
    if layout == "space-major":  # (individual, keypoint, space, time) -> per role (space, individual, time)
        get = lambda k: positions[:, k].transpose(1, 0, 2)  # noqa: E731
        empty = (positions.shape[2], positions.shape[0], positions.shape[3])
    else:
        get = lambda k: positions[:, :, k]  # noqa: E731
        empty = positions.shape[:2] + positions.shape[3:]
    index = {k: i for i, k in enumerate(keypoints)}
    out = {}
    for role in ROLES:
        r = roles.get(role)
        if r is None:
            out[role] = np.full(empty, np.nan)
        elif isinstance(r, tuple):
            out[role] = 0.5 * (get(index[r[1]]) + get(index[r[2]]))
        else:
            out[role] = get(index[r])
    return out
