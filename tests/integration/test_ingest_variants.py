"""Other labs' pose files through ingest: the six cases of silent wrong numbers, now loud or right."""

import numpy as np
import pytest

from pipeline.behavior import RuleSet
from pipeline.errors import InputError
from tests.integration.conftest import row_counts
from tests.integration.test_ingest import _expect_error, write_manifest
from tests.unit.test_io_variants import cut_slp, xy_only_copy

pytestmark = pytest.mark.integration


def _two_mice(recording: dict, *, subjects=("m1", "m2")) -> dict:
    return {
        "subjects": [{"subject": s, "sex": "FM"[i % 2], "age_group": "young"} for i, s in enumerate(subjects)],
        "sessions": [{"session": "s1", "datetime": "2026-03-01 10:00:00",
                      "animals": [{"subject": s} for s in subjects], "recordings": [recording]}],
    }


def _dlc(path, **pose) -> dict:
    return {"camera": "top", "fps": 30, "mm_per_px": 0.5,
            "pose": [dict({"source": "dlc", "file": str(path),
                           "tracks": {"mouse_black_tail": "m1", "mouse_white_tail": "m2"}}, **pose)]}


def test_xy_only_zero_points_are_missing_on_the_row(clean, shared_data, tmp_path, capsys):
    from schemas import pose
    from schemas.ingest import ingest

    ingest(write_manifest(tmp_path, _two_mice(_dlc(xy_only_copy(shared_data, tmp_path)))))
    row = pose.PoseEstimation.fetch1()
    assert row["zero_points_missing"] == 700
    assert not (np.asarray(row["positions"]) == 0).all(axis=-1).any()
    assert row["provenance"]["params"]["reading"]["zero_points_missing"] == 700
    assert "700 point(s) at (0, 0) turned missing" in capsys.readouterr().out


def test_3d_zero_points_are_missing_on_the_row(clean, shared_data, tmp_path):
    from schemas import pose
    from schemas.ingest import ingest

    rec = {"camera": "3d", "fps": 30, "pose": [{"source": "dlc3d", "tracks": {"individual_0": "m1"},
                                                "file": str(shared_data / "amadeus_maushaus3d/keypoints_3d_short.h5")}]}
    ingest(write_manifest(tmp_path, _two_mice(rec, subjects=("m1",))))
    row = pose.PoseEstimation.fetch1()
    assert (row["zero_points_missing"], row["space_units"], row["n_frames"]) == (5173, "mm", 1000)
    assert not (np.asarray(row["positions"]) == 0).all(axis=-1).any()


def test_zero_is_valid_is_stored_and_compared(clean, shared_data, tmp_path):
    from schemas import pose
    from schemas.ingest import ingest

    path = xy_only_copy(shared_data, tmp_path)
    ingest(write_manifest(tmp_path, _two_mice(_dlc(path, zero_is_valid=True))))
    row = pose.PoseEstimation.fetch1()
    assert row["zero_points_missing"] == 0
    assert int((np.asarray(row["positions"]) == 0).all(axis=-1).sum()) == 700
    assert pose.PoseEstimationTask.fetch1("read_options") == {"zero_is_valid": True}
    _expect_error(_two_mice(_dlc(path)), tmp_path, "PoseEstimationTask", "read_options")


def test_prefixed_table_scores_two_animals(clean, shared_data, tmp_path):
    from schemas import behavior, pose
    from schemas.ingest import ingest

    rec = _dlc(shared_data / "deepof_multi_topview/testDLC_h5_table_multi.h5",
               individual_prefixes={"B_": "black", "W_": "white"}, tracks={"black": "m1", "white": "m2"})
    ingest(write_manifest(tmp_path, _two_mice(rec)))
    row = pose.PoseEstimation.fetch1()
    assert row["individuals"] == ["black", "white"] and len(row["keypoints"]) == 14
    assert row["provenance"]["params"]["reading"]["individual_prefixes"] == {"B_": "black", "W_": "white"}
    rs = {"rule_set": behavior.SocialRuleSet.add("default")}
    behavior.SocialBouts.populate(rs)
    assert (behavior.SocialBouts & rs).fetch1("n_frames") == 100
    agents = set((behavior.SocialBouts.Summary & rs & "NOT mutual").to_arrays("agent"))
    assert agents == {"m1", "m2"}


