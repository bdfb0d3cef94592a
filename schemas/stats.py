"""Group-statistics queries: behaviour measures joined with subject and session attributes."""

from __future__ import annotations

import datajoint as dj
import pandas as pd

from pipeline.errors import InputError
from pipeline.stats import animals_from_pairs

from . import behavior, session, versions

MEASURES = ("bout_count", "total_duration_s", "latency_s")
COVERAGE = ("covered_s", "scorable_s")  # seconds of pose data, and of it the seconds that could be scored
AGGREGATION = {"bout_count": "sum", "total_duration_s": "sum", "latency_s": "min", "covered_s": "max",
               "scorable_s": "sum"}
RECORDING = ("session", "pose_version")  # one scored pose version (with the rule set)


def _agents() -> pd.DataFrame:
    """Session animals as agents, with their group attributes (age group in force).

    (Renamed in pandas: DataJoint 2.3.5 quotes renamed attributes MySQL-style on PostgreSQL.)
    """
    return session.animals().to_pandas().reset_index().rename(columns={"subject": "agent"})


def _pair_rows(rule_set: str | None, first_minutes: int | None, behaviors, pose: str) -> pd.DataFrame:
    """The stored rows per recording × behaviour × agent → target (a mutual behaviour once per pair).

    With ``first_minutes``, sums of the first N time bins (latency from the
    recording's start); otherwise the whole-recording summary.
    """
    restriction = {"rule_set": resolve_rule_set(rule_set)}
    chosen = versions.selection(pose).proj()
    if first_minutes:
        bins = (behavior.SocialBouts.TimeBin & restriction & chosen & first_bins(restriction["rule_set"],
                                                                                 first_minutes))
        df = _with_scorable_s(bins.to_pandas().reset_index())
        df["latency_abs"] = df["bin_start_s"] + df["latency_s"]
        df = (df.groupby([*RECORDING, "behavior", "agent", "target"], as_index=False)
                .agg(bout_count=("bout_count", "sum"), total_duration_s=("total_duration_s", "sum"),
                     latency_s=("latency_abs", "min"), covered_s=("covered_s", "sum"),
                     scorable_s=("scorable_s", "sum")))
        mutual = set((behavior.SocialBouts.Summary & restriction & chosen & "mutual")
                     .to_pandas().reset_index()["behavior"])
        df["mutual"] = df["behavior"].isin(mutual)
    else:
        df = _with_scorable_s((behavior.SocialBouts.Summary & restriction & chosen).to_pandas().reset_index())
    df = df[[*RECORDING, "behavior", "agent", "target", "mutual", *MEASURES, *COVERAGE]]
    df = df.astype({"mutual": bool})
    if behaviors:
        df = df[df["behavior"].isin(behaviors)]
    return df.reset_index(drop=True)


def per_pair(*, rule_set: str | None = None, first_minutes: int | None = None, behaviors=None,
             pose: str = "raw") -> pd.DataFrame:
    """One row per recording × behaviour × agent → target: bout count, time, latency.

    Directed behaviours have one row per ordered pair; a mutual behaviour
    (nose-to-nose) one row per pair, with agent = the pair's first animal.
    The agent's attributes are joined as they are, the target's with the
    prefix ``target_``. For statistics over animals use :func:`per_animal`.
    """
    pairs = no_data_as_missing(_pair_rows(rule_set, first_minutes, behaviors, pose))
    attrs = _agents()
    targets = attrs.rename(columns={c: f"target_{c}" for c in attrs.columns if c != "session"})
    targets = targets.rename(columns={"target_agent": "target"})
    return (pairs.merge(attrs, on=["session", "agent"], how="inner")
                 .merge(targets, on=["session", "target"], how="inner"))


def per_animal(*, rule_set: str | None = None, first_minutes: int | None = None,
               behaviors=None, pose: str = "raw") -> pd.DataFrame:
    """One row per session × animal × behaviour: bout count, time, latency.

    The animal's rows toward each partner are combined
    (:func:`pipeline.stats.animals_from_pairs`): counts and durations summed,
    the earliest latency; a mutual behaviour (nose-to-nose) counts for both
    animals of the pair. So n over these rows is animals, whatever the
    number of animals per session. With ``first_minutes``, measures are over
    the first N time bins of the rule set (60 s bins by default) instead of
    the whole recording.  ``pose`` chooses the pose version scored: ``raw``
    (default), ``corrected``, ``3d`` or ``filtered:NAME``
    (:func:`versions.selection`).

    Raises
    ------
    InputError
        An animal scored in more than one recording of a session under the
        rule set (it would count twice).
    """
    pairs = _pair_rows(rule_set, first_minutes, behaviors, pose)
    animals = no_data_as_missing(animals_from_pairs(pairs, keys=[*RECORDING, "behavior"], aggregation=AGGREGATION))
    _check_one_recording(animals)
    return animals.merge(_agents(), on=["session", "agent"], how="inner")


def first_bins(rule_set: str, first_minutes: int) -> str:
    """Restriction to the time bins that make up the first ``first_minutes`` of a rule set's bins.

    Raises
    ------
    InputError
        The minutes are not a whole number of the rule set's bins, or run
        past its last bin.
    """
    params = (behavior.SocialRuleSet & {"rule_set": rule_set}).fetch1("params")
    bin_s, n_bins = float(params["bin_s"]), int(params["n_bins"])
    count = first_minutes * 60.0 / bin_s
    if abs(count - round(count)) > 1e-9 or round(count) > n_bins or count <= 0:
        raise InputError("--first-minutes", f"{first_minutes} min is not a whole number of this rule set's "
                                            f"{n_bins} bins of {bin_s:g} s")
    return f"time_bin < {int(round(count))}"


