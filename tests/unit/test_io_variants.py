"""Pose-file variants from other labs: (0, 0) as missing, animal prefixes, sparse frames.

Each case reads a real file from ../shared/data, or a real file cut down
with the format's own library; none of them invents the format.
"""

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.io import read_pose
from pipeline.io.prefixes import detect_prefixes, split_prefixed
from pipeline.pose import PoseData


def xy_only_copy(shared, tmp_path, name="xy_only.h5"):
    """DeepOF's maDLC table without its likelihood column: missing points stay at (0, 0), as in MABe22."""
    df = pd.read_hdf(shared / "deepof_two_mice/testDLC_h5_table_madlc.h5")
    df = df.loc[:, df.columns.get_level_values("coords") != "likelihood"]
    out = tmp_path / name
    df.to_hdf(out, key="df_with_missing", format="table")
    return out


def cut_slp(shared, out, *, keep, shift=0, name="clip.slp"):
    """A real SLEAP file keeping only the labelled frames in ``keep``, moved by ``shift`` frames."""
    import sleap_io as sio

    labels = sio.load_slp(str(shared / "sleap_flies" / name), open_videos=False)
    frames = [sio.LabeledFrame(video=lf.video, frame_idx=lf.frame_idx + shift, instances=lf.instances)
              for lf in labels.labeled_frames if lf.frame_idx in keep]
    sio.save_slp(sio.Labels(labeled_frames=frames, videos=labels.videos, skeletons=labels.skeletons,
                            tracks=labels.tracks), str(out))
    return out


