"""Group statistics of per-animal or per-session behaviour measures (tidy pandas)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# how an animal's value is made from its rows toward each partner
ANIMAL_AGGREGATION = {"bout_count": "sum", "total_duration_s": "sum", "latency_s": "min"}


def animals_from_pairs(pairs: pd.DataFrame, *, keys=("session", "behavior"),
                       aggregation: dict | None = None) -> pd.DataFrame:
    """One row per animal (agent) from rows per agent → target.

    A directed row counts for its agent; a mutual row (stored once per pair)
    counts for both animals of the pair. Counts and durations are summed
    over the animal's partners, the latency is the earliest.

    Parameters
    ----------
    pairs : pandas.DataFrame
        Columns ``keys``, ``agent``, ``target``, ``mutual`` and the measures.
    keys : sequence of str
        Columns that, with ``agent``, identify an animal's row.
    aggregation : dict, optional
        Measure → pandas aggregation; default :data:`ANIMAL_AGGREGATION`
        (measures missing from ``pairs`` are left out).

    Returns
    -------
    pandas.DataFrame
        Columns ``keys``, ``agent``, ``mutual``, ``n_partners`` and the measures.

    Examples
    --------
    >>> d = pd.DataFrame({"session": "s", "behavior": "b", "agent": ["a", "a", "b", "b", "c", "c"],
    ...                   "target": ["b", "c", "a", "c", "a", "b"], "mutual": False,
    ...                   "bout_count": [1, 2, 3, 4, 5, 6]})
    >>> animals_from_pairs(d)[["agent", "n_partners", "bout_count"]].values.tolist()
    [['a', 2, 3], ['b', 2, 7], ['c', 2, 11]]
    """
    aggregation = {m: how for m, how in (aggregation or ANIMAL_AGGREGATION).items() if m in pairs}
    mutual = pairs[pairs["mutual"].astype(bool)]
    both = pd.concat([pairs, mutual.rename(columns={"agent": "target", "target": "agent"})], ignore_index=True)
    both = both.drop_duplicates([*keys, "agent", "target"])  # a mutual row already stored both ways
    agg = {m: (m, how) for m, how in aggregation.items()}
    return (both.groupby([*keys, "agent"], as_index=False, observed=True, dropna=False)
                .agg(mutual=("mutual", "any"), n_partners=("target", "nunique"), **agg))


def group_table(df: pd.DataFrame, *, group_by: list[str], value: str, by=("behavior",)) -> pd.DataFrame:
    """n, mean, SEM (and median) of ``value`` per group and behaviour.

    Examples
    --------
    >>> d = pd.DataFrame({"behavior": ["a"] * 4, "sex": list("FFMM"), "x": [1., 3., 2., 2.]})
    >>> group_table(d, group_by=["sex"], value="x")[["sex", "n", "mean"]].values.tolist()
    [['F', 2, 2.0], ['M', 2, 2.0]]
    """
    keys = [*by, *group_by]
    g = df.groupby(keys, observed=True)[value]
    out = g.agg(n="count", mean="mean", sd="std", median="median").reset_index()
    out["sem"] = out["sd"] / np.sqrt(out["n"])
    return out[[*keys, "n", "mean", "sem", "median"]]


def group_tests(df: pd.DataFrame, *, group_by: list[str], value: str, by: str = "behavior") -> pd.DataFrame:
    """Between-group tests per behaviour, Holm-corrected across behaviours.

    Mann–Whitney U for two groups, Kruskal–Wallis for more (groups = the
    combinations of ``group_by``). With exactly two two-level factors, also a
    two-way ANOVA (main effects and interaction) with statsmodels.
    """
    from scipy import stats  # lazily: scipy is slow to import (CLI start-up)

    rows = []
    for behavior, d in df.groupby(by, observed=True):
        labels = d[group_by].astype(str).agg(" ".join, axis=1)
        samples = [v[value].dropna().to_numpy() for _, v in d.assign(_g=labels).groupby("_g")]
        samples = [s for s in samples if len(s)]
        row = {by: behavior, "groups": len(samples), "value": value}
        if len(samples) == 2:
            row["test"], row["p"] = "Mann-Whitney U", stats.mannwhitneyu(*samples).pvalue
        elif len(samples) > 2 and len({round(float(x), 12) for s in samples for x in s}) > 1:
            row["test"], row["p"] = "Kruskal-Wallis", stats.kruskal(*samples).pvalue
        else:
            row["test"], row["p"] = "none", np.nan
        if len(group_by) == 2 and all(d[f].nunique() == 2 for f in group_by) and d[value].nunique() > 1:
            row.update(_anova(d, group_by, value))
        rows.append(row)
    out = pd.DataFrame(rows)
    for col in [c for c in out.columns if c == "p" or c.startswith("anova_p_")]:
        out[col + "_holm"] = holm(out[col].to_numpy())
    return out


def _anova(d, group_by, value) -> dict:
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    a, b = group_by
    data = d[[a, b, value]].rename(columns={a: "A", b: "B", value: "y"}).dropna()
    cells = data.groupby(["A", "B"]).size()
    if len(cells) < 4 or cells.min() < 2 or len(data) <= 4:
        return {}  # the design does not allow it (empty or single-animal cells)
    table = anova_lm(smf.ols("y ~ C(A) * C(B)", data=data).fit(), typ=2)
    return {f"anova_p_{a}": table.loc["C(A)", "PR(>F)"], f"anova_p_{b}": table.loc["C(B)", "PR(>F)"],
            f"anova_p_{a}_x_{b}": table.loc["C(A):C(B)", "PR(>F)"]}


def holm(p: np.ndarray) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (statsmodels ``multipletests``); NaN kept and not counted.

    >>> holm(np.array([0.01, 0.04, 0.03])).round(2).tolist()
    [0.03, 0.06, 0.06]
    >>> holm(np.array([0.01, np.nan, 0.03])).round(2).tolist()
    [0.02, nan, 0.03]
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out