def test_sparse_slp_offset_bouts_and_covered_time(clean, shared_data, tmp_path):
    from schemas import behavior, pose
    from schemas.ingest import ingest

    path = cut_slp(shared_data, tmp_path / "late.slp", keep=set(range(1000, 1300)))
    rec = {"camera": "top", "video": str(shared_data / "sleap_flies/clip.mp4"), "mm_per_px": 0.05,
           "pose": [{"source": "sleap", "file": str(path), "tracks": {"female": "m1", "male": "m2"}}]}
    ingest(write_manifest(tmp_path, _two_mice(rec)))
    row = pose.PoseEstimation.fetch1()
    assert (row["frame_offset"], row["n_frames"], row["labelled_frames"], row["video_frames"]) == (1000, 300, 300, 1500)
    assert np.asarray(row["positions"]).shape[0] == 300
    rs = {"rule_set": behavior.SocialRuleSet.add("px", RuleSet(units="px", thresholds={
        "nose2nose": 60, "nose2anogenital": 60, "nose2neck": 60, "nose2left_ear": 50, "nose2right_ear": 50}),
        role_map={"nose": "head", "neck": "thorax", "tail_base": "abdomen", "left_ear": "wingL",
                  "right_ear": "wingR"}, bin_s=10.0, n_bins=2)}
    behavior.SocialBouts.populate(rs)
    scored = (behavior.SocialBouts & rs).fetch1()
    assert (scored["frame_offset"], scored["n_frames"]) == (1000, 300)
    bouts = (behavior.SocialBouts.Bout & rs).to_dicts()
    assert bouts and min(b["start_frame"] for b in bouts) >= 1000
    assert all(b["start_s"] == pytest.approx(b["start_frame"] / 25.0) for b in bouts)
    for s in (behavior.SocialBouts.Summary & rs).to_dicts():
        assert s["covered_s"] == pytest.approx(12.0)  # 300 frames at 25 fps
        assert s["latency_s"] is None or s["latency_s"] < 12.0
    covered = {r["time_bin"]: r["covered_s"] for r in (behavior.SocialBouts.TimeBin & rs).to_dicts()}
    assert covered == {0: pytest.approx(10.0), 1: pytest.approx(2.0)}


def test_pose_shorter_warns_longer_is_refused(clean, shared_data, tmp_path, capsys):
    from schemas import pose
    from schemas.ingest import ingest

    video = str(shared_data / "sleap_flies/clip.mp4")  # 1,500 frames
    short = cut_slp(shared_data, tmp_path / "short.slp", keep=set(range(1499)))
    rec = {"camera": "top", "video": video, "pose": [{"source": "sleap", "file": str(short),
                                                      "tracks": {"female": "m1", "male": "m2"}}]}
    ingest(write_manifest(tmp_path, _two_mice(rec)))
    err = capsys.readouterr().err
    assert "WARNING" in err and "has 1499 frames, the video sleap_flies/clip.mp4 has 1500" in err
    row = pose.PoseEstimation.fetch1()
    assert (row["n_frames"], row["video_frames"]) == (1499, 1500)
    pose.PoseEstimation.delete(part_integrity="cascade")
    pose.PoseEstimationTask.delete(part_integrity="cascade")
    tolerant = dict(_two_mice(rec), frame_count_tolerance=1)
    ingest(write_manifest(tmp_path, tolerant))
    assert "WARNING" not in capsys.readouterr().err

    long = cut_slp(shared_data, tmp_path / "long.slp", keep=set(range(1500)), shift=1)
    rec["pose"][0]["file"] = str(long)
    rec["camera"] = "side"
    _expect_error(_two_mice(rec), tmp_path, "recordings[0].pose[0]", "runs to frame 1501", "has 1500 frames")


def test_paths_are_normalised(clean, shared_data, tmp_path):
    from schemas import pose
    from schemas.ingest import ingest

    (tmp_path / "a" / "b").mkdir(parents=True)
    h5 = shared_data / "deepof_two_mice/testDLC_h5_table_madlc.h5"
    detour = h5.parent / ".." / h5.parent.name / h5.name
    first = ingest(write_manifest(tmp_path / "a", _two_mice(_dlc(detour))))
    assert pose.PoseEstimationTask.fetch1("pose_path") == "deepof_two_mice/testDLC_h5_table_madlc.h5"
    before = row_counts()
    second = ingest(write_manifest(tmp_path / "a" / "b", _two_mice(_dlc(h5))))
    assert first["PoseEstimationTask"] == 1 and sum(second.values()) == 0 and row_counts() == before


