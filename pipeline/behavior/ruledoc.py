"""Behaviour definitions as data: a declarative, validated, content-hashed rule-set document.

A rule set is a YAML or JSON document (see ``presets/deepof-0.9.yaml``)::

    name: my-rules
    units: mm                  # distance thresholds in mm | px | body_lengths
    frame_rounding: floor      # *_s durations -> frames: floor | round | ceil | seconds
    roles:                     # the body-part roles the rules use (mapped per skeleton)
      nose: tip of the snout
      tail_base: base of the tail
    preprocessing:             # optional
      filters: [{step: confidence_threshold, threshold: 0.6}]
      presence: {min_median_confidence: 0.5, mask: agent}
    exclusivity: independent   # or {policy: exclusive, priority: [b1, b2, ...]}
                               # or {policy: closest, priority: [b1], closest: [b2, b3, ...]}
    behaviors:
      - name: nose2tail
        pairs: directed        # directed | mutual
        missing: no_contact    # unscorable | no_contact
        conditions:            # all must hold (AND)
          - distance: {agent: nose, target: tail_base}
            below: 25
        smoothing: {method: majority, window_s: 0.5, edges: zero}
        hysteresis: {release_factor: 1.5}   # optional relax: [distance] (primitives relaxed)
        min_bout_frames: 3
        max_gap_s: 0.2

Primitives (one key per condition, evaluated for every agent -> target pair):

``distance`` ``{agent, target}``
    Smallest distance between the agent's role points and the target's
    (a *set* role such as DeepOF's nine-point ``body`` gives the minimum
    over the set).  In the document's ``units``.
``path_distance`` ``{agent, target, window_frames | window_s}``
    Smallest distance between the agent's points now and the target's
    points at any of the last ``window`` frames (DeepOF's following path).
``centre_distance`` ``{role}``
    Distance between the agent's and the target's ``role`` point (default
    role ``body_centre``).
``head_angle`` ``{tail, head, target, origin, convention}``
    Degrees between the agent's heading (``tail`` -> ``head``, e.g. neck ->
    nose) and the direction from its ``origin`` (default ``tail``) to the
    target's ``target`` point; ``convention`` ``unsigned`` (0..180, default)
    or ``ccw360`` (AmadeusGPT's ``relative_head_angle``, 0..360).
``speed`` ``{of, role, lag, mean_window, decimals, per}``
    Speed of the ``agent``'s or ``target``'s role point (a set role: the mean
    over its points), ``|p(t) - p(t-lag)| / lag`` then a trailing mean over
    ``mean_window`` frames, optionally rounded; ``per: second`` (default) or
    ``frame``.  Distance units per second or per frame.
``body_angle`` ``{tail, head}``
    Degrees (0..180) between the two animals' ``tail`` -> ``head`` axes.
``gradient_speed`` ``{of, role, per}``
    Speed of the ``agent``'s or ``target``'s single-point role from central
    differences (``numpy.gradient``), per ``second`` (default) or ``frame``.
``motion_angle`` ``{role}``
    Degrees (0..180) between the agent's and the target's velocities of
    ``role`` (central differences).
``axis_position`` ``{point, tail, head}``
    Signed distance of the agent's ``point`` along the target's ``tail`` ->
    ``head`` axis, measured from the target's ``tail`` (negative = behind it).

A condition compares its feature with ``below`` and/or ``above`` (strict;
``inclusive: true`` makes them ``<=`` / ``>=``), each a number or another
feature of the same pair (e.g. ``below: {distance: {agent: tail_base,
target: tail_base}}``).

Per behaviour: ``smoothing`` is a ``median`` of every feature (a window of
an even number of frames grows by one; ``window_rule: half_width`` makes it
``2 h + 1`` frames with ``h`` half the duration rounded half up, as the fixed
scorer's ``smooth_s``) or a ``majority`` vote of the result;
``hysteresis.release_factor`` lets a run extend over adjacent frames that
pass with the bounds relaxed (``below x f``, ``above / f``), of the
primitives listed in ``relax`` only (default all).

``frame_rounding: seconds`` compares durations in seconds: a gap is bridged
when it lasts at most ``max_gap``, a bout kept when it lasts at least
``min_bout`` (1e-9 tolerance); windows round to the nearest frame.

Exclusivity: ``independent`` (labels may overlap); ``exclusive``: a frame
held by a behaviour earlier in ``priority`` is not scored as a later one;
``closest``: the ``priority`` behaviours take their frames first, in order,
then of the ``closest`` behaviours that hold in a frame the one whose first
condition's distance is smallest wins (ties: list order), and hysteresis
never extends a behaviour over a frame another one holds strictly.
Behaviours in neither list stay independent.  A mutual behaviour claims the
frame for both directions of the pair.

Roles are names; the caller maps them to keypoints (a keypoint name, a list
of names = a set, ``{centroid: [...]}``, ``{median: [...]}``, ``"*"`` = all
keypoints) when scoring, see :func:`pipeline.behavior.ruleengine.score_document`.

:func:`load_document` reads a file, a mapping or a preset name and validates
everything, raising :class:`~pipeline.errors.InputError` with the document,
the behaviour and the field at fault.  :meth:`RuleDocument.to_dict` is the
canonical form; :meth:`RuleDocument.content_hash` hashes its canonical JSON.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import InputError

__all__ = ["Behavior", "Condition", "Duration", "Feature", "RuleDocument", "list_presets", "load_document",
           "parse_document"]

from .rulefields import (  # noqa: F401  (the document parts; Behavior, Condition, ... are public here too)
    DISTANCE_PRIMITIVES,
    EXTRA_STEPS,
    POLICIES,
    PRESENCE_MASK,
    ROUNDING,
    UNITS,
    Behavior,
    Condition,
    Duration,
    Feature,
    _behavior,
    _body_length,
    _choice,
    _known_skeletons,
    _mapping,
    _number,
    _roles,
    _Where,
)


@dataclass(frozen=True)
class Presence:
    """An animal is absent where the median confidence of its keypoints is not above the threshold."""

    min_median_confidence: float
    mask: str = "agent"


@dataclass(frozen=True)
class RuleDocument:
    """A validated rule set; build it with :func:`load_document` or :func:`parse_document`."""

    name: str
    behaviors: tuple
    roles: tuple  # (role, description) pairs, sorted
    units: str = "mm"
    frame_rounding: str = "floor"
    description: str = ""
    filters: tuple = ()  # JSON strings of filter steps, in order
    presence: Presence | None = None
    exclusivity: str = "independent"
    priority: tuple = ()
    body_length: tuple | None = None  # (tail role, head role)
    known_skeletons: tuple = ()  # JSON string of {skeleton: {role: keypoints}}
    closest: tuple = ()  # policy "closest": the behaviours that compete by distance, in tie order

    @property
    def behavior_names(self) -> tuple:
        return tuple(b.name for b in self.behaviors)

    @property
    def used_roles(self) -> tuple:
        """Roles that the behaviours (and the body length) refer to, sorted."""
        used = {r for b in self.behaviors for f in b.features for r in f.roles}
        return tuple(sorted(used | set(self.body_length or ())))

    def skeleton_roles(self, skeleton: str) -> dict:
        """The role map the document suggests for a named skeleton (``known_skeletons``)."""
        known = json.loads(self.known_skeletons[0]) if self.known_skeletons else {}
        if skeleton not in known:
            raise InputError(self.name, f"no role map for skeleton {skeleton!r}; known: {sorted(known)}")
        return known[skeleton]

    def to_dict(self) -> dict:
        """Canonical, JSON-able form (defaults filled in); :func:`parse_document` inverts it."""
        out = {"name": self.name, "description": self.description, "units": self.units,
               "frame_rounding": self.frame_rounding, "roles": dict(self.roles),
               "preprocessing": {"filters": [json.loads(s) for s in self.filters]},
               "exclusivity": self._exclusivity_dict(),
               "behaviors": [b.to_dict() for b in self.behaviors]}
        if self.presence is not None:
            out["preprocessing"]["presence"] = {"min_median_confidence": self.presence.min_median_confidence,
                                                "mask": self.presence.mask}
        if self.body_length is not None:
            out["body_length"] = {"tail": self.body_length[0], "head": self.body_length[1]}
        if self.known_skeletons:
            out["known_skeletons"] = json.loads(self.known_skeletons[0])
        return out

    def _exclusivity_dict(self):
        if self.exclusivity == "independent":
            return "independent"
        out = {"policy": self.exclusivity, "priority": list(self.priority)}
        return out | {"closest": list(self.closest)} if self.exclusivity == "closest" else out

    def canonical_json(self) -> str:
        """Sorted-key, compact JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    def content_hash(self) -> str:
        """SHA-256 (hex) of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def _filter_step(spec, where: _Where) -> str:
    """Validate one filter step against the filter functions' signatures; its canonical JSON."""
    from ..quality.filters import STEPS

    if not isinstance(spec, Mapping) or "step" not in spec:
        where.fail(f"a filter step is a mapping with a 'step' name, got {spec!r}")
    name = spec["step"]
    if name in EXTRA_STEPS:
        from . import ruleengine

        fn = getattr(ruleengine, name)
    elif name in STEPS:
        fn = STEPS[name]
    else:
        where.at("step").fail(f"unknown filter step {name!r}; known: {sorted(STEPS) + list(EXTRA_STEPS)}")
    params = [p for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY]
    options = {k: v for k, v in spec.items() if k != "step"}
    unknown = sorted(set(options) - ({p.name for p in params} - {"presence"}))
    missing = [p.name for p in params if p.default is p.empty and p.name not in options]
    if unknown or missing:
        where.fail(f"step {name!r}: unknown option(s) {unknown}, missing option(s) {missing}")
    return json.dumps(dict(spec), sort_keys=True)


