"""Calibration and 3D triangulation through the database, on real and synthetic data."""

import datetime

import h5py
import numpy as np
import pytest

from pipeline.errors import InputError
from tests.integration.test_ingest import write_manifest

pytestmark = pytest.mark.integration

CAMERAS = ["back", "mid", "side", "top"]
ANIPOSE = "anipose_minimal_session"


def anipose_manifest(shared_data) -> dict:
    """The 4-camera Anipose session: one rat, proofread 2D SLEAP labels per camera."""
    folder = shared_data / ANIPOSE
    with h5py.File(folder / "back/minimal_back_proofread.analysis.h5", "r") as f:
        keypoints = [n.decode() for n in f["node_names"][:]]
        edges = [[a.decode(), b.decode()] for a, b in f["edge_names"][:]]
    return {
        "subjects": [{"subject": "rat1", "sex": "M", "age_group": "adult"}],
        "skeletons": [{"skeleton": "rat15", "keypoints": keypoints, "edges": edges,
                       "roles": {"tail_base": "TTI"}}],  # the names leave it open: TTI, Tail_0, ...
        "sessions": [{"session": "minimal", "datetime": "2022-02-24 13:52:00", "animals": [{"subject": "rat1"}],
                      "recordings": [{"camera": cam, "fps": 30, "pose": [
                          {"source": "sleap", "skeleton": "rat15",
                           "file": str(folder / cam / f"minimal_{cam}_proofread.analysis.h5")}]}
                          for cam in CAMERAS]}]}


@pytest.fixture
def anipose(clean, shared_data, tmp_path):
    from schemas.ingest import ingest

    ingest(write_manifest(tmp_path, anipose_manifest(shared_data)))
    return shared_data / ANIPOSE


def reference_points(folder) -> np.ndarray:
    with h5py.File(folder / "points3d.h5", "r") as f:
        return f["tracks"][:]  # frames × 1 × 15 × 3


def test_defective_calibration_is_refused_and_nothing_written(anipose):
    from pipeline.errors import InputError
    from schemas import calibration

    with pytest.raises(InputError, match=r"side.*top|top.*side") as err:
        calibration.add_calibration("shipped", rig="rig1", kind="toml", toml_path=anipose / "calibration.toml")
    assert "calibration.toml" in str(err.value)
    assert len(calibration.CalibrationSource()) == 0 and len(calibration.CameraRig()) == 0
    # registered behind the helper's back, the computed table still refuses it
    calibration.CameraRig.insert1({"rig": "rig1"})
    calibration.CalibrationSource.insert1({"calibration": "shipped", "rig": "rig1", "source_kind": "toml",
                                           "cameras": CAMERAS, "toml_path": f"{ANIPOSE}/calibration.toml"})
    with pytest.raises(InputError, match="identical"):
        calibration.CameraCalibration.populate(suppress_errors=False)
    assert len(calibration.CameraCalibration()) == 0 and len(calibration.CameraCalibration.Camera()) == 0


def test_shipped_calibration_triangulates_close_to_reference(anipose):
    from schemas import calibration, triangulation

    key = calibration.add_calibration("shipped3", rig="rig1", kind="toml", toml_path=anipose / "calibration.toml",
                                      cameras=["back", "mid", "top"])
    calibration.CameraCalibration.populate(suppress_errors=False)
    assert (calibration.CameraCalibration & key).fetch1("n_cameras") == 3
    params = triangulation.TriangulationParamSet.add("dlt")
    triangulation.TriangulationTask.insert1(dict(key, **params, session="minimal", pose_source="sleap"))
    triangulation.Triangulation.populate(suppress_errors=False)
    row = (triangulation.Triangulation & key).fetch1()
    assert row["cameras"] == ["back", "mid", "top"] and row["individuals"] == ["rat1"]
    positions = np.asarray(row["positions"], dtype=np.float64)
    assert positions.shape == (120, 1, 15, 3)
    distance = np.linalg.norm(positions - reference_points(anipose), axis=-1)
    median = float(np.nanmedian(distance))
    residuals = {r["camera"]: r["median_residual_px"] for r in triangulation.residual_table(key)}
    print(f"\nshipped calibration (back, mid, top): median distance to points3d.h5 {median:.2f} mm; "
          f"median 2D residuals {residuals}")
    assert 1.0 < median < 5.0  # measured 3.50 mm (the reference used another calibration)
    assert set(residuals) == {"back", "mid", "top"}
    assert all(0.5 < v < 10.0 for v in residuals.values())  # measured 7.1, 2.6, 3.3 px
    assert row["triangulated_fraction"] > 0.9


