"""Filtered poses, identity checks and approved corrections through the database."""

import numpy as np
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def flies(clean, shared_data, tmp_path):
    """The 27-fragment fly predictions, ingested with no track mapped."""
    from schemas.ingest import ingest
    from tests.integration.test_ingest import write_manifest

    ingest(write_manifest(tmp_path, {
        "subjects": [{"subject": "fly1", "sex": "F", "age_group": "adult"},
                     {"subject": "fly2", "sex": "M", "age_group": "adult"}],
        "sessions": [{"session": "flies", "datetime": "2026-04-01 10:00:00",
                      "animals": [{"subject": "fly1"}, {"subject": "fly2"}],
                      "recordings": [{"camera": "top", "fps": 15, "pose": [
                          {"source": "sleap",
                           "file": str(shared_data / "sleap_flies/centered_pair_predictions.slp")}]}]}]}))
    return {"session": "flies", "camera": "top", "pose_source": "sleap"}


def test_filtered_pose_is_a_new_version(flies):
    from schemas import pose, quality

    steps = [{"step": "max_jump", "max_px_per_frame": 30}, {"step": "interpolate_gaps", "max_gap_frames": 5}]
    fset = quality.FilterParamSet.add("jump+fill", steps)
    assert quality.FilterParamSet.add("same chain, other name", steps) == fset  # content-hashed
    quality.FilteredPose.populate()
    row = (quality.FilteredPose & flies & {"filter_set": fset}).fetch1()
    original = np.asarray((pose.PoseEstimation & flies).fetch1("positions"))
    filtered = np.asarray(row["positions"])
    assert filtered.shape == original.shape
    assert [s["step"] for s in row["step_stats"]] == ["max_jump", "interpolate_gaps"]
    assert np.isnan(original).sum() != np.isnan(filtered).sum()
    # the original is untouched
    np.testing.assert_array_equal(np.asarray((pose.PoseEstimation & flies).fetch1("positions")), original)


def test_identity_check_and_approved_correction(flies):
    from schemas import quality

    quality.IdentityCheck.populate()
    check = (quality.IdentityCheck & flies).fetch1()
    assert check["n_fragments"] > 0
    quality.IdentityCorrection.populate()
    assert len(quality.IdentityCorrection()) == 0  # nothing without a decision
    quality.IdentityDecision.insert1(dict(flies, apply_correction=True, decided_by="tester"))
    quality.IdentityCorrection.populate()
    row = (quality.IdentityCorrection & flies).fetch1()
    assert len(row["individuals"]) == 2 and np.asarray(row["positions"]).shape[1] == 2
    gate = row["report"]["gate"]                         # the motion gate ran with the decision's defaults
    assert gate["body_size"] > 0 and set(gate["rejected"]) == set(row["individuals"])
    assert row["provenance"]["params"]["max_jump"] == 1.0
    # a new decision (max_jump 0: keep every detection) replaces the old one and its correction
    (quality.IdentityDecision & flies).delete(prompt=False)
    assert len(quality.IdentityCorrection & flies) == 0
    quality.IdentityDecision.insert1(dict(flies, apply_correction=True, max_jump=0, decided_by="tester"))
    quality.IdentityCorrection.populate()
    assert (quality.IdentityCorrection & flies).fetch1("report")["gate"] is None


def test_qc_cli_writes_report(flies, tmp_path, capsys):
    from schemas import quality
    from workers.cli import main

    assert main(["qc", "flies", "--out", str(tmp_path / "qc")]) == 0  # a report computes nothing
    assert "not computed yet for session 'flies': IdentityCheck" in capsys.readouterr().out
    assert len(quality.IdentityCheck()) == 0
    quality.IdentityCheck.populate()
    quality.FilteredPose.populate()
    assert main(["qc", "flies", "--out", str(tmp_path / "qc")]) == 0
    text = capsys.readouterr().out
    assert "not computed yet" not in text
    assert "identity events" in text and "missing_fraction" in text
    for suffix in ("trajectories", "confidence", "identity"):
        assert (tmp_path / "qc" / f"qc_flies_top_sleap_{suffix}.png").stat().st_size > 5000