def _preprocessing(spec, where: _Where) -> tuple:
    if spec is None:
        return (), None
    d = _mapping(spec, where, ("filters", "presence"))
    steps = d.get("filters") or []
    if not isinstance(steps, list):
        where.at("filters").fail("must be a list of steps")
    filters = tuple(_filter_step(s, where.at(f"filters[{i}]")) for i, s in enumerate(steps))
    presence = None
    if d.get("presence") is not None:
        w = where.at("presence")
        p = _mapping(d["presence"], w, ("min_median_confidence", "mask"), ("min_median_confidence",))
        presence = Presence(_number(p["min_median_confidence"], w.at("min_median_confidence")),
                            _choice(p.get("mask", "agent"), w.at("mask"), PRESENCE_MASK))
    return filters, presence


def _name_list(value, where: _Where, names, *, required: bool) -> tuple:
    """A list of known, distinct behaviour names."""
    value = value or []
    if not isinstance(value, list) or (required and not value):
        where.fail("needs a non-empty list of behaviours" if required else "must be a list of behaviours")
    unknown = [p for p in value if p not in names]
    if unknown or len(set(value)) != len(value):
        where.fail(f"unknown or repeated behaviour(s) {unknown or value}; behaviours: {list(names)}")
    return tuple(value)


def _closest_list(d: dict, where: _Where, behaviors, prio: tuple) -> tuple:
    """The ``closest`` list: behaviours ranked by their first condition's distance."""
    by_name = {b.name: b for b in behaviors}
    group = _name_list(d.get("closest"), where, list(by_name), required=True)
    both = sorted(set(group) & set(prio))
    if both:
        where.fail(f"behaviour(s) {both} are both in priority and in closest")
    for name in group:
        if by_name[name].conditions[0].feature.primitive not in DISTANCE_PRIMITIVES:
            where.fail(f"behaviour {name!r}: under 'closest' the first condition must be a distance "
                       f"({', '.join(DISTANCE_PRIMITIVES)}), which ranks the behaviours")
    return group