def test_calibrate_from_board_images_and_triangulate(anipose):
    from schemas import calibration, triangulation

    calibration.CalibrationBoard.add("charuco8x11", anipose / "board.toml")
    files = {cam: sorted((anipose / cam / "calibration_images").glob("*.jpg")) for cam in CAMERAS}
    key = calibration.add_calibration("images", rig="rig1", kind="images", files=files, board="charuco8x11",
                                      max_error_px=0.5)
    calibration.CameraCalibration.populate(suppress_errors=False)
    calib = (calibration.CameraCalibration & key).fetch1()
    per_camera = {r["camera"]: r["median_error_px"] for r in (calibration.CameraCalibration.Camera & key).to_dicts()}
    print(f"\nboard calibration: median reprojection error {calib['median_error_px']:.3f} px; per camera {per_camera}")
    assert calib["median_error_px"] <= 0.5 and max(per_camera.values()) <= 0.5
    assert not any(p.startswith("/") for cam in CAMERAS
                   for p in (calibration.CalibrationSource & key).fetch1("files")[cam])

    params = triangulation.TriangulationParamSet.add("dlt")
    triangulation.TriangulationTask.insert1(dict(key, **params, session="minimal", pose_source="sleap"))
    triangulation.Triangulation.populate(suppress_errors=False)
    row = (triangulation.Triangulation & key).fetch1()
    assert row["cameras"] == CAMERAS  # the recalibrated side camera is usable again
    positions = np.asarray(row["positions"], dtype=np.float64).reshape(-1, 3)
    reference = reference_points(anipose).reshape(-1, 3)
    aligned = similarity_aligned_distance(positions, reference)
    print(f"recalibrated, 4 cameras: median distance to points3d.h5 after a similarity alignment {aligned:.2f} mm")
    assert aligned < 6.0


