"""Camera calibration: boards, camera files, projection, the real Anipose session, plots."""

import json
import shutil

import cv2
import numpy as np
import pytest

from pipeline.calibration import (
    Board,
    Calibration,
    Camera,
    calibrate,
    camera_centers,
    check_cameras,
    detect_boards,
    frame_key,
    plot_calibration_report,
    plot_trajectories_3d,
    project,
    read_board_toml,
    read_calibration_toml,
    to_aniposelib,
    undistort,
    write_calibration_toml,
)
from pipeline.errors import InputError

CAMS = ["back", "mid", "side", "top"]


@pytest.fixture(scope="module")
def session_dir(shared_data):
    return shared_data / "anipose_minimal_session"


def board_images(session_dir, cam):
    return sorted((session_dir / cam / "calibration_images").glob("*.jpg"))


@pytest.fixture(scope="module")
def real_calibration(session_dir):
    """The ONE calibrate() call on the real 21 images x 4 cameras."""
    board = read_board_toml(session_dir / "board.toml")
    images = {cam: board_images(session_dir, cam) for cam in CAMS}
    return calibrate(images, board, names=CAMS)


def synthetic_camera(name="syn", rotation=(0.1, -0.2, 0.05), translation=(10.0, -5.0, 400.0)):
    focal = 900.0 + 10 * sum(map(ord, name))  # distinct intrinsics per name
    return Camera(name, (1280, 1024), [[focal, 0, 640.0], [0, focal + 10, 500.0], [0, 0, 1]],
                  [-0.25, 0.08, 0.001, -0.002, 0.01], np.array(rotation), np.array(translation))


# --- boards -----------------------------------------------------------------------------------

def test_board_round_trip_and_validation():
    board = Board("charuco", 8, 11, 24.0, 18.75, 4, 1000)
    assert Board.from_dict(json.loads(json.dumps(board.to_dict()))) == board
    checker = Board("checkerboard", 8, 11, 24.0)
    assert Board.from_dict(checker.to_dict()) == checker
    for bad in [dict(kind="circles"), dict(squares_x=1), dict(square_mm=-1.0), dict(marker_mm=30.0),
                dict(marker_bits=3), dict(dict_size=7)]:
        with pytest.raises(ValueError):
            Board(**{**board.to_dict(), **bad})
    with pytest.raises(ValueError):
        Board("checkerboard", 8, 11, 24.0, marker_mm=18.0)


def test_read_board_toml_real(session_dir, tmp_path):
    board = read_board_toml(session_dir / "board.toml")
    assert board == Board("charuco", 8, 11, 24.0, 18.75, 4, 1000)
    assert type(to_aniposelib(board)).__name__ == "CharucoBoard"
    checker = read_board_toml(session_dir / "board_checker.toml")
    assert checker == Board("checkerboard", 8, 11, 24.0)
    assert type(to_aniposelib(checker)).__name__ == "Checkerboard"
    bad = tmp_path / "board.toml"
    bad.write_text("board_x = 8\nsquare_length = 24.0\nmarker_length = 18.75\n")
    with pytest.raises(InputError, match="board.toml.*board_y"):
        read_board_toml(bad)
    bad.write_text("board_x = 8\nboard_y = 11\nsquare_length = -2\n")
    with pytest.raises(InputError, match="board.toml"):
        read_board_toml(bad)


# --- camera files and checks ------------------------------------------------------------------

def test_real_calibration_toml_side_is_copy_of_top(session_dir):
    path = session_dir / "calibration.toml"
    cameras = read_calibration_toml(path)
    assert [c.name for c in cameras] == CAMS
    assert cameras[0].size == (1280, 1024) and cameras[0].distortion.shape == (5,)
    with pytest.raises(InputError) as err:
        check_cameras(cameras, source=path)
    message = str(err.value)
    assert "calibration.toml" in message and "'side'" in message and "'top'" in message
    assert "identical" in message


