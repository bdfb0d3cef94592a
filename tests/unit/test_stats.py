"""Unit tests of pipeline/stats.py: group tables, between-group tests, Holm, per-animal rows."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from pipeline.stats import animals_from_pairs, group_table, group_tests, holm


def _cohort() -> pd.DataFrame:
    """Two behaviours, six animals (3 F, 3 M); "b" has a clear sex difference."""
    return pd.DataFrame({
        "behavior": ["a"] * 6 + ["b"] * 6,
        "sex": list("FFFMMM") * 2,
        "x": [1.0, 2.0, 3.0, 2.5, 3.5, 1.5, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0],
    })


# group_table


def test_group_table_n_mean_sem_median():
    out = group_table(_cohort(), group_by=["sex"], value="x")
    assert list(out.columns) == ["behavior", "sex", "n", "mean", "sem", "median"]
    row = out[(out["behavior"] == "b") & (out["sex"] == "M")].iloc[0]
    assert row["n"] == 3 and row["mean"] == pytest.approx(11.0) and row["median"] == 11.0
    assert row["sem"] == pytest.approx(1.0 / np.sqrt(3))  # sd of 10, 11, 12 is 1


def test_group_table_counts_only_present_values():
    d = pd.DataFrame({"behavior": "a", "sex": list("FFM"), "x": [1.0, np.nan, 4.0]})
    out = group_table(d, group_by=["sex"], value="x").set_index("sex")
    assert out.loc["F", "n"] == 1 and out.loc["F", "mean"] == 1.0
    assert np.isnan(out.loc["F", "sem"])  # one value: no spread


# group_tests


def test_group_tests_two_groups_is_mann_whitney_with_scipy_p():
    d = _cohort()
    out = group_tests(d, group_by=["sex"], value="x").set_index("behavior")
    for behavior in "ab":
        sub = d[d["behavior"] == behavior]
        expected = sps.mannwhitneyu(sub.loc[sub["sex"] == "F", "x"], sub.loc[sub["sex"] == "M", "x"]).pvalue
        assert out.loc[behavior, "test"] == "Mann-Whitney U"
        assert out.loc[behavior, "groups"] == 2
        assert out.loc[behavior, "p"] == pytest.approx(expected)
    # "b": 3 vs 3 animals completely separated: exact two-sided p = 2 / C(6, 3)
    assert out.loc["b", "p"] == pytest.approx(0.1)


def test_group_tests_holm_corrects_across_behaviours():
    out = group_tests(_cohort(), group_by=["sex"], value="x")
    p = out["p"].to_numpy()
    expected = np.minimum(np.maximum.accumulate(np.sort(p) * [2, 1]), 1.0)[np.argsort(np.argsort(p))]
    assert out["p_holm"].to_numpy() == pytest.approx(expected)


def test_group_tests_more_groups_is_kruskal_wallis():
    d = pd.DataFrame({"behavior": "a", "line": list("AABBCC"), "x": [1.0, 2.0, 5.0, 6.0, 9.0, 10.0]})
    row = group_tests(d, group_by=["line"], value="x").iloc[0]
    assert row["test"] == "Kruskal-Wallis" and row["groups"] == 3
    assert row["p"] == pytest.approx(sps.kruskal([1.0, 2.0], [5.0, 6.0], [9.0, 10.0]).pvalue)


def test_group_tests_without_a_testable_design_gives_none():
    one_group = pd.DataFrame({"behavior": "a", "sex": "F", "x": [1.0, 2.0]})
    row = group_tests(one_group, group_by=["sex"], value="x").iloc[0]
    assert row["test"] == "none" and np.isnan(row["p"]) and np.isnan(row["p_holm"])
    constant = pd.DataFrame({"behavior": "a", "line": list("ABC"), "x": 1.0})
    assert group_tests(constant, group_by=["line"], value="x").iloc[0]["test"] == "none"


def test_group_tests_two_by_two_adds_anova_with_holm():
    rng = np.random.default_rng(3)
    d = pd.DataFrame({"behavior": "a", "sex": list("FFFMMM") * 2, "age": ["young"] * 6 + ["old"] * 6})
    d["x"] = rng.normal(size=12) + (d["sex"] == "M") * 5.0
    out = group_tests(d, group_by=["sex", "age"], value="x")
    for col in ("anova_p_sex", "anova_p_age", "anova_p_sex_x_age"):
        assert col in out and col + "_holm" in out
    assert out["anova_p_sex"].iloc[0] < 0.001  # the built-in effect
    assert out["test"].iloc[0] == "Kruskal-Wallis"  # four groups


# holm


def test_holm_matches_hand_computed_values():
    # sorted 0.01, 0.02, 0.03, 0.04 times 4, 3, 2, 1: 0.04, 0.06, 0.06, 0.04 -> running max 0.04, 0.06, 0.06, 0.06
    p = np.array([0.03, 0.01, 0.04, 0.02])
    assert holm(p) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    # capped at 1
    assert holm(np.array([0.5, 0.6])) == pytest.approx([1.0, 1.0])
    # one test: unchanged
    assert holm(np.array([0.2])) == pytest.approx([0.2])


def test_holm_keeps_nan_and_does_not_count_it():
    out = holm(np.array([0.01, np.nan, 0.03]))
    assert np.isnan(out[1])
    assert out[[0, 2]] == pytest.approx([0.02, 0.03])  # m = 2, not 3
    assert np.isnan(holm(np.array([np.nan, np.nan]))).all()
    assert holm(np.array([])).shape == (0,)


# animals_from_pairs


def _pairs(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["session", "behavior", "agent", "target", "mutual",
                                       "bout_count", "total_duration_s", "latency_s"])


def test_mutual_row_counts_for_both_animals():
    out = animals_from_pairs(_pairs([("s", "n2n", "a", "b", True, 3, 1.5, 10.0)])).set_index("agent")
    assert sorted(out.index) == ["a", "b"]
    for animal in "ab":
        assert out.loc[animal, "bout_count"] == 3 and out.loc[animal, "total_duration_s"] == 1.5
        assert out.loc[animal, "latency_s"] == 10.0 and out.loc[animal, "n_partners"] == 1
        assert bool(out.loc[animal, "mutual"])


def test_mutual_row_stored_both_ways_is_not_counted_twice():
    once = animals_from_pairs(_pairs([("s", "n2n", "a", "b", True, 3, 1.5, 10.0)]))
    both = animals_from_pairs(_pairs([("s", "n2n", "a", "b", True, 3, 1.5, 10.0),
                                      ("s", "n2n", "b", "a", True, 3, 1.5, 10.0)]))
    pd.testing.assert_frame_equal(once, both)


def test_directed_rows_sum_over_partners_and_take_earliest_latency():
    out = animals_from_pairs(_pairs([
        ("s", "follow", "a", "b", False, 2, 1.0, 30.0),
        ("s", "follow", "a", "c", False, 1, 0.5, 12.0),
        ("s", "follow", "b", "a", False, 4, 2.0, np.nan),
    ])).set_index("agent")
    assert sorted(out.index) == ["a", "b"]  # c is never an agent of a directed row
    assert out.loc["a", "bout_count"] == 3 and out.loc["a", "total_duration_s"] == 1.5
    assert out.loc["a", "latency_s"] == 12.0 and out.loc["a", "n_partners"] == 2
    assert out.loc["b", "bout_count"] == 4 and np.isnan(out.loc["b", "latency_s"])
    assert not out["mutual"].any()


def test_animals_are_kept_apart_by_session_and_behaviour():
    out = animals_from_pairs(_pairs([
        ("s1", "n2n", "a", "b", True, 1, 0.1, 1.0),
        ("s2", "n2n", "a", "b", True, 2, 0.2, 2.0),
        ("s1", "follow", "a", "b", False, 5, 0.5, 5.0),
    ]))
    assert len(out) == 5  # s1/n2n a, b; s2/n2n a, b; s1/follow a
    a = out[out["agent"] == "a"].set_index(["session", "behavior"])["bout_count"]
    assert a.to_dict() == {("s1", "follow"): 5, ("s1", "n2n"): 1, ("s2", "n2n"): 2}


def test_measures_missing_from_the_rows_are_left_out():
    d = _pairs([("s", "n2n", "a", "b", True, 3, 1.5, 10.0)]).drop(columns=["total_duration_s", "latency_s"])
    out = animals_from_pairs(d)
    assert list(out.columns) == ["session", "behavior", "agent", "mutual", "n_partners", "bout_count"]
    custom = animals_from_pairs(_pairs([("s", "n2n", "a", "b", True, 3, 1.5, 10.0)]),
                                aggregation={"latency_s": "max"})
    assert "bout_count" not in custom and (custom["latency_s"] == 10.0).all()


def test_empty_pairs_give_no_animals():
    assert animals_from_pairs(_pairs([])).empty
