"""Ingestion of real pose files into the database, on every backend."""

from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import InputError
from pipeline.manifest_load import dump_manifest
from tests.integration.conftest import row_counts

pytestmark = pytest.mark.integration

# file (relative to ../shared/data) -> (frames, individuals, keypoints, fps)
REAL_FILES = {
    "sleap_flies/centered_pair_predictions.slp": (1100, 27, 24, 15.0),
    "sleap_flies/clip.slp": (1500, 2, 13, 30.0),
    "sleap_flies/clip.predictions.slp": (1500, 2, 2, 30.0),
    "sleap_flies/small_robot.000_small_robot_3_frame.analysis.h5": (3, 1, 3, 30.0),
    "deepof_two_mice/testDLC_csv_table_madlc.csv": (97, 2, 14, 30.0),
    "deepof_two_mice/testDLC_h5_table_madlc.h5": (100, 2, 14, 30.0),
    "dlc_openfield/openfield_dlc_inference_example.csv": (2330, 1, 4, 30.0),
    "dlc_openfield/openfield_dlc_inference_example_missingdata.csv": (2330, 1, 4, 30.0),
    "nwb_pose/sample_ndx_pose.nwb": (2330, 1, 4, 30.0),
    "anipose_minimal_session/back/minimal_back_proofread.analysis.h5": (120, 1, 15, 30.0),
    "anipose_minimal_session/mid/minimal_mid_proofread.analysis.h5": (120, 1, 15, 30.0),
    "anipose_minimal_session/side/minimal_side_proofread.analysis.h5": (120, 1, 15, 30.0),
    "anipose_minimal_session/top/minimal_top_proofread.analysis.h5": (120, 1, 15, 30.0),
}


# the keypoint names of the Anipose rat skeleton leave the tail base open (TTI, Tail_0, Tail_1 ...)
ROLES = {rel: {"tail_base": "TTI"} for rel in REAL_FILES if rel.startswith("anipose_")}


def real_manifest(shared: Path) -> dict:
    """One session per real file; animals = one subject per file track (up to 2 mapped)."""
    from pipeline.io import read_pose

    subjects, sessions = [], []
    for n, rel in enumerate(REAL_FILES):
        pose = read_pose(shared / rel, fps=REAL_FILES[rel][3])
        mapped = list(pose.individuals[:2])
        animals = []
        for j, _track in enumerate(mapped):
            sid = f"a{n}_{j}"
            subjects.append({"subject": sid, "sex": "FM"[j % 2], "age_group": "adult"})
            animals.append({"subject": sid, "role": ("resident", "intruder")[j]})
        sessions.append({
            "session": f"real{n}", "datetime": f"2026-01-{n + 1:02d} 10:00:00", "animals": animals,
            "recordings": [{"camera": "cam", "fps": REAL_FILES[rel][3], "mm_per_px": 0.5,
                            "pose": [{"source": "file", "file": str(shared / rel), "roles": ROLES.get(rel, {}),
                                      "tracks": {t: f"a{n}_{j}" for j, t in enumerate(mapped)}}]}],
        })
    return {"subjects": subjects, "sessions": sessions}


def write_manifest(folder: Path, data: dict, name="manifest.yaml") -> Path:
    path = folder / name
    path.write_text(dump_manifest(data))
    return path


def test_every_real_file_ingests_with_its_shape(clean, shared_data, tmp_path):
    from pipeline.io import read_pose
    from schemas import pose
    from schemas.ingest import ingest

    manifest = write_manifest(tmp_path, real_manifest(shared_data))
    counts = ingest(manifest)
    assert counts["PoseEstimationTask"] == len(REAL_FILES)
    assert len(pose.PoseEstimation()) == len(REAL_FILES)
    for n, (rel, (frames, individuals, keypoints, _)) in enumerate(REAL_FILES.items()):
        row = (pose.PoseEstimation & {"session": f"real{n}"}).fetch1()
        positions = np.asarray(row["positions"])
        direct = read_pose(shared_data / rel)
        expected = (frames, individuals, keypoints)
        assert positions.shape[:3] == expected, rel
        assert (row["n_frames"], row["n_individuals"], len(row["keypoints"])) == expected, rel
        assert np.asarray(row["confidence"]).shape == expected, rel
        np.testing.assert_allclose(positions, direct.positions.astype(np.float32), equal_nan=True)
        subjects = (pose.PoseEstimation.Individual & {"session": f"real{n}"}).to_dicts(order_by="individual_index")
        assert [s["track"] for s in subjects] == list(direct.individuals[:2]), rel
    # paths are stored relative to the data root, never absolute
    for path in pose.PoseEstimationTask.to_arrays("pose_path"):
        assert not str(path).startswith("/") and "shared" not in str(path)


