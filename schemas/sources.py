"""Bout sources that reports and group statistics read: a rule set, or a trained classifier.

A source is named by a rule set's name or id (``default``, ``deepof-0.9``)
or by ``classifier:NAME`` (the bouts :class:`schemas.prediction.BehaviorPrediction`
predicted with a trained classifier). Both have ``Bout``, ``Summary`` and
``TimeBin`` parts of one shape, so :mod:`schemas.stats` reads either through
:func:`table` and :func:`restriction`.
"""

from __future__ import annotations

from pipeline.errors import InputError

from . import behavior

CLASSIFIER = "classifier:"


def is_classifier(source: str) -> bool:
    """Whether a resolved source id names a classifier."""
    return str(source).startswith(CLASSIFIER)


def resolve(name: str | None) -> str:
    """The source id: a rule set's id (given by id or name; None = 'default'), or ``classifier:NAME``.

    Raises
    ------
    InputError
        No (or several) rule sets have the name, or no trained classifier has it.
    """
    if name and str(name).startswith(CLASSIFIER):
        from .classifier import Classifier, ClassifierTraining

        clf = str(name)[len(CLASSIFIER):]
        if not ClassifierTraining & {"classifier": clf}:
            known = sorted(ClassifierTraining.to_arrays("classifier"))
            what = "is not trained yet (populate classifier.ClassifierTraining)" if Classifier & {"classifier": clf} \
                else "does not exist"
            raise InputError("bout source", f"classifier {clf!r} {what}; trained classifiers: {known}")
        return CLASSIFIER + clf
    name = name or "default"
    rows = (behavior.SocialRuleSet & [{"rule_set": name}, {"rule_set_name": name}]).to_dicts()
    if len(rows) != 1:
        known = sorted(behavior.SocialRuleSet.to_arrays("rule_set_name"))
        how = "no rule set has" if not rows else f"{len(rows)} rule sets have"
        raise InputError("rule set", f"{how} the id or name {name!r}; known names: {known}; "
                                     "give --rule-set with an id, or classifier:NAME for a trained classifier")
    return rows[0]["rule_set"]


def table(source: str):
    """The scored table of a source: SocialBouts or BehaviorPrediction."""
    if is_classifier(source):
        from .prediction import BehaviorPrediction

        return BehaviorPrediction
    return behavior.SocialBouts


def restriction(source: str) -> dict:
    """The restriction of :func:`table` to one source."""
    return {"classifier": source[len(CLASSIFIER):]} if is_classifier(source) else {"rule_set": source}


def info(source: str) -> dict:
    """``name`` (as printed), ``bin_s``, ``n_bins`` and ``behaviors`` (in output order) of a source."""
    if is_classifier(source):
        from .classifier import Classifier, ClassifierParamSet, ClassifierTraining

        key = restriction(source)
        params = (Classifier * ClassifierParamSet & key).fetch1("params")
        names = tuple(sorted(str(b) for b in (ClassifierTraining.Behavior & key).to_arrays("behavior")))
        return {"name": source, "bin_s": float(params["bin_s"]), "n_bins": int(params["n_bins"]), "behaviors": names}
    from pipeline.behavior import RuleSet

    row = (behavior.SocialRuleSet & {"rule_set": source}).fetch1()
    if row["kind"] == "document":
        names = behavior.SocialRuleSet.document({"rule_set": source}).behavior_names
    else:
        names = RuleSet.from_dict(row["params"]["rules"]).behaviors
    return {"name": row["rule_set_name"], "bin_s": float(row["params"]["bin_s"]),
            "n_bins": int(row["params"]["n_bins"]), "behaviors": tuple(names)}
