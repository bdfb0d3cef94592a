"""Motion energy in the database: ROIs from a manifest and from the command line, populate, SVD, the report.

Real video: ``anipose_minimal_session/top/minimal_top.mp4`` (120 frames, 1280 x 1024).
"""

import numpy as np
import pytest

pytestmark = pytest.mark.integration

VIDEO = "anipose_minimal_session/top/minimal_top.mp4"
ROIS = [{"roi": "centre", "rectangle": [400, 300, 480, 400]},
        {"roi": "corner", "polygon": [[0, 0], [300, 0], [0, 250]]}]


def _manifest(shared_data, sessions):
    return {"subjects": [{"subject": f"mo{i}", "sex": "FM"[i % 2], "age_group": "young"} for i in range(len(sessions))],
            "sessions": [{"session": s, "datetime": "2026-03-01 10:00:00", "rig": "rigA",
                          "animals": [{"subject": f"mo{i}"}],
                          "recordings": [{"camera": "top", "video": str(shared_data / VIDEO), "rois": rois}]}
                         for i, (s, rois) in enumerate(sessions.items())]}


@pytest.fixture
def motion_db(clean, shared_data, tmp_path):
    from schemas import motion
    from schemas.ingest import ingest
    from tests.integration.test_ingest import write_manifest

    motion.ROISet.delete()
    counts = ingest(write_manifest(tmp_path, _manifest(shared_data, {"mo_a": ROIS, "mo_b": {"face": ROIS[:1]}})))
    assert counts["ROISet"] == 2 and counts["RecordingROISet"] == 2 and counts["ROISet.ROI"] == 3
    return shared_data


def test_a_manifest_with_rois_populates_motion_energy(motion_db, tmp_path):
    from pipeline.motion import check_roi, motion_energy, roi_mask
    from schemas import motion
    from schemas.ingest import ingest
    from tests.integration.test_ingest import write_manifest
    from workers.cli import main

    assert main(["populate", "motion.MotionEnergy"]) == 0
    rows = motion.MotionEnergy.to_dicts(order_by="session")
    assert [(r["session"], r["rois"], r["n_frames"], r["video_frames"]) for r in rows] == [
        ("mo_a", ["centre", "corner"], 120, 120), ("mo_b", ["centre"], 120, 120)]
    key = {k: rows[0][k] for k in motion.MotionEnergy.primary_key}
    frames = motion.motion_frames(key)
    masks = {r["roi"]: roi_mask(check_roi(r, source="t"), width=1280, height=1024) for r in ROIS}
    direct = motion_energy(motion_db / VIDEO, masks)
    assert frames.shape == (120, 2) and np.isnan(frames.iloc[0]).all()
    assert np.array_equal(frames.to_numpy(), direct.energy, equal_nan=True) and np.nanmin(direct.energy) > 0
    prov = rows[0]["provenance"]
    assert prov["params"]["reduce"] == "sum" and "warnings" not in prov["params"]
    assert VIDEO in {i["path"] for i in prov["inputs"]}
    again = ingest(write_manifest(tmp_path, _manifest(motion_db, {"mo_a": ROIS, "mo_b": {"face": ROIS[:1]}})))
    assert again["ROISet"] == 0 and again["RecordingROISet"] == 0


def test_a_decoded_frame_count_unlike_the_recorded_one_is_kept_and_warned(motion_db):
    from schemas import motion, recording

    key = {"session": "mo_b", "camera": "top"}
    recording.RecordingInfo.update1(dict(key, n_frames=121))  # as if ffmpeg had counted one frame more
    motion.MotionEnergy.populate(key)
    row = (motion.MotionEnergy & key).fetch1()
    assert (row["n_frames"], row["video_frames"]) == (120, 121)
    assert row["provenance"]["params"]["warnings"] == [
        f"{VIDEO}: OpenCV decoded 120 frames, ffmpeg counts 121 (container says 120)"]


