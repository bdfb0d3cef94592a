"""Rule documents as stored rule sets, scored through SocialBouts; recordings that cannot be scored, recorded once."""

import argparse

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

TABLE = "deepof_two_mice/testDLC_h5_table_madlc.h5"
# DeepOF 0.9.0's own labels (mm_per_px 1), and its columns that flag at least one frame
REFERENCE = {25: "deepof_reference/madlc_annotations.csv", 30: "deepof_reference/madlc_annotations_30fps.csv"}
NON_EMPTY = {25: 4, 30: 3}
TRACKS = {"mouse_black_tail": "m1", "mouse_white_tail": "m2"}
SUBJECT_TRACK = {s: t for t, s in TRACKS.items()}
MUTUAL = ("nose2nose", "sidebyside", "sidereside")


@pytest.fixture
def rules_db(clean):
    """``clean`` with only the 'default' rule set, before and after (rule sets outlive ``clean``)."""
    from schemas import behavior

    def only_default():
        (behavior.SocialRuleSet - {"rule_set": behavior.SocialRuleSet.add("default")}).delete()

    only_default()
    yield clean
    only_default()


def _manifest(shared, *, tracks=TRACKS, roles=None, fps=25) -> dict:
    pose = {"source": "dlc", "file": str(shared / TABLE), "tracks": dict(tracks)}
    if roles is not None:
        pose["roles"] = roles
    return {
        "subjects": [{"subject": "m1", "sex": "F", "age_group": "young"},
                     {"subject": "m2", "sex": "M", "age_group": "young"}],
        "sessions": [{"session": "s1", "datetime": "2026-03-01 10:00:00",
                      "animals": [{"subject": "m1"}, {"subject": "m2"}],
                      # DeepOF's reference run: 25 fps, 1 mm per px (deepof_reference/settings.json)
                      "recordings": [{"camera": "top", "fps": fps, "mm_per_px": 1.0, "pose": [pose]}]}],
    }


def _ingest(shared, tmp_path, **kw) -> str:
    from schemas import pose
    from schemas.ingest import ingest
    from tests.integration.test_ingest import write_manifest

    ingest(write_manifest(tmp_path, _manifest(shared, **kw)))
    return pose.PoseEstimationTask.fetch1("skeleton")


def _deepof_roles() -> dict:
    from pipeline.behavior.ruledoc import load_document

    return load_document("deepof-0.9").skeleton_roles("deepof_14")


def _runs(values: np.ndarray) -> list:
    """(start, end) of the runs of 1 in a 0/1/NaN column (NaN = not 1)."""
    on = np.nan_to_num(values, nan=0.0) == 1
    edges = np.flatnonzero(np.diff(np.r_[0, on.astype(np.int8), 0]))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


@pytest.mark.parametrize("fps", [25, 30])
def test_deepof_preset_stored_and_scored_matches_deepofs_labels(rules_db, shared_data, tmp_path, fps):
    from pipeline.behavior.ruledoc import load_document
    from schemas import behavior

    doc = load_document("deepof-0.9")
    rs = behavior.SocialRuleSet.add_document("deepof-0.9")
    preset = REPO / "pipeline/behavior/presets/deepof-0.9.yaml"
    assert behavior.SocialRuleSet.add_document(preset) == rs  # same content from a file: same id, no new row
    stored = (behavior.SocialRuleSet & {"rule_set": rs}).fetch1()
    assert (stored["kind"], stored["units"], stored["rule_set_name"]) == ("document", "mm", "deepof-0.9")
    assert stored["document_sha256"] == doc.content_hash()
    assert behavior.SocialRuleSet.document({"rule_set": rs}).content_hash() == doc.content_hash()

    _ingest(shared_data, tmp_path, roles=_deepof_roles(), fps=fps)
    key = {"rule_set": rs}
    behavior.SocialBouts.populate(key)
    row = (behavior.SocialBouts & key).fetch1()
    assert (row["units"], row["n_frames"], row["frame_offset"], row["fps"]) == ("mm", 100, 0, float(fps))
    roles = row["provenance"]["roles"]
    assert roles["nose"] == "Nose" and roles["tail_base"] == "Tail_base"
    assert roles["body"] == _deepof_roles()["body"]  # the nine trunk points, in the skeleton's order

    ref = pd.read_csv(shared_data / REFERENCE[fps])
    bouts = (behavior.SocialBouts.Bout & key).to_pandas().reset_index()
    summary = (behavior.SocialBouts.Summary & key).to_pandas().reset_index()
    assert len(summary) == 3 + 3 * 2  # mutual behaviours once per pair, directed ones per agent -> target
    compared = 0
    for col in [c for c in ref.columns if c.endswith(tuple(doc.behavior_names))]:
        behavior_name = next(b for b in doc.behavior_names if col.endswith("_" + b))
        agent_track = next(t for t in TRACKS if col.startswith(t + "_"))
        target_track = next(t for t in TRACKS if t != agent_track)
        agent, target = TRACKS[agent_track], TRACKS[target_track]
        ours = bouts[(bouts.behavior == behavior_name) & (bouts.agent == agent) & (bouts.target == target)]
        got = sorted(zip(ours.start_frame.tolist(), ours.end_frame.tolist()))
        theirs = _runs(ref[col].to_numpy())
        assert got == theirs, col
        s = summary[(summary.behavior == behavior_name) & (summary.agent == agent) & (summary.target == target)]
        assert len(s) == 1, col
        s = s.iloc[0]
        assert bool(s["mutual"]) == (behavior_name in MUTUAL)
        assert s["bout_count"] == len(theirs) and s["frames_in_contact"] == sum(e - b for b, e in theirs), col
        # DeepOF writes NaN where the column's first animal is absent: those frames are not scorable here
        assert s["scorable_fraction"] == pytest.approx(1 - ref[col].isna().mean()), col
        assert s["covered_s"] == pytest.approx(100 / fps)
        compared += bool(theirs)
    assert compared == NON_EMPTY[fps]
    assert len(bouts) == row["n_bouts"] > 0
    # the fixed 'default' rule set scored the same pose with the skeleton's roles
    behavior.SocialBouts.populate()
    default = (behavior.SocialBouts - key).fetch1("provenance")
    assert default["roles"]["nose"] == "Nose" and default["roles"]["tail_base"] == "Tail_base"
    assert len(behavior.NotScorable()) == 0


