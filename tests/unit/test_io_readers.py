"""Pose-file readers on the real files in ../shared/data, plus bad input.

Expected sizes were found independently of the readers (h5py shapes,
sleap-io ``Labels``, pandas, pynwb, line counts):

=============================================================  ======  ====  ===
file                                                           frames  ind.  kp.
=============================================================  ======  ====  ===
sleap_flies/centered_pair_predictions.slp                        1100    27   24
sleap_flies/clip.slp                                             1500     2   13
sleap_flies/clip.predictions.slp                                 1500     2    2
sleap_flies/small_robot.000_small_robot_3_frame.analysis.h5         3     1    3
deepof_two_mice/testDLC_csv_table_madlc.csv                        97     2   14
deepof_two_mice/testDLC_h5_table_madlc.h5                         100     2   14
dlc_openfield/openfield_dlc_inference_example.csv                2330     1    4
dlc_openfield/openfield_dlc_inference_example_missingdata.csv    2330     1    4
nwb_pose/sample_ndx_pose.nwb                                     2330     1    4
anipose_minimal_session/{back,mid,side,top}/*.analysis.h5         120     1   15
=============================================================  ======  ====  ===

The deepof CSV holds only frames 0-96 of the 100 in the H5 (4 header rows +
97 data rows); on those 97 frames both files agree exactly.
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import subprocess
import sys
import warnings
from functools import cache
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.io import FORMATS, detect_format, read_pose
from pipeline.io.checksum import file_checksum
from pipeline.pose import PoseData

REPO = Path(__file__).resolve().parents[2]

# relative path, frames, individuals, keypoints, space, source software, format
REAL_FILES = [
    ("sleap_flies/centered_pair_predictions.slp", 1100, 27, 24, 2, "SLEAP", "sleap"),
    ("sleap_flies/clip.slp", 1500, 2, 13, 2, "SLEAP", "sleap"),
    ("sleap_flies/clip.predictions.slp", 1500, 2, 2, 2, "SLEAP", "sleap"),
    ("sleap_flies/small_robot.000_small_robot_3_frame.analysis.h5", 3, 1, 3, 2, "SLEAP", "sleap"),
    ("deepof_two_mice/testDLC_csv_table_madlc.csv", 97, 2, 14, 2, "DeepLabCut", "dlc"),
    ("deepof_two_mice/testDLC_h5_table_madlc.h5", 100, 2, 14, 2, "DeepLabCut", "dlc"),
    ("dlc_openfield/openfield_dlc_inference_example.csv", 2330, 1, 4, 2, "DeepLabCut", "dlc"),
    ("dlc_openfield/openfield_dlc_inference_example_missingdata.csv", 2330, 1, 4, 2, "DeepLabCut", "dlc"),
    ("nwb_pose/sample_ndx_pose.nwb", 2330, 1, 4, 2, "DeepLabCut", "nwb"),
]
ANIPOSE_CAMERAS = ("back", "mid", "side", "top")
DEEPOF_CSV = "deepof_two_mice/testDLC_csv_table_madlc.csv"
DEEPOF_H5 = "deepof_two_mice/testDLC_h5_table_madlc.h5"
DEEPOF_KEYPOINTS = (
    "Nose", "Left_ear", "Right_ear", "Spine_1", "Center", "Spine_2", "Tail_base",
    "Tail_1", "Tail_2", "Tail_tip", "Left_bhip", "Right_bhip", "Left_fhip", "Right_fhip",
)  # fmt: skip


@cache
def _read(path: Path, fps: float | None = None) -> PoseData:
    """Read each real file once per session (tests must not mutate the result)."""
    return read_pose(path, fps=fps)


def _anipose_file(shared_data: Path, camera: str) -> Path:
    found = sorted(shared_data.glob(f"anipose_minimal_session/{camera}/*.analysis.h5"))
    assert len(found) == 1, f"expected one analysis file for camera {camera}, found {found}"
    return found[0]


# --------------------------------------------------------------------------- real files


@pytest.mark.parametrize("rel, frames, individuals, keypoints, space, software, fmt", REAL_FILES)
def test_real_file_shapes(shared_data, rel, frames, individuals, keypoints, space, software, fmt):
    path = shared_data / rel
    pose = _read(path)
    assert (pose.n_frames, pose.n_individuals, pose.n_keypoints, pose.n_space) == (
        frames, individuals, keypoints, space,
    )  # fmt: skip
    assert pose.confidence.shape == (frames, individuals, keypoints)
    assert pose.positions.dtype == np.float64 and pose.confidence.dtype == np.float64
    assert all(type(k) is str for k in pose.keypoints + pose.individuals)
    assert pose.source_software == software
    assert detect_format(path) == fmt
    # missing points are missing as a whole, and something was tracked
    assert np.array_equal(np.isnan(pose.positions[..., 0]), np.isnan(pose.positions[..., 1]))
    assert np.isfinite(pose.positions).any()


@pytest.mark.parametrize("camera", ANIPOSE_CAMERAS)
def test_anipose_session_analysis_files(shared_data, camera):
    pose = _read(_anipose_file(shared_data, camera))
    assert (pose.n_frames, pose.n_individuals, pose.n_keypoints, pose.n_space) == (120, 1, 15, 2)
    assert pose.individuals == ("track_0",)
    assert pose.keypoints[:3] == ("Nose", "Ear_R", "Ear_L") and pose.keypoints[-1] == "Neck"
    assert len(pose.edges) == 14 and ("TTI", "Head") in pose.edges
    assert pose.fps is None
    # fmt="anipose" on a per-camera .h5 reads it as the SLEAP file it is
    same = read_pose(_anipose_file(shared_data, camera), fmt="anipose")
    assert np.array_equal(same.positions, pose.positions, equal_nan=True)


@pytest.mark.parametrize("camera", ("back", "top"))
def test_slp_and_its_analysis_export_agree(shared_data, camera):
    h5 = _read(_anipose_file(shared_data, camera))
    slp = _read(next(shared_data.glob(f"anipose_minimal_session/{camera}/*.slp")))
    assert (slp.individuals, slp.keypoints) == (h5.individuals, h5.keypoints)
    assert set(slp.edges) == set(h5.edges)
    np.testing.assert_allclose(slp.positions, h5.positions, atol=1e-3)  # h5 goes through float32
    np.testing.assert_allclose(slp.confidence, h5.confidence, atol=1e-6)


def test_sleap_fragmented_tracks_all_kept(shared_data):
    import sleap_io as sio

    path = shared_data / "sleap_flies/centered_pair_predictions.slp"
    pose = _read(path)
    assert pose.individuals == tuple(str(i) for i in range(1, 28))
    assert len(pose.edges) == 23 and ("neck", "head") in pose.edges
    frames_per_track = (~np.isnan(pose.positions[..., 0]).all(axis=2)).sum(axis=0)
    assert frames_per_track[:2].tolist() == [1100, 1100]
    assert frames_per_track.sum() == 2274  # every predicted instance of the file
    # independent conversion by sleap-io
    ref = sio.load_slp(str(path), open_videos=False).numpy(return_confidence=True)
    np.testing.assert_array_equal(pose.positions, ref[..., :2])
    np.testing.assert_array_equal(pose.confidence, ref[..., 2])


def test_sleap_user_labels_have_nan_confidence(shared_data):
    pose = _read(shared_data / "sleap_flies/clip.slp")
    assert pose.individuals == ("female", "male")
    assert len(pose.edges) == 12
    assert np.isnan(pose.confidence).all()
    pred = _read(shared_data / "sleap_flies/clip.predictions.slp")
    assert pred.keypoints == ("head", "thorax") and pred.edges == (("thorax", "head"),)
    assert np.nanmin(pred.confidence) >= 0


def test_sleap_analysis_without_tracks(shared_data):
    pose = _read(shared_data / "sleap_flies/small_robot.000_small_robot_3_frame.analysis.h5")
    assert pose.individuals == ("untracked_0",)
    assert pose.keypoints == ("top", "front", "rear")
    assert set(pose.edges) == {("top", "front"), ("top", "rear"), ("front", "rear")}
    np.testing.assert_allclose(pose.positions[1, 0, 0], [320.97375488, 59.24647141], rtol=1e-6)
    # frames 0 and 2 are user labels: no score
    assert np.isnan(pose.confidence[[0, 2]]).all() and np.isfinite(pose.confidence[1]).all()


def test_fps_from_argument_when_file_has_none(shared_data):
    path = shared_data / "sleap_flies/clip.predictions.slp"
    assert _read(path).fps is None
    assert read_pose(path, fps=30).fps == 30.0
    assert read_pose(shared_data / DEEPOF_CSV, fps=25).fps == 25.0


def test_nwb_sample(shared_data):
    pose = _read(shared_data / "nwb_pose/sample_ndx_pose.nwb")
    assert pose.keypoints == ("ind1_snout", "ind1_leftear", "ind1_rightear", "ind1_tailbase")  # skeleton order
    assert pose.individuals == ("DLC_resnet50_openfieldAug20shuffle1_30000",)  # the file's identifier
    assert pose.edges == ()  # its skeleton has nodes but no edges
    # the file has timestamps 0, 1, 2, ... s and no rate: 1 fps is what it says
    assert pose.fps == 1.0
    with pytest.warns(UserWarning, match="ignoring fps=30"):
        assert read_pose(shared_data / "nwb_pose/sample_ndx_pose.nwb", fps=30).fps == 1.0
    # processing/behavior/PoseEstimation/ind1_snout/data[0] and confidence[0], read with h5py
    np.testing.assert_allclose(pose.positions[0, 0, 0], [77.29780579, 88.87557983])
    assert pose.confidence[0, 0, 0] == pytest.approx(0.9954452514648438)


# --------------------------------------------------------------------------- DeepLabCut


def test_dlc_zero_zero_likelihood_zero_is_nan(shared_data):
    pose = _read(shared_data / DEEPOF_H5)
    assert pose.individuals == ("mouse_black_tail", "mouse_white_tail")
    assert pose.keypoints == DEEPOF_KEYPOINTS
    ear = pose.keypoints.index("Left_ear")
    # frame 0, mouse_black_tail, Left_ear is written as 0.0, 0.0, 0.0 in the file
    assert np.isnan(pose.positions[0, 0, ear]).all()
    assert pose.confidence[0, 0, ear] == 0.0  # the file's likelihood is kept
    # its Nose is a real detection
    np.testing.assert_allclose(pose.positions[0, 0, 0], [188.547, 379.996])
    assert pose.confidence[0, 0, 0] == pytest.approx(0.991)
    # 700 points of the file are 0,0,0: all NaN now, and no (0, 0) is left
    assert np.isnan(pose.positions[..., 0]).sum() == 700
    assert (pose.confidence == 0).sum() == 700
    assert not (pose.positions == 0).all(axis=-1).any()


def test_dlc_deepof_csv_and_h5_agree(shared_data):
    csv_pose, h5_pose = _read(shared_data / DEEPOF_CSV), _read(shared_data / DEEPOF_H5)
    assert (csv_pose.individuals, csv_pose.keypoints) == (h5_pose.individuals, h5_pose.keypoints)
    assert (csv_pose.n_frames, h5_pose.n_frames) == (97, 100)  # the CSV stops at frame 96
    np.testing.assert_array_equal(csv_pose.positions, h5_pose.positions[:97])
    np.testing.assert_array_equal(csv_pose.confidence, h5_pose.confidence[:97])


def test_dlc_single_animal_empty_cells(shared_data):
    full = _read(shared_data / "dlc_openfield/openfield_dlc_inference_example.csv")
    gaps = _read(shared_data / "dlc_openfield/openfield_dlc_inference_example_missingdata.csv")
    assert full.individuals == gaps.individuals == ("individual_0",)
    assert full.keypoints == ("snout", "leftear", "rightear", "tailbase")
    assert not np.isnan(full.positions).any()
    # the snout of frames 0 and 1 is empty in the second file; the rest is equal
    missing = np.isnan(gaps.positions[..., 0])
    assert np.argwhere(missing).tolist() == [[0, 0, 0], [1, 0, 0]]
    assert np.isnan(gaps.confidence[:2, 0, 0]).all()
    np.testing.assert_array_equal(gaps.positions[~missing], full.positions[~missing])


# --------------------------------------------------------------------------- synthetic files


def _write_slp(path: Path, frames: list[list[tuple]]) -> Path:
    """frames: per frame, a list of (kind, track name or None, xy) instances."""
    import sleap_io as sio

    skeleton = sio.Skeleton(["a", "b"], edges=[("a", "b")])
    video = sio.Video(filename="missing.mp4", open_backend=False)
    tracks = {name: sio.Track(name) for insts in frames for _, name, _ in insts if name}
    lfs = []
    for t, insts in enumerate(frames):
        objs = []
        for kind, name, xy in insts:
            xy = np.asarray(xy, dtype=float)
            if kind == "pred":
                objs.append(sio.PredictedInstance.from_numpy(xy, skeleton, point_scores=[0.5, 0.7],
                                                             score=1.0, track=tracks.get(name)))  # fmt: skip
            else:
                objs.append(sio.Instance.from_numpy(xy, skeleton, track=tracks.get(name)))
        lfs.append(sio.LabeledFrame(video=video, frame_idx=t, instances=objs))
    labels = sio.Labels(labeled_frames=lfs, videos=[video], skeletons=[skeleton], tracks=list(tracks.values()))
    sio.save_slp(labels, str(path))
    return path


def test_slp_untracked_instances_get_untracked_individuals(tmp_path):
    xy = [[1, 2], [3, 4]]
    path = _write_slp(tmp_path / "mixed.slp", [
        [("pred", "t0", xy), ("pred", None, [[5, 6], [7, 8]]), ("pred", None, [[9, 9], [9, 9]])],
        [("user", None, [[0, 1], [2, 3]]), ("pred", "t0", xy), ("user", "t0", [[10, 10], [11, 11]])],
    ])  # fmt: skip
    pose = read_pose(path)
    assert pose.individuals == ("t0", "untracked_0", "untracked_1")
    assert pose.edges == (("a", "b"),)
    np.testing.assert_array_equal(pose.positions[0, 1], [[5, 6], [7, 8]])
    np.testing.assert_array_equal(pose.positions[0, 2], [[9, 9], [9, 9]])
    np.testing.assert_array_equal(pose.confidence[0, 0], [0.5, 0.7])
    # frame 1: the user instance on t0 wins over the prediction, and has no score
    np.testing.assert_array_equal(pose.positions[1, 0], [[10, 10], [11, 11]])
    assert np.isnan(pose.confidence[1, 0]).all()
    np.testing.assert_array_equal(pose.positions[1, 1], [[0, 1], [2, 3]])
    assert np.isnan(pose.positions[1, 2]).all()


def test_slp_without_tracks_has_no_tracked_individuals(tmp_path):
    path = _write_slp(tmp_path / "single.slp", [[("pred", None, [[1, 2], [3, 4]])]] * 3)
    pose = read_pose(path, fps=10)
    assert pose.individuals == ("untracked_0",)
    assert (pose.n_frames, pose.fps) == (3, 10.0)


def _write_nwb(path: Path, n_frames: int, names=("mouse",)) -> Path:
    import ndx_pose
    import pynwb

    nwb = pynwb.NWBFile(session_description="test", identifier="test-id",
                        session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))  # fmt: skip
    behavior = nwb.create_processing_module("behavior", "pose")
    skeletons, estimations = [], []
    for name in names:
        skeleton = ndx_pose.Skeleton(name=f"skeleton_{name}", nodes=["nose", "tail"],
                                     edges=np.array([[0, 1]], dtype="uint8"))  # fmt: skip
        series = [
            ndx_pose.PoseEstimationSeries(name=k, data=np.full((n_frames, 2), float(i + 1)),
                                          confidence=np.full(n_frames, 0.5), unit="pixels",
                                          reference_frame="top left", rate=25.0)  # fmt: skip
            for i, k in enumerate(["tail", "nose"])
        ]
        skeletons.append(skeleton)
        estimations.append(ndx_pose.PoseEstimation(name=f"pose_{name}", pose_estimation_series=series,
                                                   skeleton=skeleton, source_software="SLEAP"))  # fmt: skip
    behavior.add(ndx_pose.Skeletons(skeletons=skeletons))
    for estimation in estimations:
        behavior.add(estimation)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def test_nwb_rate_skeleton_edges_and_several_animals(tmp_path):
    pose = read_pose(_write_nwb(tmp_path / "one.nwb", 10))
    assert (pose.n_frames, pose.individuals, pose.keypoints) == (10, ("test-id",), ("nose", "tail"))
    assert pose.edges == (("nose", "tail"),) and pose.fps == 25.0
    np.testing.assert_array_equal(pose.positions[0, 0], [[2, 2], [1, 1]])
    two = read_pose(_write_nwb(tmp_path / "two.nwb", 5, names=("a", "b")))
    assert two.individuals == ("pose_a", "pose_b") and two.positions.shape == (5, 2, 2, 2)


def test_anipose_csv(tmp_path):
    n, cols = 6, {"fnum": np.arange(6)}
    for i, k in enumerate(["nose", "tail"]):
        cols |= {f"{k}_x": np.arange(n) + i + 0.5, f"{k}_y": np.full(n, i), f"{k}_z": np.full(n, 2.0),
                 f"{k}_error": 0.1, f"{k}_ncams": 2, f"{k}_score": 0.9}  # fmt: skip
    cols["nose_x"][2] = np.nan
    cols |= {c: 0.0 for c in ["center_0", "center_1", "center_2"] + [f"M_{a}{b}" for a in range(3) for b in range(3)]}
    path = tmp_path / "points3d.csv"
    pd.DataFrame(cols).to_csv(path, index=False)
    assert detect_format(path) == "anipose"
    pose = read_pose(path, fps=30)
    assert pose.positions.shape == (6, 1, 2, 3) and pose.keypoints == ("nose", "tail")
    assert (pose.source_software, pose.fps) == ("Anipose", 30.0)
    assert np.isnan(pose.positions[2, 0, 0]).all()  # partly NaN point -> NaN point


# --------------------------------------------------------------------------- bad input


def _expect_input_error(path: Path, match: str, **kwargs) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        read_pose(path, **kwargs)
    err = info.value
    assert err.source == str(path) and str(err).startswith(f"{path}: ")
    assert not isinstance(err.__cause__, InputError)
    return err


@pytest.mark.parametrize("name", ["absent.slp", "absent.h5", "absent.csv", "absent.nwb", "absent.txt"])
def test_missing_file(tmp_path, name):
    _expect_input_error(tmp_path / name, "file not found")


@pytest.mark.parametrize("name", ["fake.h5", "fake.slp", "fake.nwb", "empty.h5"])
def test_text_file_renamed_to_hdf5(tmp_path, name):
    path = tmp_path / name
    path.write_text("" if name.startswith("empty") else "frame,x,y\n0,1,2\n")
    _expect_input_error(path, "not a readable HDF5 file")


@pytest.mark.parametrize(
    "rel",
    [
        "sleap_flies/centered_pair_predictions.slp",
        "sleap_flies/small_robot.000_small_robot_3_frame.analysis.h5",
        DEEPOF_H5,
        "nwb_pose/sample_ndx_pose.nwb",
    ],
)
@pytest.mark.parametrize("fraction", [0.5, 0.98])
def test_truncated_hdf5_copy(shared_data, tmp_path, rel, fraction):
    data = (shared_data / rel).read_bytes()
    path = tmp_path / Path(rel).name
    path.write_bytes(data[: int(len(data) * fraction)])
    _expect_input_error(path, "corrupt or truncated")


def test_truncated_dlc_csv(shared_data, tmp_path):
    data = (shared_data / DEEPOF_CSV).read_bytes()
    path = tmp_path / "cut.csv"
    path.write_bytes(data[: len(data) // 2])
    _expect_input_error(path, "truncated")


@pytest.mark.parametrize("name", ["poses.txt", "poses.json", "poses"])
def test_unknown_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("x")
    _expect_input_error(path, "unknown file extension")


def test_hdf5_and_csv_of_unknown_kind(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.arange(3)
    _expect_input_error(tmp_path / "other.h5", "neither SLEAP analysis nor DeepLabCut")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    _expect_input_error(tmp_path / "other.csv", "neither DeepLabCut")
    _expect_input_error(tmp_path / "other.csv", "not a DeepLabCut CSV", fmt="dlc")


def test_zero_frames_dlc(shared_data, tmp_path):
    lines = (shared_data / "dlc_openfield/openfield_dlc_inference_example.csv").read_text().splitlines(True)
    (tmp_path / "header_only.csv").write_text("".join(lines[:3]))
    _expect_input_error(tmp_path / "header_only.csv", "zero frames")
    df = pd.read_hdf(shared_data / DEEPOF_H5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df.iloc[:0].to_hdf(tmp_path / "empty_DLC.h5", key="df_with_missing")
    _expect_input_error(tmp_path / "empty_DLC.h5", "zero frames")


def test_zero_frames_sleap(shared_data, tmp_path):
    _expect_input_error(_write_slp(tmp_path / "empty.slp", []), "zero frames")
    src = _anipose_file(shared_data, "back")
    with h5py.File(src, "r") as f, h5py.File(tmp_path / "empty.analysis.h5", "w") as g:
        for key in f:
            data = f[key][()]
            if key in ("tracks", "point_scores", "instance_scores", "tracking_scores"):
                data = data[..., :0]
            elif key == "track_occupancy":
                data = data[:0]
            g[key] = data
    _expect_input_error(tmp_path / "empty.analysis.h5", "zero frames")


def test_zero_frames_nwb(tmp_path):
    _expect_input_error(_write_nwb(tmp_path / "empty.nwb", 0), "zero frames")


def test_wrong_format_argument(shared_data, tmp_path):
    _expect_input_error(shared_data / DEEPOF_CSV, "must end in .nwb", fmt="nwb")
    _expect_input_error(shared_data / DEEPOF_CSV, "must be .slp or .h5", fmt="sleap")
    _expect_input_error(shared_data / "nwb_pose/sample_ndx_pose.nwb", "DeepLabCut", fmt="dlc")
    with pytest.raises(ValueError, match="fmt must be one of"):
        read_pose(shared_data / DEEPOF_CSV, fmt="lightningpose")
    with pytest.raises(ValueError, match="fps must be"):
        read_pose(shared_data / DEEPOF_CSV, fps=0)
    assert FORMATS == ("sleap", "dlc", "nwb", "anipose", "lightning_pose")


# --------------------------------------------------------------------------- checksum, imports


def test_file_checksum(tmp_path):
    small = tmp_path / "abc.bin"
    small.write_bytes(b"abc")
    assert file_checksum(small) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    big = tmp_path / "big.bin"
    data = np.random.default_rng(0).bytes(3 * (1 << 20) + 17)  # spans several 1 MiB chunks
    big.write_bytes(data)
    assert file_checksum(str(big)) == hashlib.sha256(data).hexdigest()
    with pytest.raises(InputError, match="file not found"):
        file_checksum(tmp_path / "absent.bin")


def test_readers_never_import_datajoint():
    code = (
        "import sys, pipeline.io, pipeline.io.sleap, pipeline.io.dlc, pipeline.io.nwb, pipeline.io.checksum\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'datajoint')\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)
    for source in (REPO / "pipeline").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "datajoint" for n in names), f"{source} imports datajoint"