def test_the_identity_corrected_pose_is_a_version_scored_beside_the_raw_one(clean, tmp_path):
    """Swapped identities lower directed-behaviour recall; scoring the approved correction restores it."""
    import dataclasses

    from pipeline.behavior.validate import match_bouts
    from pipeline.synthetic import simulate_session, write_session_files
    from schemas import behavior, quality, versions
    from schemas.ingest import ingest
    from tests.integration.test_ingest import write_manifest
    from tests.unit.test_quality import inject_swaps

    sim = simulate_session(seed=11, duration_s=300, episode_counts=3)
    swapped, _ = inject_swaps(sim.pose, np.random.default_rng(1), 15, 60, 300)
    files = write_session_files(dataclasses.replace(sim, pose=swapped, name="swapped"), tmp_path, formats=("sleap_h5",))
    subjects = dict(zip(sim.pose.individuals, ["m1", "m2"]))
    ingest(write_manifest(tmp_path, {
        "subjects": [{"subject": s, "sex": "M", "age_group": "adult"} for s in subjects.values()],
        "sessions": [{"session": "swapped", "datetime": "2026-04-05 10:00:00",
                      "animals": [{"subject": s} for s in subjects.values()],
                      "recordings": [{"camera": "top", "fps": sim.fps, "mm_per_px": sim.mm_per_px, "pose": [
                          {"source": "synthetic", "file": str(files["sleap_h5"]), "tracks": subjects}]}]}]}))
    key = {"session": "swapped", "camera": "top", "pose_source": "synthetic"}
    rule_set = {"rule_set": behavior.SocialRuleSet.add("default")}
    behavior.SocialBouts.populate()
    assert len(versions.PoseVersion & {"kind": "corrected"}) == 0  # no approved correction yet
    quality.IdentityCheck.populate()
    quality.IdentityDecision.insert1(dict(key, apply_correction=True, decided_by="tester"))
    quality.IdentityCorrection.populate()
    behavior.SocialBouts.populate()
    truth = sim.episodes.replace(subjects)
    recall = {}
    for name, version in (("raw", "top/synthetic"), ("corrected", "top/synthetic/corrected")):
        found = (behavior.SocialBouts.Bout & rule_set & {"session": "swapped", "pose_version": version}
                 ).to_pandas().reset_index()
        ms = [match_bouts(found[found.behavior == b], truth[truth.behavior == b])
              for b in sorted(set(truth.behavior))]
        recall[name] = sum(m.matched_episodes for m in ms) / sum(m.episodes for m in ms)
    print(f"\nbout recall with swapped identities {recall['raw']:.2f}, after the approved correction "
          f"{recall['corrected']:.2f}")
    assert recall["corrected"] >= 0.95 and recall["corrected"] > recall["raw"]
    # the QC report shows the corrected version beside the raw one
    from workers.cli import main

    quality.FilteredPose.populate()
    assert main(["qc", "swapped", "--out", str(tmp_path / "qc")]) == 0
    assert (tmp_path / "qc" / "qc_swapped_top_synthetic_trajectories.png").stat().st_size > 10_000


def test_clip_correction_through_the_database(clean, shared_data, tmp_path):
    """The real clip figures, end to end: predictions and the proofread file ingested side by side."""
    from pipeline.pose import PoseData
    from pipeline.quality import identity_accuracy
    from schemas import pose, quality
    from schemas.ingest import ingest
    from tests.integration.test_ingest import write_manifest

    folder = shared_data / "sleap_flies"
    tracks = {"female": "f1", "male": "m1"}
    ingest(write_manifest(tmp_path, {
        "subjects": [{"subject": "f1", "sex": "F", "age_group": "adult"},
                     {"subject": "m1", "sex": "M", "age_group": "adult"}],
        "sessions": [{"session": "clip", "datetime": "2026-04-02 10:00:00",
                      "animals": [{"subject": "f1"}, {"subject": "m1"}],
                      "recordings": [{"camera": "top", "fps": 30, "pose": [
                          {"source": "sleap", "file": str(folder / "clip.predictions.slp"), "tracks": tracks},
                          {"source": "proofread", "file": str(folder / "clip.slp"), "tracks": tracks}]}]}]}))
    key = {"session": "clip", "camera": "top", "pose_source": "sleap"}
    quality.IdentityCheck.populate(key)
    quality.IdentityDecision.insert1(dict(key, apply_correction=True, decided_by="tester"))
    quality.IdentityCorrection.populate()
    pred_row = pose.fetch_pose(key)
    truth_row = pose.fetch_pose(dict(key, pose_source="proofread"))
    pred, truth = quality._pose_data(pred_row), quality._pose_data(truth_row)
    row = (quality.IdentityCorrection & key).fetch1()
    fixed = PoseData(np.asarray(row["positions"], float), np.asarray(row["confidence"], float),
                     individuals=tuple(row["individuals"]), keypoints=pred_row["keypoints"], fps=pred_row["fps"])
    before, after = identity_accuracy(pred, truth), identity_accuracy(fixed, truth)
    kept = row["report"]["gate"]["kept_fraction"]
    print(f"\nclip through the database: identity accuracy {before:.4f} -> {after:.4f}, kept {kept}")
    assert before < 0.97 and after >= 0.99 and min(kept.values()) >= 0.95


@pytest.mark.parametrize("steps, problem", [
    ([{"step": "interpolate_gaps", "max_gap": 3}], "unknown option(s) ['max_gap'] (its options: max_gap_frames, "),
    ([{"step": "gaussian"}], "missing a required argument: 'sigma_frames'"),
    ([{"step": "smooth"}], "unknown filter step 'smooth'"),
])
def test_a_filter_chain_with_bad_options_is_refused_before_it_is_stored(clean, steps, problem):
    """Options a step does not take used to be stored, and every FilteredPose job of the chain then failed."""
    from schemas import quality

    with pytest.raises(ValueError, match="step 0") as err:
        quality.FilterParamSet.add("bad", steps)
    assert problem in str(err.value) and len(quality.FilterParamSet & {"filter_set_name": "bad"}) == 0