def test_subject_twice_in_a_session_is_an_error(clean, shared_data, tmp_path):
    data = _two_mice(_dlc(shared_data / "deepof_two_mice/testDLC_h5_table_madlc.h5"))
    data["sessions"][0]["animals"] = [{"subject": "m1", "role": "resident"}, {"subject": "m2"},
                                      {"subject": "m1", "role": "intruder"}]
    _expect_error(data, tmp_path, "manifest.yaml: sessions[0].animals[2]", "'m1'", "listed twice",
                  "sessions[0].animals[0]")


def test_csv_subject_with_two_roles_is_an_error(clean, shared_data, tmp_path):
    from pipeline.errors import InputError
    from schemas.ingest import ingest

    h5 = shared_data / "deepof_two_mice/testDLC_h5_table_madlc.h5"
    (tmp_path / "m.csv").write_text(
        "session,session_datetime,subject,sex,age_group,role,camera,fps,pose_file,track\n"
        f"s1,2026-03-01 10:00:00,m1,F,young,resident,top,30,{h5},mouse_black_tail\n"
        f"s1,2026-03-01 10:00:00,m1,F,young,intruder,top,30,{h5},mouse_white_tail\n")
    before = row_counts()
    with pytest.raises(InputError, match=r"m\.csv: line 3: subject 'm1' .* role 'intruder' here but 'resident' "
                                         r"on line 2"):
        ingest(tmp_path / "m.csv")
    assert row_counts() == before


def test_two_tracks_on_one_subject_names_both(clean, shared_data, tmp_path):
    rec = _dlc(shared_data / "deepof_two_mice/testDLC_h5_table_madlc.h5",
               tracks={"mouse_black_tail": "m1", "mouse_white_tail": "m1"})
    _expect_error(_two_mice(rec), tmp_path, "sessions[0].recordings[0].pose[0]", "testDLC_h5_table_madlc.h5",
                  "['mouse_black_tail', 'mouse_white_tail']", "subject 'm1'")


def _rat(shared, **pose) -> dict:
    """One real Anipose camera: a rat skeleton whose names leave the tail base open (TTI, Tail_0, Tail_1 ...)."""
    folder = shared / "anipose_minimal_session/top"
    rec = {"camera": "top", "fps": 30, "pose": [dict({"source": "sleap", "skeleton": "rat15",
                                                      "file": str(folder / "minimal_top_proofread.analysis.h5"),
                                                      "tracks": {"track_0": "m1"}}, **pose)]}
    return _two_mice(rec, subjects=("m1",))


def test_ambiguous_role_stops_ingest_and_lists_candidates(clean, shared_data, tmp_path):
    _expect_error(_rat(shared_data), tmp_path, "sessions[0].recordings[0].pose[0].roles", "rat15",
                  "tail_base: one of ['Tail_0', 'TTI', 'TailTip', 'Tail_1', 'Tail_2']",
                  "ethojoint skeleton roles SKELETON tail_base=KEYPOINT")


