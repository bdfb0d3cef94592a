"""Group-statistics queries: behaviour measures joined with subject and session attributes."""

from __future__ import annotations

import datajoint as dj
import pandas as pd

from . import behavior, session

MEASURES = ("bout_count", "total_duration_s", "latency_s")


def _agents() -> pd.DataFrame:
    """Session animals as agents, with their group attributes (age group in force).

    (Renamed in pandas: DataJoint 2.3.5 quotes renamed attributes MySQL-style on PostgreSQL.)
    """
    return session.animals().to_pandas().reset_index().rename(columns={"subject": "agent"})


def per_animal(*, rule_set: str | None = None, first_minutes: int | None = None,
               behaviors=None) -> pd.DataFrame:
    """One row per session × animal × behaviour: bout count, time, latency.

    A mutual behaviour (nose-to-nose) counts for both animals of the pair.
    With ``first_minutes``, measures are over the first N time bins of the
    rule set (60 s bins by default) instead of the whole recording.
    """
    restriction = {"rule_set": rule_set or default_rule_set()}
    if first_minutes:
        bins = (behavior.SocialBouts.TimeBin & restriction & f"time_bin < {int(first_minutes)}")
        df = bins.to_pandas().reset_index()
        df["latency_abs"] = df["bin_start_s"] + df["latency_s"]
        df = (df.groupby(["session", "behavior", "agent", "target"], as_index=False)
                .agg(bout_count=("bout_count", "sum"), total_duration_s=("total_duration_s", "sum"),
                     latency_s=("latency_abs", "min")))
        mutual = set((behavior.SocialBouts.Summary & restriction & "mutual").to_pandas().reset_index()["behavior"])
        df["mutual"] = df["behavior"].isin(mutual)
    else:
        df = (behavior.SocialBouts.Summary & restriction).to_pandas().reset_index()
        df = df[["session", "behavior", "agent", "target", "mutual", *MEASURES]]
    swapped = df[df["mutual"].astype(bool)].rename(columns={"agent": "target", "target": "agent"})
    df = pd.concat([df, swapped], ignore_index=True)
    if behaviors:
        df = df[df["behavior"].isin(behaviors)]
    attrs = _agents()
    return df.merge(attrs, on=["session", "agent"], how="inner")


def per_session(*, rule_set=None, first_minutes=None, behaviors=None, group_by=("sex", "age_group")) -> pd.DataFrame:
    """One row per session × behaviour: totals over the pair (mutual bouts once).

    Over the whole recording this is a DataJoint aggregation (``dj.U``) of
    ``SocialSummary``; with ``first_minutes`` it sums the time bins.
    """
    restriction = {"rule_set": rule_set or default_rule_set()}
    if first_minutes:
        source = behavior.SocialBouts.TimeBin & restriction & f"time_bin < {int(first_minutes)}"
        latency = "min(bin_start_s + latency_s)"
    else:
        source = behavior.SocialBouts.Summary & restriction
        latency = "min(latency_s)"
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
    """A session's group value when both animals share it, else 'mixed'."""
    u = pd.unique(values)
    return u[0] if len(u) == 1 else "mixed"


def default_rule_set() -> str:
    return (behavior.SocialRuleSet & {"rule_set_name": "default"}).fetch1("rule_set")


def counts_by_group(group_by=("sex", "age_group")) -> pd.DataFrame:
    """Number of animals per group, straight from DataJoint (dj.U aggregation)."""
    return (dj.U(*group_by).aggr(session.animals(), n_animals="count(*)")).to_pandas().reset_index()
