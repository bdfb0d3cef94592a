"""Role maps of rule documents: check them against a skeleton and turn roles into point arrays.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

from ..errors import InputError
from .ruledoc import RuleDocument

# ---------------------------------------------------------------- roles

def resolve_document_roles(doc: RuleDocument, roles: Mapping, keypoints) -> dict:
    """Check a role map against a document and a skeleton.

    Parameters
    ----------
    doc : RuleDocument
    roles : mapping
        ``role -> keypoint name``, list of names (a set), ``{"centroid": [...]}``,
        ``{"median": [...]}``; ``"*"`` stands for all keypoints; ``None``: the
        skeleton lacks the role (its points are missing in every frame, so a
        behaviour that needs it is unscorable, or no contact).
    keypoints : sequence of str
        The pose's keypoints.

    Returns
    -------
    dict
        ``role -> (kind, keypoint indices)`` with kind ``"set"``, ``"centroid"``,
        ``"median"`` (a single keypoint is a one-point set) or ``"absent"``, for
        the roles the document uses.

    Raises
    ------
    InputError
        A role the document uses is not mapped, or a mapping names an
        unknown keypoint or has a bad form.
    """
    if not isinstance(roles, Mapping):
        raise InputError(doc.name, f"the role map must be a mapping role -> keypoint(s), got {roles!r}")
    keypoints = list(keypoints)
    missing = [r for r in doc.used_roles if r not in roles]
    if missing:
        raise InputError(doc.name, f"role map lacks role(s) {missing} that the rules use; "
                                   f"skeleton keypoints: {keypoints}")
    return {r: _resolve_one(doc.name, r, roles[r], keypoints) for r in doc.used_roles}


def _resolve_one(source: str, role: str, value, keypoints: list) -> tuple:
    if value is None:
        return "absent", []
    kind = "set"
    if isinstance(value, Mapping):
        if len(value) != 1 or next(iter(value)) not in ("centroid", "median"):
            raise InputError(source, f"role {role!r}: a mapping must be {{centroid: [...]}} or {{median: [...]}}, "
                                     f"got {value!r}")
        (kind, value), = value.items()
    names = keypoints if value == "*" else [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(k, str) for k in names):
        raise InputError(source, f"role {role!r}: expected a keypoint name or a list of names, got {value!r}")
    unknown = [k for k in names if k not in keypoints]
    if unknown:
        raise InputError(source, f"role {role!r} names keypoint(s) {unknown} not in the skeleton {keypoints}")
    return kind, [keypoints.index(k) for k in names]


def _space_major(positions: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``positions * scale``, still indexed ``(time, individual, points, space)`` but stored
    ``(points, space, individual, time)``: each coordinate's ``(individual, time)`` rows are
    contiguous, as the pair primitives read them.  Copied in cache-sized blocks of frames."""
    n_t = positions.shape[0]
    src = np.asarray(positions, dtype=np.float64).transpose(2, 3, 1, 0)
    out = np.empty(src.shape)
    for s in range(0, n_t, 2048):
        np.multiply(src[..., s:s + 2048], scale, out=out[..., s:s + 2048])
    return out.transpose(3, 2, 0, 1)


def _role_points(positions: np.ndarray, kind: str, index: list) -> np.ndarray:
    """``(time, individual, points, space)`` positions of one role (stored as :func:`_space_major`)."""
    if kind == "absent":
        return _space_major(np.full(positions.shape[:2] + (1,) + positions.shape[3:], np.nan))
    pts = positions[:, :, index[0]:index[0] + 1] if len(index) == 1 else positions[:, :, index]
    if kind == "centroid":
        return _space_major(pts.mean(axis=2, keepdims=True))
    if kind == "median":  # NaN-ignoring, as AmadeusGPT's body centre
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
            return _space_major(np.nanmedian(pts, axis=2, keepdims=True))
    return pts


def document_roles(resolution: Mapping) -> dict:
    """A role map for :func:`score_document` from :func:`pipeline.behavior.roles.resolve_roles`.

    Parameters
    ----------
    resolution : mapping
        ``role -> keypoint name``, ``("midpoint", a, b)`` or None (absent).

    Returns
    -------
    dict
        ``("midpoint", a, b)`` becomes ``{"centroid": [a, b]}``; the rest is
        kept as is.

    Examples
    --------
    >>> document_roles({"nose": "snout", "neck": ("midpoint", "ear_l", "ear_r"), "left_ear": None})
    {'nose': 'snout', 'neck': {'centroid': ['ear_l', 'ear_r']}, 'left_ear': None}
    """
    return {r: {"centroid": list(v[1:])} if isinstance(v, tuple) else v for r, v in resolution.items()}