def test_one_mapped_track_is_recorded_once_as_not_scorable(rules_db, shared_data, tmp_path, capsys):
    from schemas import behavior
    from workers.cli import main

    rs = behavior.SocialRuleSet.add_document("deepof-0.9")
    _ingest(shared_data, tmp_path, tracks={"mouse_black_tail": "m1"}, roles=_deepof_roles())
    assert main(["populate", "behavior.SocialBouts", "--reserve-jobs"]) == 0  # before: exit 1 on every run
    assert "2 made, 0 failed" in capsys.readouterr().out  # default and deepof-0.9, both as not scorable
    assert len(behavior.SocialBouts()) == 0
    rows = behavior.NotScorable.to_dicts()
    assert {r["rule_set"] for r in rows} == {rs, behavior.SocialRuleSet.add("default")}
    for r in rows:
        assert "PoseEstimation s1/top/dlc" in r["reason"] and "needs ≥ 2 tracks" in r["reason"]
        assert "has 1 (['mouse_black_tail -> m1'])" in r["reason"]
    recorded = {r["rule_set"]: r["recorded"] for r in rows}

    result = behavior.SocialBouts.populate()  # not retried: nothing to do, no error
    assert result["success_count"] == 0 and not result["error_list"]
    for more in ([], ["--reserve-jobs"]):
        assert main(["populate", "behavior.SocialBouts", *more]) == 0
        assert "0 made, 0 failed" in capsys.readouterr().out
    assert len(behavior.SocialBouts.key_source) == 0
    assert {r["rule_set"]: r["recorded"] for r in behavior.NotScorable.to_dicts()} == recorded

    table = behavior.not_scorable()
    assert len(table) == 2 and not table["retry"].any()
    assert set(table["rule_set_name"]) == {"default", "deepof-0.9"}
    assert table["reason"].str.contains("needs ≥ 2 tracks").all()

    # its inputs change (the pose is re-imported with both tracks): scored
    from schemas import pose

    (pose.PoseEstimationTask & {"session": "s1"}).delete(part_integrity="cascade")  # and its pose versions
    assert len(behavior.NotScorable()) == 0  # cascade
    _ingest(shared_data, tmp_path, roles=_deepof_roles())
    pose.PoseEstimation.populate()
    behavior.SocialBouts.populate()
    assert len(behavior.SocialBouts()) == 2 and len(behavior.NotScorable()) == 0


