"""The parts of a rule document: constants, field checks, features, conditions, smoothing, behaviours.

:mod:`.ruledoc` assembles them into a :class:`~.ruledoc.RuleDocument` (see
its docstring for the document format); this module parses and validates
one behaviour at a time, naming the document, the behaviour and the field
in every error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import InputError

UNITS = ("mm", "px", "body_lengths")
ROUNDING = ("floor", "round", "ceil", "seconds")
PAIRS = ("directed", "mutual")
MISSING = ("unscorable", "no_contact")
SMOOTHING = ("none", "median", "majority")
EDGES = ("zero", "pad_false", "truncate")
WINDOW_RULES = ("frames", "half_width")
POLICIES = ("independent", "exclusive", "closest")
PRESENCE_MASK = ("agent", "both")
EXTRA_STEPS = ("deepof_savgol", "deepof_outliers", "interpolate_limited")  # implemented in ruleengine

# primitive -> {param: (kind, required, default)}; kind "role", "str:<choices>", "int", "num", "duration"
PRIMITIVES: dict[str, dict[str, tuple]] = {
    "distance": {"agent": ("role", True, None), "target": ("role", True, None)},
    "path_distance": {"agent": ("role", True, None), "target": ("role", True, None),
                      "window": ("duration", True, None)},
    "centre_distance": {"role": ("role", False, "body_centre")},
    "head_angle": {"tail": ("role", True, None), "head": ("role", True, None),
                   "target": ("role", True, None), "origin": ("role", False, None),
                   "convention": ("str:unsigned,ccw360", False, "unsigned")},
    "speed": {"of": ("str:agent,target", False, "agent"), "role": ("role", True, None),
              "lag": ("int", False, 1), "mean_window": ("int", False, 1), "decimals": ("int0", False, None),
              "per": ("str:second,frame", False, "second")},
    "body_angle": {"tail": ("role", True, None), "head": ("role", True, None)},
    "gradient_speed": {"of": ("str:agent,target", False, "agent"), "role": ("role", True, None),
                       "per": ("str:second,frame", False, "second")},
    "motion_angle": {"role": ("role", True, None)},
    "axis_position": {"point": ("role", True, None), "tail": ("role", True, None), "head": ("role", True, None)},
}
DISTANCE_PRIMITIVES = ("distance", "path_distance", "centre_distance")
LENGTH_PRIMITIVES = DISTANCE_PRIMITIVES + ("axis_position",)  # divided by the agent's length in body_lengths


class _Where:
    """Error context: the document and a field path."""

    def __init__(self, source: str, path: str = ""):
        self.source, self.path = source, path

    def at(self, part) -> _Where:
        sep = "" if not self.path or str(part).startswith("[") else "."
        return _Where(self.source, f"{self.path}{sep}{part}")

    def fail(self, problem: str):
        raise InputError(self.source, f"{self.path}: {problem}" if self.path else problem)


def _mapping(value, where: _Where, allowed, required=()) -> dict:
    """``value`` as a dict with only ``allowed`` keys and all ``required`` ones."""
    if not isinstance(value, Mapping):
        where.fail(f"must be a mapping, got {type(value).__name__} {value!r}")
    unknown = sorted(set(map(str, value)) - set(allowed))
    if unknown:
        where.fail(f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")
    missing = [k for k in required if k not in value]
    if missing:
        where.fail(f"missing required field(s) {missing}")
    return dict(value)


def _choice(value, where: _Where, choices) -> str:
    if value not in choices:
        where.fail(f"must be one of {list(choices)}, got {value!r}")
    return value


def _number(value, where: _Where, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        where.fail(f"must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        where.fail(f"must be >= {minimum}, got {value!r}")
    return float(value)


def _integer(value, where: _Where, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        where.fail(f"must be an integer >= {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Duration:
    """A number of frames, or seconds turned into frames with the document's rounding."""

    frames: int | None = None
    seconds: float | None = None

    def to_frames(self, fps: float | None, rounding: str, *, where: str = "") -> int:
        """Frames at ``fps``; InputError when seconds are given without a frame rate."""
        if self.frames is not None:
            return self.frames
        if not fps:
            raise InputError(where or "rule set", "durations in seconds need the frame rate (fps)")
        x = self.seconds * float(fps)
        f = {"floor": math.floor(x + 1e-9), "ceil": math.ceil(x - 1e-9), "round": math.floor(x + 0.5)}
        return int(f["round" if rounding == "seconds" else rounding])

    def to_dict(self, key: str) -> dict:
        return {f"{key}_frames": self.frames} if self.frames is not None else {f"{key}_s": self.seconds}