def _with_scorable_s(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``scorable_s`` = covered seconds × scorable fraction (0 where nothing was scorable)."""
    df = df.copy()
    df["scorable_s"] = (pd.to_numeric(df["covered_s"]) * pd.to_numeric(df["scorable_fraction"])).fillna(0.0)
    return df


def no_data_as_missing(df: pd.DataFrame) -> pd.DataFrame:
    """Measures become NaN ("no data") where not one second could be scored, so 0 bouts means 0 bouts.

    A recording whose pose data starts after the report's window, or whose
    animals were never both tracked in it, has no measure there; it is left
    out of n instead of counting as an animal with no contact.
    """
    df = df.copy()
    empty = pd.to_numeric(df["scorable_s"]) <= 0
    df.loc[empty, list(MEASURES)] = float("nan")
    df["no_data"] = empty
    return df


def _check_one_recording(rows: pd.DataFrame, by=("session", "agent")) -> None:
    """Refuse when a session (or an animal of it) has rows from more than one scored recording.

    Raises
    ------
    InputError
        Naming the session (and animal) and the pose versions.
    """
    if rows.empty:
        return
    found = rows.assign(recording=rows["pose_version"].astype(str))
    counts = found.groupby(list(by), as_index=False)["recording"].nunique()
    many = counts[counts["recording"] > 1]
    if len(many):
        first = many.iloc[0]
        names = sorted(set(found.loc[(found[list(by)] == first[list(by)]).all(axis=1), "recording"]))
        raise InputError(", ".join(f"{k} {first[k]}" for k in by),
                         f"scored in {len(names)} recordings ({', '.join(names)}) under one rule set; "
                         "statistics over animals and sessions need one recording per session "
                         "(it would count twice)")


def per_session(*, rule_set=None, first_minutes=None, behaviors=None, group_by=("sex", "age_group"),
                pose: str = "raw") -> pd.DataFrame:
    """One row per session × behaviour: totals over the session's animals (mutual bouts once per pair).

    Over the whole recording this is a DataJoint aggregation (``dj.U``) of
    ``SocialSummary``; with ``first_minutes`` it sums the time bins.

    Raises
    ------
    InputError
        A session with more than one scored recording under the rule set.
    """
    restriction = {"rule_set": resolve_rule_set(rule_set)}
    chosen = versions.selection(pose).proj()
    if first_minutes:
        source = (behavior.SocialBouts.TimeBin & restriction & chosen
                  & first_bins(restriction["rule_set"], first_minutes))
        latency = "min(bin_start_s + latency_s)"
    else:
        source = behavior.SocialBouts.Summary & restriction & chosen
        latency = "min(latency_s)"
    _check_one_recording(source.proj().to_pandas().reset_index(), by=("session",))
    totals = dj.U("session", "behavior").aggr(
        source, bout_count="sum(bout_count)", total_duration_s="sum(total_duration_s)", latency_s=latency)
    df = totals.to_pandas().reset_index()
    if behaviors:
        df = df[df["behavior"].isin(behaviors)]
    attrs = _agents()
    group_cols = [c for c in group_by if c in attrs]
    groups = attrs.groupby("session")[group_cols].agg(_same).reset_index()
    for col in ("bout_count", "total_duration_s", "latency_s"):
        df[col] = pd.to_numeric(df[col])
    return df.merge(groups, on="session", how="left")


def _same(values):
    """A session's group value when all its animals share it, else 'mixed'."""
    u = pd.unique(values)
    return u[0] if len(u) == 1 else "mixed"


def default_rule_set() -> str:
    return resolve_rule_set(None)


def resolve_rule_set(rule_set: str | None) -> str:
    """The id of a rule set given by id or name (None = the one named 'default').

    Raises
    ------
    InputError
        No rule set, or several, has that id or name.
    """
    name = rule_set or "default"
    rows = (behavior.SocialRuleSet & [{"rule_set": name}, {"rule_set_name": name}]).to_dicts()
    if len(rows) != 1:
        known = sorted(behavior.SocialRuleSet.to_arrays("rule_set_name"))
        how = "no rule set has" if not rows else f"{len(rows)} rule sets have"
        raise InputError("rule set", f"{how} the id or name {name!r}; known names: {known}; "
                                     "give --rule-set with an id")
    return rows[0]["rule_set"]


def coverage(rule_set: str | None = None, *, pose: str = "raw") -> pd.DataFrame:
    """Per scored pose version: first covered video frame, covered seconds and frames of the pose data."""
    scored = behavior.SocialBouts & {"rule_set": resolve_rule_set(rule_set)} & versions.selection(pose).proj()
    df = scored.proj("n_frames", "frame_offset", "fps").to_pandas().reset_index()
    df["covered_s"] = df["n_frames"] / df["fps"]
    df["first_covered_s"] = df["frame_offset"] / df["fps"]
    return df


def counts_by_group(group_by=("sex", "age_group")) -> pd.DataFrame:
    """Number of animals per group, straight from DataJoint (dj.U aggregation)."""
    return (dj.U(*group_by).aggr(session.animals(), n_animals="count(*)")).to_pandas().reset_index()