def test_missing_role_is_not_scorable_until_the_skeleton_gets_it(rules_db, shared_data, tmp_path):
    from schemas import behavior, pose

    rs = {"rule_set": behavior.SocialRuleSet.add_document("deepof-0.9")}
    skeleton = _ingest(shared_data, tmp_path)  # no 'body' role: ingest resolves only unambiguous standard names
    assert "body" not in pose.skeleton_roles(skeleton)
    result = behavior.SocialBouts.populate(rs)
    assert not result["error_list"] and len(behavior.SocialBouts & rs) == 0
    reason = (behavior.NotScorable & rs).fetch1("reason")
    for needle in ("PoseEstimation s1/top/dlc", f"skeleton {skeleton!r}", "['body']",
                   f"ethojoint skeleton roles {skeleton} ", "body=Left_ear,Right_ear,Spine_1,Center,Spine_2,",
                   "known skeleton 'deepof_14'"):
        assert needle in reason, (needle, reason)
    assert not behavior.not_scorable()["retry"].any()
    assert behavior.SocialBouts.populate(rs)["success_count"] == 0  # not retried

    pose.set_roles(skeleton, {"body": _deepof_roles()["body"]})  # the input changes
    assert behavior.not_scorable()["retry"].all()
    result = behavior.SocialBouts.populate(rs)
    assert result["success_count"] == 1 and not result["error_list"]
    assert len(behavior.NotScorable & rs) == 0 and len(behavior.SocialBouts & rs) == 1
    assert (behavior.SocialBouts & rs).fetch1("provenance")["roles"]["body"] == _deepof_roles()["body"]


def test_fixed_rule_set_with_a_role_it_cannot_use_is_not_scorable(rules_db, shared_data, tmp_path):
    from schemas import behavior, pose

    skeleton = _ingest(shared_data, tmp_path, roles={"nose": ["Nose", "Left_ear"]})
    default = {"rule_set": behavior.SocialRuleSet.add("default")}
    behavior.SocialBouts.populate(default)
    reason = (behavior.NotScorable & default).fetch1("reason")
    assert "role 'nose'" in reason and f"ethojoint skeleton roles {skeleton} nose=<keypoint>" in reason
    # a legacy role_map of the rule set overrides the skeleton's roles
    legacy = {"rule_set": behavior.SocialRuleSet.add("legacy", role_map={"nose": "Nose"})}
    behavior.SocialBouts.populate(legacy)
    assert (behavior.SocialBouts & legacy).fetch1("provenance")["roles"]["nose"] == "Nose"
    assert pose.skeleton_roles(skeleton)["nose"] == ["Nose", "Left_ear"]


FLY_RULES = {"name": "fly-touch", "units": "px", "roles": {"nose": "", "tail_base": ""}, "behaviors": [
    {"name": "heads", "pairs": "mutual", "conditions": [{"distance": {"agent": "nose", "target": "nose"},
                                                          "below": 60}]},
    {"name": "nose2tail", "conditions": [{"distance": {"agent": "nose", "target": "tail_base"}, "below": 60}],
     "max_gap_frames": 2, "min_bout_frames": 3}]}


def test_document_bouts_are_in_video_frames_of_a_sparse_file(rules_db, shared_data, tmp_path):
    """A SLEAP file labelled on video frames 1000-1299 only: bouts in video frames, bins from the covered start."""
    from pipeline.behavior.ruleengine import score_document
    from pipeline.pose import PoseData
    from schemas import behavior, pose
    from schemas.ingest import ingest
    from tests.integration.test_ingest import write_manifest
    from tests.unit.test_io_variants import cut_slp

    path = cut_slp(shared_data, tmp_path / "late.slp", keep=set(range(1000, 1300)))
    data = _manifest(shared_data)
    data["sessions"][0]["recordings"] = [{
        "camera": "top", "video": str(shared_data / "sleap_flies/clip.mp4"), "mm_per_px": 0.05,
        "pose": [{"source": "sleap", "file": str(path), "tracks": {"female": "m1", "male": "m2"},
                  "roles": {"nose": "head", "tail_base": "abdomen"}}]}]
    ingest(write_manifest(tmp_path, data))
    rs = {"rule_set": behavior.SocialRuleSet.add_document(FLY_RULES, bin_s=10.0, n_bins=2)}
    behavior.SocialBouts.populate(rs)
    row = (behavior.SocialBouts & rs).fetch1()
    assert (row["frame_offset"], row["n_frames"], row["fps"], row["units"]) == (1000, 300, 25.0, "px")
    assert row["provenance"]["roles"] == {"nose": "head", "tail_base": "abdomen"}

    stored = pose.PoseEstimation.fetch1()
    index = [t["individual_index"] for t in pose.PoseEstimation.Individual.to_dicts(order_by="individual_index")]
    direct = score_document(PoseData(np.asarray(stored["positions"], float)[:, index],
                                     np.asarray(stored["confidence"], float)[:, index], individuals=["m1", "m2"],
                                     keypoints=stored["keypoints"], fps=25.0),
                            FLY_RULES, roles={"nose": "head", "tail_base": "abdomen"})
    bouts = (behavior.SocialBouts.Bout & rs).to_pandas().reset_index()
    assert len(bouts) > 0 and bouts.start_frame.min() >= 1000
    assert np.allclose(bouts.start_s, bouts.start_frame / 25.0)
    for b in ("heads", "nose2tail"):
        for p, (a, t) in enumerate(direct.pairs):
            agent, target = direct.individuals[a], direct.individuals[t]
            mine = bouts[(bouts.behavior == b) & (bouts.agent == agent) & (bouts.target == target)]
            expected = [(s + 1000, e + 1000) for s, e in _runs(direct.contact[b][p].astype(float))]
            assert sorted(zip(mine.start_frame, mine.end_frame)) == expected, (b, agent, target)
            if b == "heads" and a > t:
                assert not expected  # a mutual behaviour is credited once, to the first animal
    summary = (behavior.SocialBouts.Summary & rs).to_pandas().reset_index()
    assert len(summary) == 1 + 2 and np.allclose(summary.covered_s, 12.0)  # 300 frames at 25 fps
    assert summary.set_index("behavior").loc["heads", "mutual"]
    assert (summary.latency_s.dropna() < 12.0).all()
    covered = {r["time_bin"]: r["covered_s"] for r in (behavior.SocialBouts.TimeBin & rs & {"behavior": "heads"})
               .to_dicts()}
    assert covered == {0: pytest.approx(10.0), 1: pytest.approx(2.0)}


