"""Group-statistics queries: behaviour measures joined with subject and session attributes."""

from __future__ import annotations

import math

import datajoint as dj
import pandas as pd

from pipeline.errors import InputError
from pipeline.stats import animals_from_pairs

from . import session, sources, versions

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


def _pair_rows(rule_set: str | None, first_minutes: float | None, behaviors, pose: str) -> pd.DataFrame:
    """The stored rows per recording × behaviour × agent → target (a mutual behaviour once per pair).

    With ``first_minutes``, sums of the first N time bins (latency from the
    recording's start); otherwise the whole-recording summary.
    """
    source = resolve_rule_set(rule_set)
    scored, restriction = sources.table(source), sources.restriction(source)
    check_behaviors(source, behaviors)
    chosen = versions.selection(pose).proj()
    if first_minutes is not None:
        bins = scored.TimeBin & restriction & chosen & first_bins(source, first_minutes)
        df = _with_scorable_s(bins.to_pandas().reset_index())
        df["latency_abs"] = df["bin_start_s"] + df["latency_s"]
        df = (df.groupby([*RECORDING, "behavior", "agent", "target"], as_index=False)
                .agg(bout_count=("bout_count", "sum"), total_duration_s=("total_duration_s", "sum"),
                     latency_s=("latency_abs", "min"), covered_s=("covered_s", "sum"),
                     scorable_s=("scorable_s", "sum")))
        mutual = set((scored.Summary & restriction & chosen & "mutual")
                     .to_pandas().reset_index()["behavior"])
        df["mutual"] = df["behavior"].isin(mutual)
    else:
        df = _with_scorable_s((scored.Summary & restriction & chosen).to_pandas().reset_index())
    df = df[[*RECORDING, "behavior", "agent", "target", "mutual", *MEASURES, *COVERAGE]]
    df = df.astype({"mutual": bool})
    if behaviors:
        df = df[df["behavior"].isin(behaviors)]
    return df.reset_index(drop=True)


