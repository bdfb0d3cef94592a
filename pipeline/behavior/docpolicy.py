"""Exclusivity policies of rule documents: priority lists and 'closest point wins'.
"""

from __future__ import annotations

import numpy as np

from .bouts import hysteresis
from .ruledoc import RuleDocument


def _exclusive(doc: RuleDocument, contact: dict, rev: np.ndarray) -> dict:
    """Drop frames claimed by a behaviour earlier in the priority list."""
    if doc.exclusivity != "exclusive":
        return contact
    mutual = {b.name: b.pairs == "mutual" for b in doc.behaviors}
    claimed = np.zeros_like(next(iter(contact.values())))
    out = dict(contact)
    for name in doc.priority:
        c = out[name] & ~claimed
        out[name] = c
        claimed |= (c | c[rev]) if mutual[name] else c
    return out


def _pick_closest(cand: dict, rank: dict) -> dict:
    """Per frame, only the candidate with the smallest rank (ties: the first listed) stays True."""
    best_d, best = None, None
    for k, name in enumerate(cand):
        d = np.where(cand[name], rank[name], np.inf)
        if best is None:
            best_d, best = d, np.where(cand[name], k, -1)
            continue
        closer = d < best_d
        best_d = np.where(closer, d, best_d)
        best[closer] = k
    return {name: best == k for k, name in enumerate(cand)}


class _Closest:
    """Policy ``closest``: ``priority`` behaviours first, then the ``closest`` group by distance.

    Strict frames are decided first (each priority behaviour takes its frames
    in turn, then of the group's behaviours that hold, the one with the
    smallest distance); hysteresis then extends each behaviour over adjacent
    frames where the same decision with its relaxed bounds gives it, never
    over a frame that another behaviour holds strictly.  A mutual behaviour
    claims a frame for both directions of the pair.
    """

    def __init__(self, doc: RuleDocument, raw: dict, rev: np.ndarray):
        self.raw, self.rev = raw, rev
        self.mutual = {b.name: b.pairs == "mutual" for b in doc.behaviors}
        self.items = [(n,) for n in doc.priority] + [tuple(doc.closest)]
        self.rank = {n: raw[n].rank for n in doc.closest}

    def _claims(self, name: str, c: np.ndarray) -> np.ndarray:
        return (c | c[self.rev]) if self.mutual[name] else c

    def _decide(self, masks: dict) -> dict:
        """Resolve one set of masks in priority order; the group by closest distance."""
        claimed = np.zeros_like(next(iter(masks.values())))
        out = {}
        for item in self.items:
            cand = {n: masks[n] & ~claimed for n in item}
            got = _pick_closest(cand, self.rank) if len(item) > 1 else cand
            for n, c in got.items():
                out[n] = c
                claimed |= self._claims(n, c)
        return out

    def _busy(self, strict: dict) -> dict:
        """Per behaviour, the frames that another behaviour holds strictly."""
        claims = {n: self._claims(n, c) for n, c in strict.items()}
        total = np.zeros_like(next(iter(strict.values())), dtype=np.int16)
        for c in claims.values():
            total += c
        busy = {n: (total - claims[n]) > 0 for n in strict}
        return {n: (b | b[self.rev]) if self.mutual[n] else b for n, b in busy.items()}

    def resolve(self) -> dict:
        """Final contact of every behaviour under the policy."""
        strict = self._decide({n: r.strict for n, r in self.raw.items()})
        busy = self._busy(strict)
        claimed = np.zeros_like(next(iter(strict.values())))
        out = {}
        for item in self.items:
            cand = {n: self._loose(n) & ~claimed for n in item}
            got = _pick_closest(cand, self.rank) if len(item) > 1 else cand
            for n in item:
                c = strict[n] & ~claimed
                if self.raw[n].loose is not None:
                    c = hysteresis(strict[n], got[n] & ~busy[n]) & ~claimed
                out[n] = c
            for n in item:
                claimed |= self._claims(n, out[n])
        return out

    def _loose(self, name: str) -> np.ndarray:
        r = self.raw[name]
        return r.strict if r.loose is None else r.loose


def _policy_contact(doc: RuleDocument, raw: dict, rev: np.ndarray) -> dict:
    """Per-frame contact of every behaviour after hysteresis and the exclusivity policy (before voting)."""
    joint = set(doc.priority) | set(doc.closest) if doc.exclusivity == "closest" else set()
    out = {n: r.strict if r.loose is None else hysteresis(r.strict, r.loose)
           for n, r in raw.items() if n not in joint}
    if joint:
        out.update(_Closest(doc, {n: raw[n] for n in raw if n in joint}, rev).resolve())
    return out