def test_read_subset_passes_checks(session_dir):
    path = session_dir / "calibration.toml"
    cameras = read_calibration_toml(path, cameras=["top", "back", "mid"])
    assert [c.name for c in cameras] == ["top", "back", "mid"]
    check_cameras(cameras, source=path)
    with pytest.raises(InputError, match="calibration.toml.*'front'"):
        read_calibration_toml(path, cameras=["back", "front"])


def test_malformed_calibration_toml(tmp_path):
    path = tmp_path / "calibration.toml"
    path.write_text('[cam_0]\nname = "a"\nsize = [640, 480]\nmatrix = [[1, 0], [0, 1]]\n'
                    "distortions = [0.0]\nrotation = [0, 0, 0]\ntranslation = [0, 0, 0]\n")
    with pytest.raises(InputError, match="calibration.toml.*cam_0"):
        read_calibration_toml(path)
    path.write_text("this is = not [ toml")
    with pytest.raises(InputError, match="calibration.toml"):
        read_calibration_toml(path)


def test_write_read_round_trip_and_aniposelib_load(tmp_path):
    from aniposelib.cameras import CameraGroup

    cams = [synthetic_camera("a"), synthetic_camera("b", (0.3, 0.2, -0.1), (-50.0, 20.0, 500.0))]
    path = write_calibration_toml(tmp_path / "calibration.toml", cams, metadata={"error": 0.2, "by": "test"})
    back = read_calibration_toml(path)
    for c, d in zip(cams, back):
        assert c.name == d.name and c.size == d.size
        for field in ("matrix", "distortion", "rotation", "translation"):
            np.testing.assert_array_equal(getattr(c, field), getattr(d, field))
    assert Camera.from_dict(json.loads(json.dumps(cams[0].to_dict()))).to_dict() == cams[0].to_dict()
    group = CameraGroup.load(str(path))
    assert group.get_names() == ["a", "b"]
    np.testing.assert_allclose(group.cameras[1].get_camera_matrix(), cams[1].matrix)
    np.testing.assert_allclose(np.ravel(group.cameras[1].get_rotation()), cams[1].rotation)
    np.testing.assert_allclose(camera_centers(cams)[0], -cv2.Rodrigues(cams[0].rotation)[0].T @ cams[0].translation)


def test_aniposelib_load_dump_agree_with_ours_on_real_file(session_dir, tmp_path):
    """Same cameras, bit for bit, and the same parsed content when written."""
    import tomllib

    from aniposelib.cameras import CameraGroup

    path = session_dir / "calibration.toml"
    ours, group = read_calibration_toml(path), CameraGroup.load(str(path))
    assert group.get_names() == [c.name for c in ours] == CAMS
    for c, a in zip(ours, group.cameras):
        assert tuple(a.get_size()) == c.size
        for mine, theirs in [(c.matrix, a.get_camera_matrix()), (c.distortion, a.get_distortions()),
                             (c.rotation, a.get_rotation()), (c.translation, a.get_translation())]:
            np.testing.assert_array_equal(mine, theirs)
    group.metadata = {"error": 0.2, "by": "test"}
    group.dump(str(tmp_path / "theirs.toml"))
    write_calibration_toml(tmp_path / "ours.toml", ours, metadata={"error": 0.2, "by": "test"})
    theirs_text, ours_text = (tmp_path / "theirs.toml").read_text(), (tmp_path / "ours.toml").read_text()
    assert theirs_text != ours_text  # layout only: "[ 1280, 1024,]" there
    assert tomllib.loads(theirs_text) == tomllib.loads(ours_text)


