"""Body-part roles of a skeleton: which keypoint is the nose, the neck, the tail base, ...

Rules name roles, skeletons name keypoints. A role is one keypoint
(``"TTI"``), a set of keypoints (``["Left_ear", "Spine_1", ...]``: distances
take the minimum over the set), or the centroid/median of several
(``{"centroid": ["Ear_L", "Ear_R"]}``). The standard roles are
:data:`STANDARD_ROLES`; any other lower-case name (``body``) is a
user-defined role.

Roles are set per skeleton, by the user or from the names. Names resolve a
standard role only when that is unambiguous (see :func:`auto_roles`):
``Tail_base`` is the tail base, but a skeleton with ``Tail_0``, ``Tail_1``
and ``TTI`` must say which one is. :func:`skeleton_roles` refuses the
ambiguous cases and lists the candidates.

Examples
--------
>>> roles = skeleton_roles(["Nose", "Ear_L", "Ear_R", "Spine_1", "Center", "Tail_base"], {})
>>> {r: v["spec"] for r, v in roles.items()}["neck"], roles["neck"]["resolved"]
('Spine_1', 'auto')
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence

from .errors import InputError

STANDARD_ROLES = ("nose", "neck", "left_ear", "right_ear", "tail_base", "body_centre")
KINDS = ("centroid", "median")  # roles made of several keypoints, as one point

# role -> (names that say it alone, weaker names taken only when the family has no other member,
#          the family: a pattern for the keypoints that could be this role)
_NAMES = {
    "nose": (("nose", "snout", "nosetip"), ("head",), r"nose|snout|head|muzzle"),
    "neck": (("neck", "nape", "spine1"), ("thorax",), r"neck|nape|spine|thorax|wither"),
    "left_ear": (("leftear", "earleft", "earl"), (), r"ear"),
    "right_ear": (("rightear", "earright", "earr"), (), r"ear"),
    "tail_base": (("tailbase", "baseoftail", "tailroot"), ("tail0", "tailstart", "abdomen"), r"tail|tti|abdomen"),
    "body_centre": (("center", "centre", "bodycenter", "bodycentre", "centroid", "mousecenter"), (),
                    r"cent|body|trunk"),
}
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(name)).lower()


def check_role(role: str, spec, keypoints: Sequence[str], *, source="skeleton"):
    """Validate one role and its keypoint(s); return the spec in canonical form.

    Raises
    ------
    InputError
        A role name that is not a lower-case identifier, or that looks like a
        misspelt standard role; a keypoint the skeleton lacks; a bad form.

    Examples
    --------
    >>> check_role("neck", {"centroid": ["a", "b"]}, ["a", "b"])
    {'centroid': ['a', 'b']}
    """
    role = str(role)
    if not _ROLE_NAME.match(role):
        raise InputError(source, f"role name {role!r}: use lower-case letters, digits and _ (max 32)")
    near = difflib.get_close_matches(role, STANDARD_ROLES, n=1, cutoff=0.8)
    if role not in STANDARD_ROLES and near:
        raise InputError(source, f"unknown role {role!r}: did you mean {near[0]!r}? "
                                 f"(standard roles: {list(STANDARD_ROLES)})")
    names, kind = _names_of(role, spec, source)
    unknown = [k for k in names if k not in keypoints]
    if unknown:
        raise InputError(source, f"role {role!r} names keypoint(s) {unknown} that the skeleton lacks "
                                 f"(its keypoints: {list(keypoints)})")
    if kind:
        return {kind: names}
    return names[0] if isinstance(spec, str) else names


def _names_of(role, spec, source) -> tuple[list[str], str | None]:
    kind = None
    if isinstance(spec, Mapping):
        if len(spec) != 1 or next(iter(spec)) not in KINDS:
            raise InputError(source, f"role {role!r}: write a keypoint, a list of keypoints, or "
                                     f"{{centroid: [..]}} / {{median: [..]}}; got {spec!r}")
        (kind, spec), = spec.items()
    names = [spec] if isinstance(spec, str) else spec
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(k, str) and k for k in names):
        raise InputError(source, f"role {role!r}: expected keypoint name(s), got {spec!r}")
    return [str(k) for k in names], kind


def auto_roles(keypoints: Sequence[str]) -> tuple[dict, dict]:
    """Standard roles that the names give unambiguously, and the ambiguous ones.

    A role is resolved by a name that says it alone (``Tail_base``,
    ``Neck``, ``Left_ear``; exactly one such keypoint), or by a weaker name
    (``Tail_0``, ``head``, ``thorax``) when no other keypoint of its family
    (``tail``, ``TTI`` ...) could also be it. Without a neck, the centroid of
    two unambiguous ears is the neck.

    Returns
    -------
    (dict, dict)
        ``role -> spec`` resolved, and ``role -> [candidate keypoints]``
        for roles that the names leave open. Roles with no candidate at all
        are in neither.

    Examples
    --------
    >>> auto_roles(["Nose", "TTI", "Tail_0", "Tail_1", "Neck"])[1]
    {'tail_base': ['Tail_0', 'TTI', 'Tail_1']}
    """
    resolved, ambiguous = {}, {}
    for role, (strong, weak, family) in _NAMES.items():
        found, candidates = _resolve_one(keypoints, strong, weak, family, role)
        if found is not None:
            resolved[role] = found
        elif candidates:
            ambiguous[role] = candidates
    if "neck" not in resolved and "neck" not in ambiguous and {"left_ear", "right_ear"} <= set(resolved):
        resolved["neck"] = {"centroid": [resolved["left_ear"], resolved["right_ear"]]}
    return resolved, ambiguous


def _resolve_one(keypoints, strong, weak, family, role) -> tuple[str | None, list[str]]:
    side = {"left_ear": "l", "right_ear": "r"}.get(role)
    strong_hits = [k for k in keypoints if _norm(k) in strong]
    if len(strong_hits) == 1:
        return strong_hits[0], []
    if strong_hits:
        return None, strong_hits
    weak_hits = [k for n in weak for k in keypoints if _norm(k) == n]
    members = [k for k in keypoints if re.search(family, _norm(k)) and (side is None or _side(k) == side)]
    pool = list(dict.fromkeys(weak_hits + members))
    if weak_hits and len(pool) == 1:
        return weak_hits[0], []
    return None, (pool if weak_hits else [])


def _side(name: str) -> str | None:
    n = _norm(name)
    if "left" in n or n.endswith("l") or n.startswith("l"):
        return "l"
    if "right" in n or n.endswith("r") or n.startswith("r"):
        return "r"
    return None


def skeleton_roles(keypoints: Sequence[str], given: Mapping | None = None, *, source="skeleton") -> dict:
    """The roles of one skeleton: the given ones, plus the standard roles the names resolve.

    Parameters
    ----------
    keypoints : sequence of str
        The skeleton's keypoints.
    given : mapping, optional
        ``role -> spec`` set by the user; they win over names.
    source : str, keyword-only
        Named in errors (manifest entry, skeleton).

    Returns
    -------
    dict
        ``role -> {"spec": ..., "resolved": "given" | "auto"}``.

    Raises
    ------
    InputError
        A bad given role (see :func:`check_role`), or a standard role that
        the names leave ambiguous and that is not given: the message lists
        the candidates and how to give the role.
    """
    keypoints = [str(k) for k in keypoints]
    out = {str(r): {"spec": check_role(r, s, keypoints, source=source), "resolved": "given"}
           for r, s in (given or {}).items()}
    resolved, ambiguous = auto_roles(keypoints)
    open_roles = {r: c for r, c in ambiguous.items() if r not in out}
    if open_roles:
        listing = "; ".join(f"{r}: one of {c}" for r, c in open_roles.items())
        example = ", ".join(f"{r}: {c[0]}" for r, c in open_roles.items())
        raise InputError(source, f"the keypoint names leave role(s) ambiguous ({listing}). Say which, in the "
                                 f"manifest (roles: {{{example}}}) or with `ethojoint skeleton roles SKELETON "
                                 f"{' '.join(f'{r}=KEYPOINT' for r in open_roles)}`")
    for role, spec in resolved.items():
        out.setdefault(role, {"spec": spec, "resolved": "auto"})
    return out


def describe_roles(roles: Mapping) -> str:
    """``nose=Nose (auto), tail_base=TTI (given), ...`` for printing."""
    return ", ".join(f"{r}={v['spec']} ({v['resolved']})" for r, v in sorted(roles.items()))