def _exclusivity(spec, where: _Where, behaviors) -> tuple:
    """(policy, priority, closest) of the ``exclusivity`` field."""
    names = [b.name for b in behaviors]
    if spec is None or spec == "independent":
        return "independent", (), ()
    if spec == "exclusive":
        where.fail("'exclusive' needs a priority list: {policy: exclusive, priority: [...]}")
    if spec == "closest":
        where.fail("'closest' needs its lists: {policy: closest, priority: [...], closest: [...]}")
    d = _mapping(spec, where, ("policy", "priority", "closest"), ("policy",))
    policy = _choice(d["policy"], where.at("policy"), POLICIES)
    if policy == "independent":
        return policy, (), ()
    if policy == "exclusive":
        if "closest" in d:
            where.at("closest").fail("only policy 'closest' has a closest list")
        return policy, _name_list(d.get("priority"), where.at("priority"), names, required=True), ()
    prio = _name_list(d.get("priority"), where.at("priority"), names, required=False)
    return policy, prio, _closest_list(d, where.at("closest"), behaviors, prio)


_DOC_FIELDS = ("name", "description", "units", "frame_rounding", "roles", "preprocessing", "exclusivity",
               "behaviors", "body_length", "known_skeletons", "format")


def parse_document(data: Mapping, *, source: str = "rule set") -> RuleDocument:
    """Validate a rule-set mapping (parsed YAML/JSON) into a :class:`RuleDocument`.

    Parameters
    ----------
    data : mapping
        The document.
    source : str, keyword-only
        Named in error messages (file name or preset name).

    Returns
    -------
    RuleDocument

    Raises
    ------
    InputError
        Any unknown field, primitive, role, unit or step; a missing field; a
        bad value.  The message names the document, the behaviour and the field.
    """
    top = _Where(source)
    d = _mapping(data, top, _DOC_FIELDS, ("name", "roles", "behaviors"))
    name = d["name"]
    if not isinstance(name, str) or not name.strip():
        top.at("name").fail(f"must be a non-empty string, got {name!r}")
    top = _Where(f"{source} (rule set {name!r})" if source != name else source)
    roles = _roles(d["roles"], top.at("roles"))
    role_names = {r for r, _ in roles}
    units = _choice(d.get("units", "mm"), top.at("units"), UNITS)
    if not isinstance(d["behaviors"], list) or not d["behaviors"]:
        top.at("behaviors").fail("must be a non-empty list")
    behaviors = tuple(_behavior(b, top.at(f"behaviors[{i}]"), role_names) for i, b in enumerate(d["behaviors"]))
    names = [b.name for b in behaviors]
    if len(set(names)) != len(names):
        top.at("behaviors").fail(f"behaviour names repeat: {names}")
    filters, presence = _preprocessing(d.get("preprocessing"), top.at("preprocessing"))
    policy, prio, closest = _exclusivity(d.get("exclusivity"), top.at("exclusivity"), behaviors)
    return RuleDocument(
        name=name, behaviors=behaviors, roles=roles, units=units,
        frame_rounding=_choice(d.get("frame_rounding", "floor"), top.at("frame_rounding"), ROUNDING),
        description=str(d.get("description") or "").strip(), filters=filters, presence=presence,
        exclusivity=policy, priority=prio, closest=closest,
        body_length=_body_length(d.get("body_length"), top.at("body_length"), role_names, units),
        known_skeletons=_known_skeletons(d.get("known_skeletons"), top.at("known_skeletons"), roles))