def test_aniposelib_load_dump_differences(tmp_path):
    """The documented reasons (_toml.py docstring) for keeping our reader and writer."""
    import toml
    from aniposelib.cameras import CameraGroup

    # 12 cameras: aniposelib sorts table names as strings
    path = write_calibration_toml(tmp_path / "twelve.toml", [synthetic_camera(f"c{i}") for i in range(12)])
    assert [c.name for c in read_calibration_toml(path)] == [f"c{i}" for i in range(12)]
    assert CameraGroup.load(str(path)).get_names()[:4] == ["c0", "c1", "c10", "c11"]
    # integers among floats (valid TOML 1.0): toml 0.10 refuses the array
    cam0 = ('[cam_0]\nname = "a"\nsize = [640, 480]\nmatrix = [[500.5, 0, 320], [0, 500.5, 240], [0, 0, 1]]\n'
            "distortions = [0.1, 0.0, 0.0, 0.0, 0.0]\nrotation = [0.0, 0.0, 0.0]\ntranslation = [0.0, 0.0, 100.0]\n")
    path.write_text(cam0)
    assert read_calibration_toml(path)[0].matrix[0].tolist() == [500.5, 0.0, 320.0]
    with pytest.raises(toml.TomlDecodeError, match="homogeneous"):
        CameraGroup.load(str(path))
    # an extra table is taken as a camera
    floats = cam0.replace("0, 320], [0, 500.5, 240], [0, 0, 1]", "0.0, 320.0], [0.0, 500.5, 240.0], [0.0, 0.0, 1.0]")
    path.write_text(floats + '[metadata]\n[notes]\ntext = "hi"\n')
    assert [c.name for c in read_calibration_toml(path)] == ["a"]
    with pytest.raises(KeyError, match="matrix"):
        CameraGroup.load(str(path))
    # fisheye: aniposelib has the model, we do not, so we refuse rather than misread
    path.write_text(path.read_text().replace("[metadata]", "fisheye = true\n[metadata]"))
    with pytest.raises(InputError, match=r"twelve.toml.*cam_0.*fisheye"):
        read_calibration_toml(path)
    # numpy scalars in metadata: aniposelib writes their repr as a string
    group = CameraGroup.load(str(write_calibration_toml(tmp_path / "a.toml", [synthetic_camera("a")])))
    group.metadata = {"error": np.float64(0.2)}
    group.dump(str(tmp_path / "b.toml"))
    assert CameraGroup.load(str(tmp_path / "b.toml")).metadata["error"] == "np.float64(0.2)"
    write_calibration_toml(tmp_path / "c.toml", [synthetic_camera("a")], metadata={"error": np.float64(0.2)})
    assert CameraGroup.load(str(tmp_path / "c.toml")).metadata["error"] == 0.2


def test_check_cameras_refusals():
    a, b = synthetic_camera("a"), synthetic_camera("b", (0.3, 0.2, -0.1), (-50.0, 20.0, 500.0))
    check_cameras([a, b], source="calib.toml", errors_px={"a": 0.2, "b": 0.4}, max_error_px=0.5)
    with pytest.raises(InputError, match=r"calib.toml: camera 'b' .*0\.900 px.*0\.500 px"):
        check_cameras([a, b], source="calib.toml", errors_px={"a": 0.2, "b": 0.9}, max_error_px=0.5)
    with pytest.raises(InputError, match="'a' and 'b' have identical intrinsics"):
        check_cameras([a, Camera("b", a.size, a.matrix, a.distortion, b.rotation, b.translation)],
                      source="calib.toml")
    with pytest.raises(InputError, match="more than once"):
        check_cameras([a, synthetic_camera("a", (0.3, 0.2, -0.1))], source="calib.toml")
    with pytest.raises(InputError, match="non-finite"):
        check_cameras([synthetic_camera("a", (np.nan, 0, 0)), b], source="calib.toml")


# --- projection --------------------------------------------------------------------------------

def test_project_undistort_round_trip_against_cv2():
    cam = synthetic_camera()
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(-100, 100, (50, 2)), rng.uniform(-50, 50, 50)])
    pix = project(cam, pts)
    ref, _ = cv2.projectPoints(pts, cam.rotation, cam.translation, cam.matrix, cam.distortion)
    np.testing.assert_allclose(pix, ref.reshape(-1, 2), atol=1e-9)
    cam_frame = pts @ cam.rotation_matrix.T + cam.translation
    ray = cam_frame[:, :2] / cam_frame[:, 2:]
    np.testing.assert_allclose(undistort(cam, pix), ray, atol=1e-6)
    # any leading shape; NaN in, NaN out, finite rows untouched
    grid = pts[:12].reshape(3, 4, 3).copy()
    grid[1, 2] = np.nan
    out = project(cam, grid)
    assert out.shape == (3, 4, 2) and np.isnan(out[1, 2]).all()
    np.testing.assert_allclose(out[0], pix[:4])
    und = undistort(cam, out)
    assert und.shape == (3, 4, 2) and np.isnan(und[1, 2]).all()
    np.testing.assert_allclose(und[2], ray[8:12], atol=1e-6)