def _duration(d: dict, key: str, where: _Where, *, required: bool = False) -> Duration | None:
    """``key_frames`` or ``key_s`` of mapping ``d`` (not both)."""
    fk, sk = f"{key}_frames", f"{key}_s"
    if fk in d and sk in d:
        where.fail(f"give either {fk} or {sk}, not both")
    if fk in d:
        return Duration(frames=_integer(d[fk], where.at(fk)))
    if sk in d:
        return Duration(seconds=_number(d[sk], where.at(sk), minimum=0))
    if required:
        where.fail(f"missing {fk} or {sk}")
    return None


@dataclass(frozen=True)
class Feature:
    """One primitive with its parameters (``params``: sorted ``(name, value)`` pairs)."""

    primitive: str
    params: tuple = ()

    def get(self, name: str, default=None):
        return dict(self.params).get(name, default)

    @property
    def roles(self) -> tuple:
        """Role names this feature uses."""
        spec = PRIMITIVES[self.primitive]
        return tuple(v for k, v in self.params if spec[k][0] == "role" and v is not None)

    def to_dict(self) -> dict:
        out = {}
        for k, v in self.params:
            out.update(v.to_dict(k) if isinstance(v, Duration) else {k: v})
        return {self.primitive: out}


def _param(kind: str, value, where: _Where, roles) -> object:
    """Validate one primitive parameter."""
    if kind == "role":
        if not isinstance(value, str) or value not in roles:
            where.fail(f"unknown role {value!r}; the document declares roles {sorted(roles)}")
        return value
    if kind.startswith("str:"):
        return _choice(value, where, kind[4:].split(","))
    return _integer(value, where, minimum=0 if kind == "int0" else 1)


def _feature(spec, where: _Where, roles) -> Feature:
    """Parse ``{primitive: {params}}``."""
    if not isinstance(spec, Mapping) or len(spec) != 1:
        where.fail(f"a feature is a mapping with one primitive name, got {spec!r}")
    (name, raw), = spec.items()
    if name not in PRIMITIVES:
        where.fail(f"unknown primitive {name!r}; known: {sorted(PRIMITIVES)}")
    schema = PRIMITIVES[name]
    w = where.at(name)
    allowed = [k for k, s in schema.items() if s[0] != "duration"]
    allowed += [f"{k}_{u}" for k, s in schema.items() if s[0] == "duration" for u in ("frames", "s")]
    raw = _mapping(raw if raw is not None else {}, w, allowed)
    params = {}
    for key, (kind, required, default) in schema.items():
        if kind == "duration":
            params[key] = _duration(raw, key, w, required=required)
        elif key in raw and not (raw[key] is None and default is None and not required):  # null = not given
            params[key] = _param(kind, raw[key], w.at(key), roles)
        elif required:
            w.fail(f"missing required parameter {key!r}")
        else:
            params[key] = default
    if name == "centre_distance" and params["role"] not in roles:
        w.at("role").fail(f"unknown role {params['role']!r}; the document declares roles {sorted(roles)}")
    return Feature(name, tuple(sorted(params.items())))