def _presets_dir():
    return resources.files("pipeline.behavior").joinpath("presets")


def list_presets() -> list[str]:
    """Names of the rule sets shipped with the package (``pipeline/behavior/presets/*.yaml``)."""
    return sorted(p.name[:-5] for p in _presets_dir().iterdir() if p.name.endswith(".yaml"))


def _read_text(source) -> tuple[str, str]:
    """(text, label) of a file path or a preset name."""
    path = Path(source)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.exists():
        if not path.is_file():
            raise InputError(path, "rule-set file not found")
        return path.read_text(), str(path)
    preset = _presets_dir().joinpath(f"{source}.yaml")
    if not preset.is_file():
        raise InputError(str(source), f"no such rule-set file or preset; presets: {list_presets()}")
    return preset.read_text(), f"preset {source}"


def load_document(source) -> RuleDocument:
    """Load and validate a rule set.

    Parameters
    ----------
    source : RuleDocument, mapping, str or Path
        A document, a parsed mapping, a ``.yaml``/``.yml``/``.json`` file, or
        the name of a shipped preset (:func:`list_presets`).

    Returns
    -------
    RuleDocument

    Examples
    --------
    >>> doc = load_document("deepof-0.9")
    >>> doc.behavior_names[:3]
    ('nose2nose', 'sidebyside', 'sidereside')
    """
    import yaml

    if isinstance(source, RuleDocument):
        return source
    if isinstance(source, Mapping):
        return parse_document(source, source=str(source.get("name", "rule set")))
    text, label = _read_text(source)
    try:
        data = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as err:
        raise InputError(label, f"not valid YAML/JSON: {err}") from None
    return parse_document(data, source=label)
