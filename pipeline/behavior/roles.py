"""Map a skeleton's keypoint names to the body-part roles the scorer needs.

Roles: ``nose``, ``left_ear``, ``right_ear``, ``neck``, ``tail_base``. Names
are matched case-insensitively after removing ``_``, ``-``, ``.`` and spaces,
so ``Left_ear``, ``left-ear`` and ``leftear`` are the same name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InputError

ROLES = ("nose", "left_ear", "right_ear", "neck", "tail_base")

# role -> (preferred synonyms, fallbacks used only when no preferred name exists);
# within each group the earlier synonym wins.
SYNONYMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "nose": (("nose", "snout", "nosetip"), ("head",)),
    "left_ear": (("leftear", "earleft", "earl"), ()),
    "right_ear": (("rightear", "earright", "earr"), ()),
    "neck": (("neck", "spine1", "nape"), ("thorax",)),
    "tail_base": (("tailbase", "baseoftail", "tailroot", "tail0", "tailstart"), ("abdomen",)),
}

Resolution = dict  # role -> keypoint name, ("midpoint", a, b) for neck, or None


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(name)).lower()


def _find(keypoints: Sequence[str], names: tuple[str, ...]) -> str | None:
    by_norm: dict[str, str] = {}
    for k in keypoints:
        by_norm.setdefault(_norm(k), k)
    for n in names:
        if n in by_norm:
            return by_norm[n]
    return None


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
    role_map = dict(role_map or {})
    known = set(keypoints)
    for role, kp in role_map.items():
        if role not in ROLES:
            raise InputError(source, f"role_map names unknown role {role!r}; roles are {list(ROLES)}")
        parts = kp[1:] if isinstance(kp, (tuple, list)) else ([] if kp is None else [kp])
        if isinstance(kp, (tuple, list)) and (role != "neck" or len(kp) != 3 or kp[0] != "midpoint"):
            raise InputError(source, f"role_map[{role!r}] = {kp!r}: only neck may be ('midpoint', a, b)")
        missing = [p for p in parts if p not in known]
        if missing:
            raise InputError(source, f"role_map[{role!r}] names keypoint(s) {missing} "
                                     f"not in the skeleton {keypoints}")
    out: Resolution = {}
    for role in ROLES:
        if role in role_map:
            v = role_map[role]
            out[role] = tuple(v) if isinstance(v, (tuple, list)) else v
            continue
        preferred, fallback = SYNONYMS[role]
        out[role] = _find(keypoints, preferred) or _find(keypoints, fallback)
    if out["neck"] is None and out["left_ear"] and out["right_ear"]:
        out["neck"] = ("midpoint", out["left_ear"], out["right_ear"])
    for role, why in (("nose", "nose"), ("tail_base", "tail base"), ("neck", "neck (or both ears)")):
        if out[role] is None:
            raise InputError(source, f"cannot find a {why} among the skeleton's keypoints "
                                     f"{keypoints}; pass role_map={{'{role}': ...}}")
    return out


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