def test_reingest_is_idempotent(clean, shared_data, tmp_path):
    from schemas.ingest import ingest

    data = real_manifest(shared_data)
    data["sessions"] = data["sessions"][4:6]  # the two DeepOF files
    manifest = write_manifest(tmp_path, data)
    first = ingest(manifest)
    before = row_counts()
    second = ingest(manifest)
    assert sum(first.values()) > 0 and sum(second.values()) == 0
    assert row_counts() == before


def test_video_recording_facts(clean, shared_data, tmp_path):
    from schemas import recording
    from schemas.ingest import ingest

    manifest = write_manifest(tmp_path, {
        "subjects": [{"subject": "fly1", "sex": "F", "age_group": "adult"}],
        "sessions": [{"session": "v1", "datetime": "2026-02-01 09:00:00",
                      "animals": [{"subject": "fly1"}],
                      "recordings": [{"camera": "top",
                                      "video": str(shared_data / "sleap_nn_models/datasets/centered_pair_small.mp4"),
                                      "arena": {"diameter_mm": 20, "diameter_px": 400}}]}]})
    ingest(manifest)
    info = recording.RecordingInfo.to_dicts()[0]
    assert (info["fps"], info["n_frames"], info["width"], info["height"]) == (15.0, 1100, 384, 384)
    assert len(info["video_sha256"]) == 64
    rec = recording.VideoRecording.to_dicts()[0]
    assert rec["video_path"] == "sleap_nn_models/datasets/centered_pair_small.mp4"
    assert rec["mm_per_px"] == pytest.approx(0.05) and rec["scale_source"] == "arena"