def similarity_aligned_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Median distance after the best rotation, translation and scale of a onto b (frames differ)."""
    ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    a, b = a[ok] - a[ok].mean(0), b[ok] - b[ok].mean(0)
    u, s, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    s[-1] *= d
    u[:, -1] *= d
    scale = s.sum() / (a ** 2).sum()
    return float(np.median(np.linalg.norm(scale * a @ (u @ vt) - b, axis=1)))


@pytest.fixture
def synthetic_rig_session(clean, tmp_path):
    """4 synthetic cameras with lens distortion; 2 animals × 6 keypoints × 300 frames; 1 px noise, 10 % missing."""
    from pipeline.calibration import write_calibration_toml
    from pipeline.synthetic import write_camera_views
    from pipeline.synthetic.rig import observe, synthetic_animals_3d, synthetic_rig
    from schemas import calibration
    from schemas.ingest import ingest

    cameras = synthetic_rig(n_cameras=4, seed=3)
    truth, edges = synthetic_animals_3d(n_frames=300, n_individuals=2, keypoints=6, seed=3)
    views = observe(truth, cameras, noise_px=1.0, missing=0.1, seed=3)
    keypoints = [f"k{j}" for j in range(6)]
    files = write_camera_views(views, cameras, tmp_path, individuals=("track_a", "track_b"), keypoints=keypoints,
                               fps=30.0)
    recordings = [{"camera": cam, "fps": 30, "pose": [{"source": "synthetic", "skeleton": "chain6", "file": str(path),
                                                       "tracks": {"track_a": "m1", "track_b": "m2"}}]}
                  for cam, path in files.items()]
    ingest(write_manifest(tmp_path, {
        "subjects": [{"subject": "m1", "sex": "M", "age_group": "adult"},
                     {"subject": "m2", "sex": "F", "age_group": "adult"}],
        "skeletons": [{"skeleton": "chain6", "keypoints": keypoints,
                       "edges": [[keypoints[a], keypoints[b]] for a, b in edges]}],
        "sessions": [{"session": "rig3d", "datetime": "2026-05-01 10:00:00",
                      "animals": [{"subject": "m1"}, {"subject": "m2"}], "recordings": recordings}]}))
    write_calibration_toml(tmp_path / "rig.toml", cameras)
    key = calibration.add_calibration("synthetic", rig="synthetic_rig", kind="toml", toml_path=tmp_path / "rig.toml")
    calibration.CameraCalibration.populate(suppress_errors=False)
    return key, truth


def rms(a, b) -> float:
    d = np.linalg.norm(np.asarray(a, dtype=np.float64) - b, axis=-1)
    return float(np.sqrt(np.nanmean(d ** 2)))


def test_synthetic_round_trip_dlt_and_optim(synthetic_rig_session):
    from schemas import calibration, triangulation

    key, truth = synthetic_rig_session
    with pytest.raises(InputError, match="no camera rig recorded"):        # its manifest names no rig
        calibration.calibration_for({"session": "rig3d"})
    assert calibration.calibration_for({"session": "rig3d"}, rig="synthetic_rig") == key
    errors = {}
    for method, extra in (("dlt", {}), ("optim", {"constraints": "skeleton"})):
        params = triangulation.TriangulationParamSet.add(method, method=method, **extra)
        triangulation.TriangulationTask.insert1(dict(key, **params, session="rig3d", pose_source="synthetic"))
        triangulation.Triangulation.populate(suppress_errors=False)
        row = (triangulation.Triangulation & key & params).fetch1()
        assert row["individuals"] == ["m1", "m2"] and np.asarray(row["positions"]).shape == (300, 2, 6, 3)
        errors[method] = rms(row["positions"], truth)
        assert set(np.unique(np.asarray(row["n_cameras"]))) <= {0, 1, 2, 3, 4}
    print(f"\nsynthetic 4-camera round trip, 1 px noise, 10 % missing: RMS 3D error "
          f"DLT {errors['dlt']:.3f} mm, optim {errors['optim']:.3f} mm")
    assert errors["dlt"] <= 1.5 and errors["optim"] <= 1.0 and errors["optim"] < errors["dlt"]


def test_triangulated_pair_scores_social_behaviour(clean, tmp_path):
    """A synthetic two-mouse session filmed by 4 cameras: 3D scoring recovers the scripted contacts."""
    from pipeline.behavior.validate import match_bouts
    from pipeline.calibration import write_calibration_toml
    from pipeline.synthetic import simulate_session, write_camera_views
    from pipeline.synthetic.rig import observe, synthetic_rig
    from schemas import behavior, calibration, triangulation, versions
    from schemas.ingest import ingest

    sim = simulate_session(seed=11, duration_s=90)
    truth = sim.true_positions_mm
    truth3d = np.concatenate([truth, np.full(truth.shape[:-1] + (1,), 20.0)], axis=-1)  # 20 mm above the floor
    cameras = synthetic_rig(n_cameras=4, distance_mm=900.0, seed=5)
    views = observe(truth3d, cameras, noise_px=0.5, missing=0.02, seed=5)
    tracks = dict(zip(sim.pose.individuals, ["mA", "mB"]))
    files = write_camera_views(views, cameras, tmp_path, individuals=sim.pose.individuals,
                               keypoints=sim.pose.keypoints, fps=sim.fps, stem="pair_")
    recordings = [{"camera": cam, "fps": sim.fps,
                   "pose": [{"source": "synthetic", "file": str(path), "skeleton": "mouse6", "tracks": tracks}]}
                  for cam, path in files.items()]
    ingest(write_manifest(tmp_path, {
        "subjects": [{"subject": "mA", "sex": "M", "age_group": "adult"},
                     {"subject": "mB", "sex": "M", "age_group": "adult"}],
        "skeletons": [{"skeleton": "mouse6", "keypoints": list(sim.pose.keypoints),
                       "edges": [list(e) for e in sim.pose.edges]}],
        "sessions": [{"session": "pair3d", "datetime": "2026-05-02 10:00:00", "rig": "rig4",
                      "animals": [{"subject": "mA"}, {"subject": "mB"}], "recordings": recordings}]}))
    assert (calibration.SessionRig & {"session": "pair3d"}).fetch1("rig") == "rig4"
    params = triangulation.TriangulationParamSet.add("dlt")
    with pytest.raises(InputError, match="no calibration of rig 'rig4' covers 2026-05-02"):
        triangulation.add_task({"session": "pair3d"}, "synthetic", params)
    write_calibration_toml(tmp_path / "rig.toml", cameras)
    # an older calibration of the same rig, and the one valid from the session's month: the latest covering wins
    calibration.add_calibration("old_rig", rig="rig4", kind="toml", toml_path=tmp_path / "rig.toml",
                                valid_to=datetime.date(2026, 4, 30))
    key = calibration.add_calibration("pair_rig", rig="rig4", kind="toml", toml_path=tmp_path / "rig.toml",
                                      valid_from=datetime.date(2026, 5, 1))
    calibration.CameraCalibration.populate(suppress_errors=False)
    with pytest.raises(InputError, match="no pose estimation from source 'dlc'"):
        triangulation.add_task({"session": "pair3d"}, "dlc", params)
    task = triangulation.add_task({"session": "pair3d"}, "synthetic", params)   # the rig from the manifest
    assert task["calibration"] == key["calibration"] == "pair_rig"
    triangulation.Triangulation.populate(suppress_errors=False)
    three_d = versions.PoseVersion & {"kind": "3d"}
    behavior.SocialBouts.populate(three_d, suppress_errors=False)  # (the 2D versions have no mm scale)
    assert three_d.fetch1("pose_version") == "3d:synthetic/pair_rig/" + task["tri_params"]
    found = (behavior.SocialBouts.Bout & three_d.proj()).to_pandas().reset_index()
    expected = sim.episodes.replace(tracks)
    for name in sorted(set(expected.behavior)):
        m = match_bouts(found[found.behavior == name], expected[expected.behavior == name])
        print(f"3D scoring {name}: precision {m.precision:.2f} recall {m.recall:.2f}")
        assert m.recall >= 0.9 and m.precision >= 0.9, name


def test_report3d_cli_writes_calibration_and_trajectory_plots(anipose, tmp_path, capsys):
    from schemas import calibration, triangulation
    from workers.cli import main

    key = calibration.add_calibration("shipped3", rig="rig1", kind="toml", toml_path=anipose / "calibration.toml",
                                      cameras=["back", "mid", "top"])
    calibration.CameraCalibration.populate(suppress_errors=False)
    params = triangulation.TriangulationParamSet.add("ransac", method="ransac", score_threshold=0.1)
    triangulation.TriangulationTask.insert1(dict(key, **params, session="minimal", pose_source="sleap"))
    assert main(["populate", "triangulation.Triangulation"]) == 0
    assert main(["report3d", "minimal", "--out", str(tmp_path / "r3d")]) == 0
    out = capsys.readouterr().out
    assert "back" in out and "median residual" in out
    pngs = sorted(p.name for p in (tmp_path / "r3d").glob("*.png"))
    assert pngs == ["calibration_shipped3.png", "trajectories3d_minimal_sleap_shipped3_ransac.png"]
    assert all((tmp_path / "r3d" / p).stat().st_size > 10_000 for p in pngs)
    assert main(["report3d", "nosuchsession", "--out", str(tmp_path / "r3d")]) == 1
