"""Splits for classifier training: by recording (never by frame), or by contiguous time blocks.

A recording's frames are strongly autocorrelated, so frames of one recording
never sit on both sides of a split: :func:`split_recordings` and
:func:`kfold_recordings` split recording *names*, and within a single
recording :func:`block_folds` cuts time into ``k`` contiguous blocks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _names(recordings: Sequence[str]) -> list[str]:
    names = sorted({str(r) for r in recordings})
    if not names:
        raise ValueError("no recordings to split")
    return names


def split_recordings(recordings: Sequence[str], *, validation: float = 0.2, test: float = 0.2,
                     seed: int = 0) -> dict[str, tuple[str, ...]]:
    """Split recording names into train, validation and test, seeded.

    Parameters
    ----------
    recordings : sequence of str
        Recording names (duplicates count once; their order does not matter).
    validation, test : float, keyword-only
        Fractions of the recordings, rounded; a part with a fraction > 0 gets at
        least one recording, and train keeps at least one.
    seed : int, keyword-only
        ``numpy.random.default_rng`` seed.

    Returns
    -------
    dict
        ``{"train": names, "validation": names, "test": names}``, each sorted;
        no name in two parts.

    Examples
    --------
    >>> s = split_recordings([f"r{i}" for i in range(10)], seed=1)
    >>> [len(s[k]) for k in ("train", "validation", "test")]
    [6, 2, 2]
    """
    names = _names(recordings)
    n = len(names)
    sizes = [max(int(f > 0), int(round(f * n))) for f in (validation, test)]
    if min(validation, test) < 0 or sum(sizes) >= n:
        raise ValueError(f"cannot split {n} recordings into validation={validation}, test={test} and a train part")
    order = [names[i] for i in np.random.default_rng(seed).permutation(n)]
    val, tst = order[:sizes[0]], order[sizes[0]:sizes[0] + sizes[1]]
    return {"train": tuple(sorted(order[sum(sizes):])), "validation": tuple(sorted(val)), "test": tuple(sorted(tst))}


def kfold_recordings(recordings: Sequence[str], *, k: int = 5, seed: int = 0) -> list[dict[str, tuple[str, ...]]]:
    """``k`` folds by recording: each recording is tested in exactly one fold.

    Returns
    -------
    list of dict
        ``{"train": names, "test": names}`` per fold, sorted.

    Examples
    --------
    >>> folds = kfold_recordings(["a", "b", "c", "d", "e"], k=2, seed=0)
    >>> sorted(n for f in folds for n in f["test"])
    ['a', 'b', 'c', 'd', 'e']
    """
    names = _names(recordings)
    if not 2 <= k <= len(names):
        raise ValueError(f"k must be between 2 and the number of recordings ({len(names)}), got {k}")
    order = np.random.default_rng(seed).permutation(len(names))
    parts = np.array_split(order, k)
    return [{"train": tuple(sorted(names[i] for j, p in enumerate(parts) if j != f for i in p)),
             "test": tuple(sorted(names[i] for i in parts[f]))} for f in range(k)]


def time_blocks(n_frames: int, *, k: int = 5) -> np.ndarray:
    """``k`` contiguous blocks of (nearly) equal length, ``[start, end)`` rows.

    Examples
    --------
    >>> time_blocks(10, k=3).tolist()
    [[0, 4], [4, 7], [7, 10]]
    """
    if not 2 <= k <= n_frames:
        raise ValueError(f"k must be between 2 and n_frames ({n_frames}), got {k}")
    edges = np.cumsum([0] + [len(p) for p in np.array_split(np.arange(n_frames), k)])
    return np.column_stack([edges[:-1], edges[1:]])


def block_folds(n_frames: int, *, k: int = 5, gap_frames: int = 0, validation: bool = True) -> list[dict]:
    """Blocked cross-validation over time: each block is the test block once.

    With ``validation``, the block after the test block (cyclically) is the
    validation block (for a threshold) and the other ``k - 2`` train; without,
    the other ``k - 1`` train. Training frames within ``gap_frames`` of a test
    or validation frame are left out, so no feature window spans both sides.

    Returns
    -------
    list of dict
        Per fold: ``test``, ``validation`` (empty without validation) and
        ``train``, boolean masks of length ``n_frames``, disjoint.

    Examples
    --------
    >>> f = block_folds(10, k=5, gap_frames=1)[0]
    >>> f["test"].astype(int).tolist(), f["validation"].astype(int).tolist(), f["train"].astype(int).tolist()
    ([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    blocks = time_blocks(n_frames, k=k)
    if validation and k < 3:
        raise ValueError("a validation block needs k >= 3")
    folds = []
    for i, (s, e) in enumerate(blocks):
        test = np.zeros(n_frames, bool)
        test[s:e] = True
        val = np.zeros(n_frames, bool)
        if validation:
            vs, ve = blocks[(i + 1) % k]
            val[vs:ve] = True
        held = test | val
        near = np.convolve(held, np.ones(2 * gap_frames + 1), mode="same") > 0 if gap_frames else held
        folds.append({"test": test, "validation": val, "train": ~near})
    return folds