def test_xy_only_dlc_zero_points_become_missing(shared_data, tmp_path):
    path = xy_only_copy(shared_data, tmp_path)
    raw = pd.read_hdf(path)
    zero_points = int(((raw.xs("x", level="coords", axis=1) == 0) & (raw.xs("y", level="coords", axis=1) == 0))
                      .to_numpy().sum())
    pose = read_pose(path, fps=30)
    assert zero_points == 700
    assert pose.reading["zero_points_missing"] == 700
    assert not ((pose.positions == 0).all(axis=-1)).any()
    assert np.isnan(pose.confidence).all()  # no likelihood column: confidence unknown, not 1
    assert np.isnan(pose.positions[..., 0]).sum() == 700 + int(raw.isna().to_numpy().sum() // 2)
    # the same points as DLC's own likelihood-0 points in the full file
    full = read_pose(shared_data / "deepof_two_mice/testDLC_h5_table_madlc.h5", fps=30)
    np.testing.assert_array_equal(np.isnan(full.positions), np.isnan(pose.positions))


def test_zero_is_valid_keeps_the_origin(shared_data, tmp_path):
    pose = read_pose(xy_only_copy(shared_data, tmp_path), fps=30, zero_is_valid=True)
    assert pose.reading["zero_points_missing"] == 0 and pose.reading["zero_is_valid"] is True
    assert int((pose.positions == 0).all(axis=-1).sum()) == 700


def test_3d_zero_points_become_missing(shared_data):
    path = shared_data / "amadeus_maushaus3d/keypoints_3d_short.h5"
    raw = pd.read_hdf(path).to_numpy().reshape(1000, 30, 3)
    pose = read_pose(path, fps=30)
    assert pose.positions.shape == (1000, 1, 30, 3)
    expected = int((raw == 0).all(axis=-1).sum())
    assert expected == pose.reading["zero_points_missing"] == 5173
    assert not (pose.positions == 0).all(axis=-1).any()


def test_xy_only_file_with_nan_gaps_and_image_index(shared_data):
    pose = read_pose(shared_data / "amadeus_horse/BrownHorseinShadow_gt.h5", fps=30)
    assert pose.positions.shape == (308, 1, 22, 2) and np.isnan(pose.confidence).all()
    assert pose.frame_offset == 50  # rows are labeled-data/.../0050.png ... 0357.png
    assert pose.reading["zero_points_missing"] == 0 and pose.reading["labelled_frames"] == 308


@pytest.mark.parametrize("name", ["testDLC_h5_table_multi.h5", "testDLC_csv_table_multi.csv"])
def test_prefixed_multi_animal_table_is_split(shared_data, name):
    pose = read_pose(shared_data / "deepof_multi_topview" / name, fps=30)
    assert pose.individuals == ("B", "W")
    assert pose.n_keypoints == 14 and "Nose" in pose.keypoints and "B_Nose" not in pose.keypoints
    assert pose.reading["individual_prefixes"] == {"B_": "B", "W_": "W"} and pose.reading["prefixes_detected"]
    raw = pd.read_hdf(shared_data / "deepof_multi_topview/testDLC_h5_table_multi.h5").droplevel(0, axis=1)
    if name.endswith(".h5"):
        np.testing.assert_array_equal(pose.positions[:, 1, pose.keypoints.index("Nose"), 0],
                                      raw[("W_Nose", "x")].to_numpy())


def test_prefixes_named_by_the_user(shared_data):
    path = shared_data / "deepof_multi_topview/testDLC_h5_table_multi.h5"
    pose = read_pose(path, fps=30, individual_prefixes={"B_": "black", "W_": "white"})
    assert pose.individuals == ("black", "white") and not pose.reading["prefixes_detected"]
    whole = read_pose(path, fps=30, individual_prefixes=False)
    assert whole.n_individuals == 1 and whole.n_keypoints == 28
    with pytest.raises(InputError, match=r"W_Nose.*start with none of the individual_prefixes"):
        read_pose(path, fps=30, individual_prefixes={"B_": "black"})


def test_ambiguous_prefixes_ask_the_user():
    with pytest.raises(InputError, match=r"sides or body regions.*'left_'.*individual_prefixes"):
        detect_prefixes(["left_ear", "left_paw", "right_ear", "right_paw"], source="f.h5")
    with pytest.raises(InputError, match=r"not all have the same body parts.*'a_'.*'b_'"):
        detect_prefixes(["a_nose", "a_tail", "a_ear", "b_nose", "b_tail"], source="f.h5")
    assert detect_prefixes(["Nose", "Left_ear", "Right_ear", "Tail_base"]) is None
    assert detect_prefixes(["head_nose", "body_centre", "tail_base", "tail_tip"]) is None
    pose = PoseData(np.zeros((2, 2, 2, 2)), np.ones((2, 2, 2)), individuals=("a", "b"), keypoints=("x_1", "y_1"))
    with pytest.raises(InputError, match="already has 2 individuals"):
        split_prefixed(pose, {"x_": "x"}, source="f.h5")


def test_sparse_slp_is_stored_from_its_first_frame(shared_data, tmp_path):
    keep = set(range(1000, 1200, 2))  # 100 labelled frames, every other frame of 1000-1199
    path = cut_slp(shared_data, tmp_path / "sparse.slp", keep=keep, shift=24000)
    pose = read_pose(path, fps=25)
    assert pose.frame_offset == 25000 and pose.n_frames == 199
    assert pose.reading["labelled_frames"] == 100
    full = read_pose(shared_data / "sleap_flies/clip.slp", fps=25)
    np.testing.assert_array_equal(pose.positions[::2], full.positions[1000:1200:2])
    assert np.isnan(pose.positions[1::2]).all()


def test_labelled_data_csv_with_three_index_columns(shared_data, tmp_path):
    """DeepLabCut 2.3+ writes CollectedData with the index split over three columns (folder, video, image)."""
    src = shared_data / "dlc_openfield/project/labeled-data/m4s1/CollectedData_Pranav.csv"
    lines = src.read_text().splitlines()
    header = [row.replace(",", ",,,", 1) for row in lines[:3]]  # scorer,,,Pranav,...
    body = [row.replace("/", ",", 2) for row in lines[3:]]  # labeled-data/m4s1/img0000.png -> 3 columns
    out = tmp_path / "CollectedData_new.csv"
    out.write_text("\n".join(header + body) + "\n")
    assert out.read_text().splitlines()[3].startswith("labeled-data,m4s1,img0000.png,")
    old = read_pose(src, fps=30)
    new = read_pose(out, fps=30)
    assert new.positions.shape == old.positions.shape == (116, 1, 4, 2)
    np.testing.assert_array_equal(new.positions, old.positions)
    assert new.reading["labelled_frames"] == 116 and new.frame_offset == old.frame_offset == 0
