"""Animals written as body-part prefixes: split them into individuals.

Some multi-animal tables have no ``individuals`` level: each animal's body
parts carry a prefix instead (DeepOF's multi-animal layout: ``B_Nose``,
``W_Nose``, ... for a black and a white mouse). Read as they are, they make
one individual with twice the body parts, and every social measure fails.

:func:`split_prefixed` turns such a table into one individual per prefix
with the unprefixed body-part names, either from prefixes the user names or
by detection. Detection splits only when it is unambiguous: every body part
has a prefix (the text before the first ``_``, ``-``, ``.`` or space), there
are at least two prefixes, every prefix has the same body parts (at least
two), and no prefix is a side or position word (``left_ear``/``right_ear``
name one animal's sides, not two animals). Tables that look prefixed but
fail a condition stop with an error that lists what was found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from pipeline.errors import InputError
from pipeline.pose import PoseData, relayout

# prefixes that name a side or position of one body, not an animal
POSITION_WORDS = frozenset({
    "left", "right", "l", "r", "lf", "rf", "lh", "rh", "front", "back", "fore", "hind", "rear", "upper", "lower",
    "top", "bottom", "inner", "outer", "anterior", "posterior", "dorsal", "ventral", "mid", "middle", "center",
    "centre", "head", "body", "tail", "spine", "neck", "ear", "paw", "hip", "limb", "leg", "arm"})
_SEPARATOR = re.compile(r"[_\-. ]")


def split_prefixed(pose: PoseData, prefixes: Mapping | bool | None = None, *, source="pose") -> PoseData:
    """Split a one-individual pose whose body parts are prefixed by animal.

    Parameters
    ----------
    pose : PoseData
        As read from the file.
    prefixes : mapping, False or None
        ``{prefix: individual name}`` (e.g. ``{"B_": "black", "W_": "white"}``)
        to split by those prefixes; ``False`` never to split; ``None`` to
        detect (see the module docstring).
    source : str or Path, keyword-only
        Named in error messages.

    Returns
    -------
    PoseData
        Unchanged when there is nothing to split. Otherwise one individual
        per prefix, body parts without the prefix (a part one animal lacks
        is NaN for it), and ``reading["individual_prefixes"]`` = the
        prefix → individual map used, ``reading["prefixes_detected"]`` whether
        it was detected.

    Raises
    ------
    InputError
        Prefixes given for a file that already has several individuals, or
        that leave body parts unmatched; a detected prefix structure that is
        ambiguous (the message lists the prefixes and their body parts).

    Examples
    --------
    >>> import numpy as np
    >>> names = ("B_nose", "B_tail", "W_nose", "W_tail")
    >>> p = PoseData(np.zeros((5, 1, 4, 2)), np.ones((5, 1, 4)), individuals=("ind",), keypoints=names)
    >>> q = split_prefixed(p)
    >>> q.individuals, q.keypoints, q.reading["individual_prefixes"]
    (('B', 'W'), ('nose', 'tail'), {'B_': 'B', 'W_': 'W'})
    """
    if prefixes is False:
        return replace(pose, reading=dict(pose.reading, individual_prefixes=None))
    if prefixes is not None and not isinstance(prefixes, Mapping):
        raise InputError(source, f"individual_prefixes must be a mapping {{prefix: name}} or false, got {prefixes!r}")
    if pose.n_individuals != 1:
        if prefixes:
            raise InputError(source, f"individual_prefixes given, but the file already has {pose.n_individuals} "
                                     f"individuals {list(pose.individuals)}")
        return pose
    detected = prefixes is None
    if detected:
        prefixes = detect_prefixes(pose.keypoints, source=source)
        if prefixes is None:
            return pose
    groups = _match(pose.keypoints, {str(p): str(n) for p, n in prefixes.items()}, source)
    return _split(pose, groups, dict(prefixes), detected)


def detect_prefixes(keypoints, *, source="pose") -> dict | None:
    """``{prefix: individual}`` when body parts are unambiguously animal-prefixed, else None.

    Raises InputError when the names look prefixed by animal but are
    ambiguous (see the module docstring).

    Examples
    --------
    >>> detect_prefixes(["m1_nose", "m1_tail", "m2_nose", "m2_tail"])
    {'m1_': 'm1', 'm2_': 'm2'}
    >>> detect_prefixes(["nose", "left_ear", "right_ear"]) is None
    True
    """
    split = [_SEPARATOR.split(str(k), maxsplit=1) for k in keypoints]
    if any(len(s) != 2 or not s[0] or not s[1] for s in split):
        return None  # a body part without a prefix: not an animal-prefixed table
    groups: dict[str, list[str]] = {}
    for k, (head, rest) in zip(keypoints, split):
        groups.setdefault(str(k)[: len(head) + 1], []).append(rest)
    if len(groups) < 2:
        return None
    parts = [set(v) for v in groups.values()]
    same = all(p == parts[0] for p in parts) and len(parts[0]) >= 2
    sides = sorted(p for p in groups if p[:-1].lower() in POSITION_WORDS)
    if same and not sides:
        return {p: p[:-1] for p in groups}
    shared = set.intersection(*parts)
    if len(shared) < 2 and not same:
        return None  # different body parts per prefix: one animal's body regions
    found = "; ".join(f"{p!r}: {sorted(v)}" for p, v in groups.items())
    why = (f"the prefixes {sides} name sides or body regions" if sides else
           "the prefixes do not all have the same body parts")
    raise InputError(source, f"body-part names look prefixed by animal, but {why} (found {found}). Say which: "
                             "individual_prefixes: {PREFIX: NAME, ...} to split the file into animals, or "
                             "individual_prefixes: false to keep it as one animal")


def _match(keypoints, prefixes: dict[str, str], source) -> list[tuple[str, int, str]]:
    """(individual, keypoint index, unprefixed name) for every body part; error if one is unmatched."""
    if len(set(prefixes.values())) != len(prefixes):
        raise InputError(source, f"individual_prefixes maps two prefixes to one name: {prefixes}")
    out, unmatched = [], []
    longest_first = sorted(prefixes, key=len, reverse=True)
    for i, k in enumerate(keypoints):
        prefix = next((p for p in longest_first if k.startswith(p) and len(k) > len(p)), None)
        if prefix is None:
            unmatched.append(k)
        else:
            out.append((prefixes[prefix], i, k[len(prefix):]))
    if unmatched:
        raise InputError(source, f"body parts {unmatched} start with none of the individual_prefixes "
                                 f"{list(prefixes)}")
    return out


def _split(pose: PoseData, groups, prefixes: dict, detected: bool) -> PoseData:
    individuals = list(dict.fromkeys(prefixes.values()))
    names = list(dict.fromkeys(rest for _, _, rest in groups))
    shape = (pose.n_frames, len(individuals), len(names))
    positions = np.full(shape + (pose.n_space,), np.nan)
    confidence = np.full(shape, np.nan)
    for ind, i, rest in groups:
        j, k = individuals.index(ind), names.index(rest)
        positions[:, j, k] = pose.positions[:, 0, i]
        confidence[:, j, k] = pose.confidence[:, 0, i]
    extra = relayout(pose, shape, lambda out, a: [out.__setitem__((slice(None), individuals.index(ind),
                                                                   names.index(rest)), a[:, 0, i])
                                                  for ind, i, rest in groups])
    strip = {a: b for ind, i, b in groups for a in [pose.keypoints[i]]}
    edges = tuple(dict.fromkeys((strip[a], strip[b]) for a, b in pose.edges if a in strip and b in strip))
    reading = dict(pose.reading, individual_prefixes=prefixes, prefixes_detected=detected)
    return replace(pose, positions=positions, confidence=confidence, individuals=tuple(individuals),
                   keypoints=tuple(names), edges=edges, reading=reading, uncertainty=extra)