def test_roles_given_and_auto_are_stored_and_shown(clean, shared_data, tmp_path, capsys):
    from schemas import pose
    from schemas.ingest import ingest
    from workers.cli import main

    ingest(write_manifest(tmp_path, _rat(shared_data, roles={"tail_base": "TTI",
                                                             "body": ["Trunk", "Shoulder_left", "Shoulder_right"]})))
    roles = {r["role"]: (pose.decode_spec(r["spec"]), r["resolved"]) for r in pose.SkeletonRole.to_dicts()}
    assert roles == {"tail_base": ("TTI", "given"), "body": (["Trunk", "Shoulder_left", "Shoulder_right"], "given"),
                     "nose": ("Nose", "auto"), "neck": ("Neck", "auto"), "left_ear": ("Ear_L", "auto"),
                     "right_ear": ("Ear_R", "auto")}
    assert "skeleton 'rat15' roles: body=" in capsys.readouterr().out
    assert main(["skeleton", "roles", "rat15", "body_centre=Shoulder_left+Shoulder_right"]) == 0
    out = capsys.readouterr().out
    assert 'body_centre  {"centroid": ["Shoulder_left", "Shoulder_right"]}  (given)' in out
    assert 'tail_base    "TTI"  (given)' in out and 'nose         "Nose"  (auto)' in out
    before = len(pose.SkeletonRole())
    for args, needle in ((["tail_base=Tail_0"], "tail_base is 'TTI', not 'Tail_0'"),
                         (["tail_bsae=TTI"], "did you mean 'tail_base'"),
                         (["snout=Nose", "ears=Ear_L+Nope"], "keypoint(s) ['Nope']")):
        assert main(["skeleton", "roles", "rat15", *args]) == 2
        assert needle in capsys.readouterr().err
    assert len(pose.SkeletonRole()) == before  # nothing written by a refused call


def test_manifest_role_with_unknown_keypoint_writes_nothing(clean, shared_data, tmp_path):
    _expect_error(_rat(shared_data, roles={"tail_base": "Tail_base"}), tmp_path, "pose[0].roles",
                  "role 'tail_base' names keypoint(s) ['Tail_base'] that the skeleton lacks")


def test_no_data_is_not_zero_bouts(clean, shared_data, tmp_path, capsys):
    """Two fly fragments that never coexist (tracks 3 and 4) have no scorable frame: 'no data', out of n."""
    from schemas import behavior, stats
    from schemas.ingest import ingest
    from workers.report import make_report

    slp = str(shared_data / "sleap_flies/centered_pair_predictions.slp")
    sessions, subjects = [], []
    for n, tracks in enumerate((("1", "2"), ("3", "4"))):
        ids = [f"f{n}{t}" for t in tracks]
        subjects += [{"subject": s, "sex": "FM"[i], "age_group": "adult"} for i, s in enumerate(ids)]
        sessions.append({"session": f"fly{n}", "datetime": f"2026-05-0{n + 1} 10:00:00",
                         "animals": [{"subject": s} for s in ids],
                         "recordings": [{"camera": "top", "fps": 15, "pose": [
                             {"source": "sleap", "file": slp, "tracks": dict(zip(tracks, ids))}]}]})
    ingest(write_manifest(tmp_path, {"subjects": subjects, "sessions": sessions}))
    rs = behavior.SocialRuleSet.add("flies", RuleSet(units="px", thresholds={
        "nose2nose": 20, "nose2anogenital": 20, "nose2neck": 20, "nose2left_ear": 15, "nose2right_ear": 15}),
        bin_s=30.0, n_bins=2)
    behavior.SocialBouts.populate({"rule_set": rs})
    body = ["nose2nose", "nose2anogenital", "nose2neck"]  # flies have no ears: those are 'no data' everywhere
    animals = stats.per_animal(rule_set="flies").set_index(["session", "agent", "behavior"])
    empty = animals.loc["fly1"]
    assert empty["no_data"].all() and empty["bout_count"].isna().all()
    full = animals.loc["fly0"].loc[(slice(None), body), :]
    assert len(full) == 6 and not full["no_data"].any() and full["bout_count"].notna().all()
    assert animals.loc["fly0"].loc[(slice(None), "nose2left_ear"), "no_data"].all()
    capsys.readouterr()
    make_report(group_by=["sex"], rule_set="flies", first_minutes=1, behaviors=body)
    out = capsys.readouterr().out
    assert "Rule set 'flies'" in out and "NO DATA (left out of n, not counted as 0 bouts) for 2 animal(s)" in out
    with pytest.raises(InputError, match=r"2 min is more than the rule set stores \(rule set 'flies' stores 2 bins "
                                         r"of 30 s: --first-minutes 0.5 or 1\)"):
        stats.per_animal(rule_set="flies", first_minutes=2)


def test_session_id_with_a_path_is_refused(clean, shared_data, tmp_path):
    data = _two_mice(_dlc(shared_data / "deepof_two_mice/testDLC_h5_table_madlc.h5"))
    data["sessions"][0]["session"] = "../../x"
    _expect_error(data, tmp_path, "sessions[0]", "session id '../../x'", "no '..'")