# --- calibration on the real session ------------------------------------------------------------

def test_calibrate_real_images(real_calibration):
    cal = real_calibration
    assert isinstance(cal, Calibration)
    print(f"\nmedian board reprojection error {cal.median_error_px:.3f} px; per camera "
          + ", ".join(f"{k} {v:.3f}" for k, v in cal.errors_px.items())
          + f"; detections {cal.n_frames}; bundle error {cal.bundle_error:.3f}")
    assert [c.name for c in cal.cameras] == CAMS
    assert cal.median_error_px <= 0.5
    assert all(cal.errors_px[name] <= 0.5 for name in CAMS), cal.errors_px
    assert all(cal.n_frames[name] >= 15 for name in CAMS), cal.n_frames
    check_cameras(cal.cameras, source="calibrated", errors_px=cal.errors_px, max_error_px=0.5)
    centers = camera_centers(cal.cameras)
    assert np.min(np.linalg.norm(centers[:, None] - centers[None], axis=-1)[~np.eye(4, dtype=bool)]) > 10


def test_calibrate_rejects_unreadable_image(session_dir, tmp_path):
    images = {}
    for cam in ["back", "top"]:
        folder = tmp_path / cam
        folder.mkdir()
        images[cam] = [shutil.copy(p, folder) for p in board_images(session_dir, cam)[:3]]
    garbage = tmp_path / "top" / "top-02242022135299-99.jpg"
    garbage.write_bytes(b"this is not a jpeg")
    images["top"].append(garbage)
    board = read_board_toml(session_dir / "board.toml")
    with pytest.raises(InputError, match="top-02242022135299-99.jpg"):
        calibrate(images, board, names=["back", "top"])
    images["top"].pop()
    with pytest.raises(InputError, match=r"'back'.*3 frame"):
        calibrate(images, board, names=["back", "top"], min_detections=5)


def test_detect_boards_in_video_every_kth_frame(session_dir):
    board = to_aniposelib(read_board_toml(session_dir / "board.toml"))
    video = session_dir / "back" / "calibration_images" / "minimal_session-back-calibration.mp4"
    size, rows = detect_boards([video], board, skip=5)
    assert size == (1280, 1024)
    assert [r["framenum"] for r in rows] == [(0, 0), (0, 5), (0, 10), (0, 15), (0, 20)]
    assert all(r["filled"].shape == (70, 1, 2) for r in rows)


def test_frame_key():
    assert frame_key("top-02242022135227-15.jpg") == 15
    with pytest.raises(InputError, match="frame number"):
        frame_key("board.jpg")


# --- plots ---------------------------------------------------------------------------------------

def test_plots_write_png(tmp_path):
    cams = [synthetic_camera("a"), synthetic_camera("b", (0.3, 0.2, -0.1), (-50.0, 20.0, 500.0))]
    report = tmp_path / "report.png"
    fig = plot_calibration_report(cams, {"a": 0.2, "b": 0.3}, path=report, title="rig")
    assert len(fig.axes) == 2 and report.stat().st_size > 1000
    pos = np.cumsum(np.random.default_rng(1).normal(size=(50, 2, 3, 3)), axis=0)
    pos[10:15, 0] = np.nan
    traj = tmp_path / "traj.png"
    plot_trajectories_3d(pos, individuals=["m1", "m2"], keypoints=["nose", "neck", "tail"],
                         keypoint="nose", path=traj)
    assert traj.stat().st_size > 1000
    with pytest.raises(ValueError):
        plot_trajectories_3d(pos, individuals=["m1"], keypoints=["nose", "neck", "tail"])