def per_pair(*, rule_set: str | None = None, first_minutes: float | None = None, behaviors=None,
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


def per_animal(*, rule_set: str | None = None, first_minutes: float | None = None,
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


def first_bins(rule_set: str, first_minutes: float) -> str:
    """Restriction to the time bins that make up the first ``first_minutes`` of a rule set's bins.

    Raises
    ------
    InputError
        See :func:`bins_for_minutes`.
    """
    row = sources.info(rule_set)
    count = bins_for_minutes(first_minutes, bin_s=row["bin_s"], n_bins=row["n_bins"], rule_set_name=row["name"])
    return f"time_bin < {count}"


def bins_for_minutes(first_minutes, *, bin_s: float, n_bins: int, rule_set_name: str) -> int:
    """How many of a rule set's time bins make exactly the first ``first_minutes`` minutes.

    Never rounds: a window that is not a whole number of bins, or longer
    than the stored bins, is refused with the windows the rule set offers.

    Raises
    ------
    InputError
        Not a positive number, not a whole number of bins, or past the last bin.

    Examples
    --------
    >>> bins_for_minutes(2, bin_s=60, n_bins=3, rule_set_name="default")
    2
    >>> bins_for_minutes(10, bin_s=60, n_bins=3, rule_set_name="default")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pipeline.errors.InputError: ... (rule set 'default' stores 3 bins of 60 s: --first-minutes 1..3)
    """
    stored = f"rule set {rule_set_name!r} stores {n_bins} bins of {bin_s:g} s: --first-minutes " \
             + _minute_choices(bin_s / 60.0, n_bins)
    try:
        minutes = float(first_minutes)
    except (TypeError, ValueError):
        minutes = math.nan
    if not math.isfinite(minutes) or minutes <= 0:
        shown = f"{minutes:g}" if math.isfinite(minutes) else repr(first_minutes)
        raise InputError("--first-minutes", f"{shown} is not a positive number of minutes ({stored})")
    count = minutes * 60.0 / bin_s
    if abs(count - round(count)) > 1e-9:
        raise InputError("--first-minutes", f"{minutes:g} min is not a whole number of {bin_s:g}-s bins "
                                            f"(refused, not rounded; {stored})")
    if round(count) > n_bins:
        raise InputError("--first-minutes", f"{minutes:g} min is more than the rule set stores ({stored})")
    return int(round(count))


def _minute_choices(step: float, n_bins: int) -> str:
    """The windows a rule set offers: '1..3' (1-min bins), '0.5, 1 or 1.5', or 'multiples of 0.25 up to 5'."""
    if n_bins < 1:
        return "none (the rule set stores no time bins)"
    if step == 1:
        return f"1..{n_bins}" if n_bins > 1 else "1"
    values = [f"{k * step:g}" for k in range(1, n_bins + 1)]
    if n_bins <= 6:
        return values[0] if n_bins == 1 else ", ".join(values[:-1]) + f" or {values[-1]}"
    return f"multiples of {step:g} up to {values[-1]}"


def rule_set_behaviors(rule_set: str) -> tuple:
    """The behaviours a bout source (a rule set's id, or ``classifier:NAME``) scores, in output order."""
    return sources.info(rule_set)["behaviors"]


def check_behaviors(rule_set: str, behaviors) -> None:
    """Refuse a behaviour the rule set does not score (rather than report "nothing scored").

    Raises
    ------
    InputError
        Naming the unknown behaviour(s), the rule set and the behaviours it knows.
    """
    if not behaviors:
        return
    known = rule_set_behaviors(rule_set)
    unknown = [b for b in behaviors if b not in known]
    if unknown:
        name = sources.info(rule_set)["name"]
        what = name if sources.is_classifier(rule_set) else f"rule set {name!r}"
        raise InputError("--behavior", f"unknown behaviour {', '.join(map(repr, unknown))} for {what}; "
                                       f"it scores: {', '.join(known)}")


def group_attributes() -> list[str]:
    """Subject and session attributes that animals can be grouped by (``--group-by``)."""
    return [a for a in session.animals().heading.names if a not in ("session", "subject")]


def check_group_by(group_by) -> list[str]:
    """The ``--group-by`` attributes, checked (duplicates dropped).

    Raises
    ------
    InputError
        None given, or one that is not an attribute of the session's animals; lists the known ones.
    """
    group_by = list(dict.fromkeys(group_by))
    known = group_attributes()
    unknown = [g for g in group_by if g not in known]
    if unknown or not group_by:
        what = f"unknown attribute {', '.join(map(repr, unknown))}" if unknown else "no attribute given"
        raise InputError("--group-by", f"{what}; group by one or more of: {', '.join(known)} (comma-separated)")
    return group_by


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

    A session (× behaviour) without one scorable second in the window
    (``scorable_s`` = 0) gets NaN measures and ``no_data = True``, not 0 bouts.

    Raises
    ------
    InputError
        A session with more than one scored recording under the rule set, an
        unknown behaviour or ``group_by`` attribute, or a window the bins do not make.
    """
    bouts = resolve_rule_set(rule_set)
    scored, restriction = sources.table(bouts), sources.restriction(bouts)
    check_behaviors(bouts, behaviors)
    group_cols = check_group_by(group_by) if group_by else []
    chosen = versions.selection(pose).proj()
    if first_minutes is not None:
        source = scored.TimeBin & restriction & chosen & first_bins(bouts, first_minutes)
        latency = "min(bin_start_s + latency_s)"
    else:
        source = scored.Summary & restriction & chosen
        latency = "min(latency_s)"
    _check_one_recording(source.proj().to_pandas().reset_index(), by=("session",))
    totals = dj.U("session", "behavior").aggr(
        source, bout_count="sum(bout_count)", total_duration_s="sum(total_duration_s)", latency_s=latency,
        scorable_s="sum(covered_s * coalesce(scorable_fraction, 0))")
    df = totals.to_pandas().reset_index()
    if behaviors:
        df = df[df["behavior"].isin(behaviors)]
    for col in (*MEASURES, "scorable_s"):
        df[col] = pd.to_numeric(df[col])
    df = no_data_as_missing(df)  # a session without one scorable second: NaN, not 0 bouts
    groups = _agents().groupby("session")[group_cols].agg(_same).reset_index()
    return df.merge(groups, on="session", how="left")


def _same(values):
    """A session's group value when all its animals share it, else 'mixed'."""
    u = pd.unique(values)
    return u[0] if len(u) == 1 else "mixed"


def default_rule_set() -> str:
    return resolve_rule_set(None)


def resolve_rule_set(rule_set: str | None) -> str:
    """The bout source: a rule set's id (given by id or name; None = 'default') or ``classifier:NAME``.

    Raises
    ------
    InputError
        No rule set, or several, has that id or name; no trained classifier has that name.
    """
    return sources.resolve(rule_set)


def coverage(rule_set: str | None = None, *, pose: str = "raw") -> pd.DataFrame:
    """Per scored pose version: first covered video frame, covered seconds and frames of the pose data."""
    source = resolve_rule_set(rule_set)
    scored = sources.table(source) & sources.restriction(source) & versions.selection(pose).proj()
    df = scored.proj("n_frames", "frame_offset", "fps").to_pandas().reset_index()
    df["covered_s"] = df["n_frames"] / df["fps"]
    df["first_covered_s"] = df["frame_offset"] / df["fps"]
    return df


def counts_by_group(group_by=("sex", "age_group")) -> pd.DataFrame:
    """Number of animals per group, straight from DataJoint (dj.U aggregation)."""
    return (dj.U(*group_by).aggr(session.animals(), n_animals="count(*)")).to_pandas().reset_index()