@dataclass(frozen=True)
class Condition:
    """``feature`` strictly below ``below`` and above ``above`` (numbers or features);
    ``inclusive``: at most ``below`` and at least ``above``."""

    feature: Feature
    below: float | Feature | None = None
    above: float | Feature | None = None
    inclusive: bool = False

    def to_dict(self) -> dict:
        out = self.feature.to_dict()
        for k in ("below", "above"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v.to_dict() if isinstance(v, Feature) else v
        return out | {"inclusive": True} if self.inclusive else out


def _bound(value, where: _Where, roles):
    if isinstance(value, Mapping):
        return _feature(value, where, roles)
    return _number(value, where)


def _condition(spec, where: _Where, roles) -> Condition:
    if not isinstance(spec, Mapping):
        where.fail(f"a condition is a mapping, got {spec!r}")
    prims = [k for k in spec if k not in ("below", "above", "inclusive")]
    if len(prims) != 1:
        where.fail(f"a condition names exactly one primitive (known: {sorted(PRIMITIVES)}), got {prims}")
    feat = _feature({prims[0]: spec[prims[0]]}, where, roles)
    below = _bound(spec["below"], where.at("below"), roles) if "below" in spec else None
    above = _bound(spec["above"], where.at("above"), roles) if "above" in spec else None
    if below is None and above is None:
        where.fail("a condition needs 'below' and/or 'above'")
    inclusive = spec.get("inclusive", False)
    if not isinstance(inclusive, bool):
        where.at("inclusive").fail(f"must be true or false, got {inclusive!r}")
    if isinstance(below, float) and isinstance(above, float) and (above > below or (above == below
                                                                                     and not inclusive)):
        where.fail(f"empty range: above {above} >= below {below}")
    return Condition(feat, below, above, inclusive)


@dataclass(frozen=True)
class Smoothing:
    """``median`` of every feature before thresholding, or ``majority`` vote of the per-frame result."""

    method: str = "none"
    window: Duration | None = None
    edges: str = "zero"
    window_rule: str = "frames"

    def to_dict(self) -> dict:
        if self.method == "none":
            return {"method": "none"}
        out = {"method": self.method, **self.window.to_dict("window")}
        if self.window_rule != "frames":
            out["window_rule"] = self.window_rule
        return out | {"edges": self.edges} if self.method == "majority" else out

    def window_frames(self, fps: float | None, rounding: str, *, where: str = "") -> int:
        """Window length in frames (1 without a window).

        ``window_rule: frames`` converts the duration with the document's
        rounding (a median window of an even length grows by one);
        ``half_width`` makes a centred window of ``2 h + 1`` frames with
        ``h`` = half the duration rounded half up (the fixed scorer's ``smooth_s``).
        """
        if self.window is None:
            return 1
        if self.window_rule == "frames":
            return self.window.to_frames(fps, rounding, where=where)
        if self.window.frames is not None:
            return 2 * int(math.floor(self.window.frames / 2 + 0.5)) + 1
        if not fps:
            raise InputError(where or "rule set", "durations in seconds need the frame rate (fps)")
        return 2 * int(math.floor(self.window.seconds * float(fps) / 2 + 0.5)) + 1


def _smoothing(spec, where: _Where) -> Smoothing:
    if spec is None:
        return Smoothing()
    d = _mapping(spec, where, ("method", "window_frames", "window_s", "edges", "window_rule"), ("method",))
    method = _choice(d["method"], where.at("method"), SMOOTHING)
    if method == "none":
        return Smoothing()
    window = _duration(d, "window", where, required=True)
    edges = _choice(d.get("edges", "zero"), where.at("edges"), EDGES)
    if method == "median" and "edges" in d:
        where.at("edges").fail("only a majority window has an edge policy (a median window is truncated)")
    rule = _choice(d.get("window_rule", "frames"), where.at("window_rule"), WINDOW_RULES)
    if method == "majority" and rule != "frames":
        where.at("window_rule").fail("only a median window has a window rule")
    return Smoothing(method, window, edges, rule)


@dataclass(frozen=True)
class Behavior:
    """One behaviour of a rule set (see the module notes for the fields)."""

    name: str
    conditions: tuple
    pairs: str = "directed"
    missing: str = "unscorable"
    smoothing: Smoothing = field(default_factory=Smoothing)
    release_factor: float | None = None
    min_bout: Duration = field(default_factory=lambda: Duration(frames=1))
    max_gap: Duration = field(default_factory=lambda: Duration(frames=0))
    relax: tuple | None = None  # primitives whose bounds the hysteresis relaxes (None = all)

    @property
    def features(self) -> tuple:
        """Every feature the conditions use (bounds included)."""
        out = []
        for c in self.conditions:
            out += [c.feature] + [b for b in (c.below, c.above) if isinstance(b, Feature)]
        return tuple(out)

    def to_dict(self) -> dict:
        out = {"name": self.name, "pairs": self.pairs, "missing": self.missing,
               "conditions": [c.to_dict() for c in self.conditions], "smoothing": self.smoothing.to_dict()}
        if self.release_factor is not None:
            out["hysteresis"] = {"release_factor": self.release_factor}
            if self.relax is not None:
                out["hysteresis"]["relax"] = list(self.relax)
        return out | self.min_bout.to_dict("min_bout") | self.max_gap.to_dict("max_gap")


_BEHAVIOR_FIELDS = ("name", "pairs", "missing", "conditions", "smoothing", "hysteresis", "min_bout_frames",
                    "min_bout_s", "max_gap_frames", "max_gap_s", "description")


def _behavior(spec, where: _Where, roles) -> Behavior:
    name = spec.get("name") if isinstance(spec, Mapping) else None
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        _mapping(spec, where, _BEHAVIOR_FIELDS, ("name",))
        where.at("name").fail(f"must be a non-empty name without spaces, got {name!r}")
    where = _Where(where.source, f"behaviour {name!r}")
    d = _mapping(spec, where, _BEHAVIOR_FIELDS, ("name", "conditions"))
    conds = d["conditions"]
    if not isinstance(conds, list) or not conds:
        where.at("conditions").fail("must be a non-empty list")
    release, relax = _hysteresis(d.get("hysteresis"), where.at("hysteresis"))
    return Behavior(
        name=name,
        conditions=tuple(_condition(c, where.at(f"conditions[{i}]"), roles) for i, c in enumerate(conds)),
        pairs=_choice(d.get("pairs", "directed"), where.at("pairs"), PAIRS),
        missing=_choice(d.get("missing", "unscorable"), where.at("missing"), MISSING),
        smoothing=_smoothing(d.get("smoothing"), where.at("smoothing")),
        release_factor=release,
        min_bout=_duration(d, "min_bout", where) or Duration(frames=1),
        max_gap=_duration(d, "max_gap", where) or Duration(frames=0), relax=relax)


def _hysteresis(spec, where: _Where) -> tuple:
    """(release_factor, relax) of a ``hysteresis`` mapping; (None, None) without one."""
    if spec is None:
        return None, None
    h = _mapping(spec, where, ("release_factor", "relax"), ("release_factor",))
    release = _number(h["release_factor"], where.at("release_factor"), minimum=1)
    relax = h.get("relax")
    if relax is not None:
        if not isinstance(relax, list) or not relax:
            where.at("relax").fail(f"must be a non-empty list of primitive names, got {relax!r}")
        for i, p in enumerate(relax):
            _choice(p, where.at(f"relax[{i}]"), list(PRIMITIVES))
        relax = tuple(sorted(set(relax)))
    return release, relax


def _roles(spec, where: _Where) -> tuple:
    if isinstance(spec, list):
        spec = {r: "" for r in spec}
    if not isinstance(spec, Mapping):
        where.fail(f"must be a mapping of role name to description, got {spec!r}")
    d = dict(spec)
    if not d:
        where.fail("declare at least one role")
    for r in d:
        if not isinstance(r, str) or not r.isidentifier():
            where.fail(f"role names are identifiers, got {r!r}")
    return tuple(sorted((k, str(v or "")) for k, v in d.items()))


def _body_length(spec, where: _Where, roles, units) -> tuple | None:
    if spec is None:
        if units == "body_lengths":
            where.fail("units 'body_lengths' needs body_length: {tail: <role>, head: <role>}")
        return None
    d = _mapping(spec, where, ("tail", "head"), ("tail", "head"))
    return (_param("role", d["tail"], where.at("tail"), roles), _param("role", d["head"], where.at("head"), roles))


def _known_skeletons(spec, where: _Where, roles) -> tuple:
    if spec is None:
        return ()
    d = _mapping(spec, where, [str(k) for k in spec] if isinstance(spec, Mapping) else ())
    for skel, rmap in d.items():
        m = _mapping(rmap, where.at(skel), [r for r, _ in roles])
        d[skel] = m
    return (json.dumps(d, sort_keys=True),)