def test_rois_from_the_command_line_rig_rois_preview_and_refusals(motion_db, tmp_path, capsys):
    import cv2

    from schemas import calibration, motion
    from workers.cli import main

    before = len(motion.ROISet.ROI())
    assert main(["roi", "add", "mo_a", "top", "--set", "bad", "--rect", "out=1200,0,100,10"]) == 2
    assert "reaches outside the 1280x1024 frame" in capsys.readouterr().err
    assert main(["roi", "add", "nope", "top", "--rect", "a=0,0,10,10"]) == 2
    assert "unknown recording" in capsys.readouterr().err
    assert main(["roi", "add", "mo_a", "top", "--polygon", "p=0,0;5,5"]) == 2
    assert "at least 3" in capsys.readouterr().err
    assert main(["roi", "add", "mo_a", "top", "--rect", "centre=0,0,10,10"]) == 2  # 'default' exists, other ROIs
    assert "choose another name" in capsys.readouterr().err
    assert len(motion.ROISet.ROI()) == before  # nothing written by a refused command
    assert calibration.SessionRig & {"session": "mo_b", "rig": "rigA"}
    assert main(["roi", "add", "rigA", "top", "--rig", "--set", "rigwide", "--rect", "floor=0,900,1280,124"]) == 0
    assert main(["populate", "motion.MotionEnergy"]) == 0
    rig_rows = (motion.MotionEnergy * motion.ROISet & {"roi_set_name": "rigwide"}).to_dicts()
    assert sorted(r["session"] for r in rig_rows) == ["mo_a", "mo_b"] and rig_rows[0]["rois"] == ["floor"]
    assert main(["roi", "list"]) == 0
    listed = capsys.readouterr().out
    assert "mo_a/top  default" in listed and "centre (rectangle), corner (polygon)" in listed
    assert "rig rigA/top  rigwide" in listed
    out = tmp_path / "preview.png"
    assert main(["roi", "preview", "mo_a", "top", "--out", str(out)]) == 0
    image = cv2.imread(str(out))
    assert image.shape == (1024, 1280, 3) and "default:centre (192000 px)" in capsys.readouterr().out
    frame = cv2.VideoCapture(str(motion_db / VIDEO)).read()[1]
    assert (image != frame).any(axis=2)[300, 400:880].mean() > 0.9  # the rectangle's top edge is drawn


def test_motion_svd_and_the_group_report(motion_db, tmp_path, capsys):
    from schemas import motion, motion_stats
    from workers.cli import main

    assert main(["worker", "--stage", "analysis", "--once", "--poll", "0.1"]) == 0  # the CPU workers' stage
    assert len(motion.MotionEnergy()) == 2
    key = (motion.MotionEnergy & {"session": "mo_a"}).proj().to_dicts()[0]
    motion.add_svd(key, "centre", n_components=4, method="incremental", batch_frames=50)
    assert main(["worker", "--stage", "analysis", "--once", "--poll", "0.1"]) == 0
    row = motion.MotionSVD.fetch1()
    from schemas import store

    comps = store.load_array(store.metadata(row["components"]))
    assert comps.shape[0] == 4 and row["n_frames"] == 120 and len(row["explained_variance_ratio"]) == 4
    assert 0 < sum(row["explained_variance_ratio"]) <= 1

    per = motion_stats.per_recording()
    assert len(per) == 3 and set(per["agent"]) == {"mo0", "mo1"}
    energy = motion.MotionEnergy.to_dicts(order_by="session")[0]
    trace = store.load_array(store.metadata(energy["energy"]))
    mine = per[(per["session"] == "mo_a") & (per["roi"] == "centre")]["motion_energy"].item()
    assert mine == pytest.approx(np.nanmean(trace[:, 0]))
    assert main(["report", "--measure", "motion_energy", "--group-by", "sex", "--out", str(tmp_path / "rep")]) == 0
    printed = capsys.readouterr().out
    assert "Motion energy" in printed and "default:centre" in printed
    assert (tmp_path / "rep" / "group_table_motion.csv").is_file()
    assert main(["report", "--measure", "motion_energy", "--group-by", "sex", "--first-minutes", "0"]) == 2
    with pytest.raises(SystemExit):  # argparse: not one of the measures
        main(["report", "--measure", "nonsense", "--group-by", "sex"])
