"""Scoring through the database: synthetic cohort and real DeepOF data, on every backend."""

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError

pytestmark = pytest.mark.integration


@pytest.fixture
def cohort_ingested(clean, tmp_path):
    from pipeline.synthetic import simulate_cohort
    from schemas.ingest import ingest
    from workers.demo import build_manifest

    cohort = simulate_cohort(seed=7, sessions_per_group=1, duration_s=90)
    ingest(build_manifest(cohort, tmp_path))
    return cohort


def test_social_bouts_match_ground_truth(cohort_ingested):
    from schemas import behavior

    behavior.SocialBouts.populate()
    assert len(behavior.SocialBouts()) == 4
    for sim in cohort_ingested.sessions:
        truth = sim.simulation.episodes.replace(dict(zip(sim.simulation.pose.individuals, sim.subjects)))
        found = (behavior.SocialBouts.Bout & {"session": sim.session_id}).to_pandas().reset_index()
        matched = 0
        for ep in truth.itertuples():
            same = found[(found.behavior == ep.behavior)
                         & (((found.agent == ep.agent) & (found.target == ep.target))
                            | ((ep.behavior == "nose2nose") & (found.agent == ep.target) & (found.target == ep.agent)))]
            overlap = (np.minimum(same.end_frame, ep.end_frame) - np.maximum(same.start_frame, ep.start_frame)).clip(0)
            matched += bool((overlap >= 0.5 * (ep.end_frame - ep.start_frame)).any())
        assert matched / len(truth) >= 0.95, sim.session_id
        assert len(found) <= len(truth) * 1.05 + 1
        summary = (behavior.SocialSummary & {"session": sim.session_id}).to_pandas().reset_index()
        assert set(summary.behavior) == {"nose2nose", "nose2anogenital", "nose2neck", "nose2left_ear", "nose2right_ear"}
        assert len(summary[summary.behavior == "nose2nose"]) == 1  # mutual: once per pair
        assert summary["agent"].isin(sim.subjects).all()  # named by subject, not track index


def test_report_cli_writes_tables_and_plots(cohort_ingested, tmp_path, capsys):
    from schemas import behavior
    from workers.cli import main

    behavior.SocialBouts.populate()
    out = tmp_path / "report"
    assert main(["report", "--group-by", "sex,age_group", "--first-minutes", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "nose2anogenital" in text and "bouts (not frames)" in text
    table = pd.read_csv(out / "group_table.csv")
    assert set(table[table.measure == "bout_count"]["n"]) == {2}  # two animals per group, one session each
    for name in ("group_bout_count.png", "group_latency_s.png", "group_total_duration_s.png"):
        assert (out / name).stat().st_size > 10_000, name
    assert len(pd.read_csv(out / "per_session.csv")) == 4 * 5  # sessions × behaviours
    assert len(pd.read_csv(out / "per_animal.csv")) == 8 * 5  # animals × behaviours (mutual for both)


def test_real_deepof_pair_scores(clean, shared_data, tmp_path):
    from schemas import behavior
    from schemas.ingest import ingest
    from tests.integration.test_ingest import _one_session, write_manifest

    data = _one_session(shared_data)
    data["sessions"][0]["recordings"][0]["mm_per_px"] = 0.5
    ingest(write_manifest(tmp_path, data))
    behavior.SocialBouts.populate()
    row = behavior.SocialBouts.to_dicts()[0]
    assert row["units"] == "mm" and row["n_frames"] == 100
    summary = behavior.SocialSummary.to_pandas().reset_index()
    assert set(summary["agent"]) <= {"m1", "m2"} and summary["scorable_fraction"].between(0, 1).all()


def test_mm_rules_without_scale_are_refused(clean, shared_data, tmp_path):
    from schemas import behavior
    from schemas.ingest import ingest
    from tests.integration.test_ingest import _one_session, write_manifest

    ingest(write_manifest(tmp_path, _one_session(shared_data)))  # no mm_per_px
    result = behavior.SocialBouts.populate(suppress_errors=True)
    assert len(behavior.SocialBouts()) == 0
    assert "mm-per-pixel" in str(result["error_list"][0][1]) or "scale" in str(result["error_list"][0][1])


def test_per_session_totals_agree_with_bout_rows(cohort_ingested):
    from schemas import behavior, stats

    behavior.SocialBouts.populate()
    sessions = stats.per_session()
    bouts = behavior.SocialBouts.Bout.to_pandas().reset_index()
    counted = bouts.groupby(["session", "behavior"]).size()
    for row in sessions.itertuples():
        assert row.bout_count == counted.get((row.session, row.behavior), 0)
    durations = bouts.groupby(["session", "behavior"])["duration_s"].sum()
    merged = sessions.set_index(["session", "behavior"])["total_duration_s"]
    np.testing.assert_allclose(merged.loc[durations.index], durations, rtol=1e-9)
    assert set(sessions["sex"]) == {"F", "M"} and set(sessions["age_group"]) == {"young", "old"}
    animals = stats.per_animal()
    # per-animal counts a mutual bout for both animals, per-session once
    n2n = animals[animals.behavior == "nose2nose"].groupby("session")["bout_count"].sum()
    expected = 2 * sessions[sessions.behavior == "nose2nose"].set_index("session")["bout_count"]
    assert len(n2n) == 4  # rows come back in no set order (PostgreSQL): compare by session
    np.testing.assert_array_equal(n2n.sort_index().to_numpy(float), expected.sort_index().to_numpy(float))
    assert list(n2n.sort_index().index) == list(expected.sort_index().index)


def test_every_pose_version_is_scored_and_reports_choose_one(cohort_ingested):
    from schemas import behavior, quality, stats, versions

    default = behavior.SocialRuleSet.add("default")
    behavior.SocialBouts.populate()
    assert set(versions.PoseVersion.to_arrays("kind")) == {"raw"}
    fset = quality.FilterParamSet.add("median3", [{"step": "rolling_median", "window": 3}])
    quality.FilteredPose.populate()
    behavior.SocialBouts.populate()  # registers the filtered versions, scores them under the same rule set
    assert behavior.SocialRuleSet.add("default") == default  # a rule set's id does not depend on its input
    filtered = versions.PoseVersion & {"kind": "filtered"}
    assert len(filtered) == 4 and len(behavior.SocialBouts & filtered.proj()) == 4
    assert all(v.endswith(f"/filtered:{fset}") for v in filtered.to_arrays("pose_version"))
    raw_bouts = len(behavior.SocialBouts.Bout & (versions.PoseVersion & {"kind": "raw"}).proj())
    filtered_bouts = len(behavior.SocialBouts.Bout & filtered.proj())
    assert abs(raw_bouts - filtered_bouts) <= 0.05 * raw_bouts  # smoothing keeps the same contacts
    prov = (behavior.SocialBouts & filtered.proj()).to_dicts(limit=1)[0]["provenance"]
    assert prov["kind"] == "filtered" and prov["pose_version"].endswith(fset)
    raw_report = stats.per_animal()  # raw by default: one version per session, no double counting
    median_report = stats.per_animal(pose="filtered:median3")
    assert len(raw_report) == len(median_report) == 8 * 5
    assert stats.per_session()["bout_count"].sum() == raw_bouts  # each report counts its own version's bouts
    assert stats.per_session(pose="filtered:median3")["bout_count"].sum() == filtered_bouts
    with pytest.raises(InputError, match="no filter chain is named 'median5'"):
        stats.per_animal(pose="filtered:median5")