def test_audit_shows_checksum_params_version_host(clean, shared_data, tmp_path, capsys):
    import socket

    from pipeline.io.checksum import file_checksum
    from workers.cli import main

    data = real_manifest(shared_data)
    data["sessions"] = [data["sessions"][5]]
    data["subjects"] = [s for s in data["subjects"] if s["subject"].startswith("a5_")]
    ingest_path = write_manifest(tmp_path, data)
    assert main(["ingest", str(ingest_path), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["audit", "pose.PoseEstimation", "session=real5,camera=cam,pose_source=file"]) == 0
    out = capsys.readouterr().out
    assert file_checksum(shared_data / "deepof_two_mice/testDLC_h5_table_madlc.h5") in out
    for needle in ("params_hash", "git_commit", "ethojoint", socket.gethostname(),
                   "PoseEstimationTask", "VideoRecording", "session_datetime", "subject"):
        assert needle in out, needle


def _expect_error(manifest_data, tmp_path, *needles):
    from schemas.ingest import ingest

    before = row_counts()
    with pytest.raises(InputError) as err:
        ingest(write_manifest(tmp_path, manifest_data))
    for needle in needles:
        assert needle in str(err.value), (needle, str(err.value))
    assert row_counts() == before, "nothing may be written by a failed ingest"
    return str(err.value)


def _one_session(shared, **pose_kw):
    pose = {"source": "dlc", "file": str(shared / "deepof_two_mice/testDLC_h5_table_madlc.h5"),
            "tracks": {"mouse_black_tail": "m1", "mouse_white_tail": "m2"}}
    pose.update(pose_kw)
    return {
        "subjects": [{"subject": "m1", "sex": "F", "age_group": "young"},
                     {"subject": "m2", "sex": "M", "age_group": "young"}],
        "sessions": [{"session": "s1", "datetime": "2026-03-01 10:00:00",
                      "animals": [{"subject": "m1"}, {"subject": "m2"}],
                      "recordings": [{"camera": "top", "fps": 30, "pose": [pose]}]}],
    }


def test_bad_input_missing_file(clean, shared_data, tmp_path):
    _expect_error(_one_session(shared_data, file=str(tmp_path / "nope.h5")), tmp_path, "nope.h5", "not found")


def test_bad_input_corrupt_hdf5(clean, shared_data, tmp_path):
    bad = tmp_path / "corrupt.h5"
    bad.write_bytes((shared_data / "deepof_two_mice/testDLC_h5_table_madlc.h5").read_bytes()[:3000])
    _expect_error(_one_session(shared_data, file=str(bad)), tmp_path, "corrupt.h5")


def test_bad_input_unknown_body_part(clean, shared_data, tmp_path):
    data = _one_session(shared_data, skeleton="mouse5")
    data["skeletons"] = [{"skeleton": "mouse5", "keypoints": ["Nose", "Left_ear", "Right_ear", "Spine_1", "Tail_base"]}]
    _expect_error(data, tmp_path, "testDLC_h5_table_madlc.h5", "Center", "not in skeleton")


@pytest.mark.parametrize("fps", [0, None])
def test_bad_input_fps_zero_or_missing(clean, shared_data, tmp_path, fps):
    data = _one_session(shared_data)
    data["sessions"][0]["recordings"][0]["fps"] = fps
    _expect_error(data, tmp_path, "recordings[0]", "fps")


def test_bad_input_track_mapped_to_subject_not_in_session(clean, shared_data, tmp_path):
    data = _one_session(shared_data, tracks={"mouse_black_tail": "m1", "mouse_white_tail": "m3"})
    data["subjects"].append({"subject": "m3", "sex": "M", "age_group": "old"})
    _expect_error(data, tmp_path, "sessions[0].recordings[0].pose[0]", "m3", "not in session")


def test_bad_input_duplicate_subject_with_different_sex(clean, shared_data, tmp_path):
    data = _one_session(shared_data)
    data["subjects"].append({"subject": "m1", "sex": "M", "age_group": "young"})
    _expect_error(data, tmp_path, "subjects[2]", "m1", "sex")


def test_subject_conflicting_with_database(clean, shared_data, tmp_path):
    from schemas.ingest import ingest

    ingest(write_manifest(tmp_path, _one_session(shared_data)))
    data = _one_session(shared_data)
    data["subjects"][0]["sex"] = "M"
    _expect_error(data, tmp_path, "Subject", "m1", "sex")


def test_csv_manifest_and_age_group_override(clean, shared_data, tmp_path):
    from schemas import session
    from schemas.ingest import ingest

    h5 = shared_data / "deepof_two_mice/testDLC_h5_table_madlc.h5"
    (tmp_path / "m.csv").write_text(
        "session,session_datetime,rig,subject,sex,age_group,role,camera,fps,mm_per_px,pose_file,pose_source,track\n"
        f"s1,2026-03-01 10:00:00,box2,m1,F,young,resident,top,30,0.4,{h5},dlc,mouse_black_tail\n"
        f"s1,2026-03-01 10:00:00,box2,m2,M,old,intruder,top,30,0.4,{h5},dlc,mouse_white_tail\n")
    counts = ingest(tmp_path / "m.csv")
    assert counts["Subject"] == 2 and counts["PoseEstimationTask"] == 1
    assert counts["CameraRig"] == counts["SessionRig"] == 1
    session.Session.Animal.update1({"session": "s1", "subject": "m2", "session_age_group": "adult"})
    groups = {r["subject"]: r["age_group"] for r in session.animals().to_dicts()}
    assert groups == {"m1": "young", "m2": "adult"}


def test_db_status_cli(clean, capsys):
    from workers.cli import main

    assert main(["db", "status"]) == 0
    out = capsys.readouterr().out
    assert "PoseEstimation" in out and "server_version" in out and "password" not in out.lower()