def _rules(argv) -> int:
    """``ethojoint rules ...`` through the subcommand's own parser (as workers.cli hooks it)."""
    from workers import rules_cli

    parser = argparse.ArgumentParser(prog="ethojoint")
    parser.add_argument("--prefix")
    rules_cli.add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


MINE = """\
name: close-noses
units: mm
roles: {nose: tip of the snout}
behaviors:
  - name: noses_close
    pairs: mutual
    conditions:
      - distance: {agent: nose, target: nose}
        below: 40
"""


def test_rules_cli_add_list_show(rules_db, tmp_path, capsys):
    from pipeline.errors import InputError
    from schemas import behavior

    path = tmp_path / "mine.yaml"
    path.write_text(MINE)
    assert _rules(["rules", "add", str(path)]) == 0
    out = capsys.readouterr().out
    rs = (behavior.SocialRuleSet & {"rule_set_name": "close-noses"}).fetch1("rule_set")
    assert f"stored: rule set 'close-noses' (id {rs}), units mm, behaviours noses_close" in out
    assert _rules(["rules", "add", str(path)]) == 0
    assert f"already stored: rule set 'close-noses' (id {rs})" in capsys.readouterr().out
    assert _rules(["rules", "add", "deepof-0.9", "--name", "deepof"]) == 0
    capsys.readouterr()

    assert _rules(["rules", "list"]) == 0
    out = capsys.readouterr().out
    for needle in ("close-noses", rs, "document", "noses_close", "deepof", "default", "fixed",
                   "presets not stored yet", "amadeus-mabe"):
        assert needle in out, needle

    assert _rules(["rules", "show", "close-noses"]) == 0
    out = capsys.readouterr().out
    for needle in (f"id:            {rs}", "kind:          document", "content hash:  sha256 ",
                   "0 scored, 0 not scorable", "name: close-noses", "- name: noses_close", "below: 40"):
        assert needle in out, needle
    assert _rules(["rules", "show", rs]) == 0 and "close-noses" in capsys.readouterr().out
    assert _rules(["rules", "show", "default"]) == 0 and "kind:          fixed" in capsys.readouterr().out

    with pytest.raises(InputError, match="no rule set has this id or name"):
        _rules(["rules", "show", "nope"])
    path.write_text(MINE.replace("below: 40", "below: 30"))  # other rules under a taken name
    with pytest.raises(InputError, match="the name is taken by rule set .* give another name"):
        _rules(["rules", "add", str(path)])
    assert _rules(["rules", "add", str(path), "--name", "close-noses-30"]) == 0
    path.write_text(MINE.replace("distance:", "distanse:"))
    with pytest.raises(InputError, match=r"mine\.yaml.*behaviour 'noses_close'.*unknown primitive 'distanse'"):
        _rules(["rules", "add", str(path)])
    names = behavior.SocialRuleSet.to_arrays("rule_set_name").tolist()
    assert sorted(n for n in names if n.startswith("close-noses")) == ["close-noses", "close-noses-30"]
