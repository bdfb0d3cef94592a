"""Lightning Pose and eks CSVs (issue 15 §4).

No Lightning Pose output is in ../shared/data, and writing one needs a
trained model (lightning-pose 2.4.3 installs from the index, but asks for
torch, DALI for CUDA and pretrained backbones). The files here are written
the way the writers build them (pandas ``MultiIndex.from_product`` of
scorer, body parts, coords, then ``to_csv``), with the coordinate lists of
``lightning_pose/utils/predictions.py`` and ``eks/singlecam_smoother.py``
(current and before January 2025) and eks's 3D output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.io import detect_format, read_pose
from pipeline.io.lightning_pose import looks_like_lightning_pose, read_lightning_pose
from pipeline.pose import conform_to_skeleton

LP = ["x", "y", "likelihood"]
EKS = ["x", "y", "likelihood", "x_ens_median", "y_ens_median", "x_ens_var", "y_ens_var",
       "x_posterior_var", "y_posterior_var"]
EKS_OLD = ["x", "y", "likelihood", "x_var", "y_var", "zscore", "nll", "ensemble_std"]
EKS_3D = ["x", "y", "z", "x_posterior_var", "y_posterior_var", "z_posterior_var"]
KEYPOINTS = ["jaw_tip", "snout_centre", "paw_l"]


def write_lp(path, coords=LP, *, scorer="heatmap_tracker", keypoints=KEYPOINTS, n=6, index=None, split=None):
    """A CSV as Lightning Pose / eks write it; value of (frame t, keypoint k, coord c) = 100 k + 10 c + t / 10."""
    columns = pd.MultiIndex.from_product([[scorer], keypoints, coords], names=["scorer", "bodyparts", "coords"])
    t, k, c = np.meshgrid(np.arange(n), np.arange(len(keypoints)), np.arange(len(coords)), indexing="ij")
    df = pd.DataFrame((100 * k + 10 * c + t / 10).reshape(n, -1).astype(float), columns=columns)
    if "likelihood" in coords:
        df.loc[:, (scorer, slice(None), "likelihood")] = 0.9
    if index is not None:
        df.index = index
    if split is not None:
        df["set"] = split
    df.to_csv(path)
    return path


def test_plain_lightning_pose(tmp_path):
    path = write_lp(tmp_path / "video.csv")
    assert detect_format(path) == "lightning_pose"
    pose = read_pose(path, fps=60)
    assert pose.positions.shape == (6, 1, 3, 2) and pose.individuals == ("individual_0",)
    assert pose.keypoints == tuple(KEYPOINTS) and pose.source_software == "Lightning Pose"
    assert pose.positions[2, 0, 1].tolist() == [100.2, 110.2]          # snout_centre, frame 2: x then y
    assert (pose.confidence == 0.9).all() and pose.uncertainty == {}
    assert pose.reading["layout"] == "Lightning Pose predictions"
    assert pose.reading["format_chosen"].startswith("detected: scorer 'heatmap_tracker'")


def test_eks_ensemble_and_posterior_variance(tmp_path):
    path = write_lp(tmp_path / "eks.csv", EKS, scorer="ensemble-kalman_tracker")
    pose = read_pose(path, fps=60)
    assert sorted(pose.uncertainty) == ["ensemble_median", "ensemble_variance", "posterior_variance"]
    # jaw_tip (k = 0) frame 3: x_ens_var is coord 5, y_ens_var 6, x_posterior_var 7
    assert pose.uncertainty["ensemble_variance"][3, 0, 0].tolist() == [50.3, 60.3]
    assert pose.uncertainty["posterior_variance"][3, 0, 0].tolist() == [70.3, 80.3]
    assert pose.uncertainty["ensemble_median"][3, 0, 2].tolist() == [230.3, 240.3]
    assert (pose.confidence == 0.9).all()      # the variance never goes into the confidence
    assert "x_ens_var" in pose.reading["format_chosen"] and pose.reading["layout"].startswith("eks (2025")


def test_old_eks_and_3d(tmp_path):
    old = read_pose(write_lp(tmp_path / "old.csv", EKS_OLD, scorer="ensemble-kalman_tracker"), fps=30)
    assert sorted(old.uncertainty) == ["ensemble_std", "nll", "posterior_variance", "zscore"]
    assert old.uncertainty["posterior_variance"][1, 0, 0].tolist() == [30.1, 40.1]
    assert old.uncertainty["zscore"].shape == (6, 1, 3)
    three = read_pose(write_lp(tmp_path / "latent.csv", EKS_3D, scorer="ensemble-kalman_tracker"), fps=30)
    assert three.n_space == 3 and np.isnan(three.confidence).all()
    assert three.uncertainty["posterior_variance"][0, 0, 1].tolist() == [130.0, 140.0, 150.0]


def test_nan_rows_and_a_partly_missing_point(tmp_path):
    path = write_lp(tmp_path / "nan.csv", EKS)
    df = pd.read_csv(path, header=[0, 1, 2], index_col=0)
    df.iloc[2] = np.nan                                   # a whole frame empty
    df.loc[4, ("heatmap_tracker", "paw_l", "y")] = np.nan  # x without its y
    df.to_csv(path)
    pose = read_pose(path, fps=30)
    assert np.isnan(pose.positions[2]).all() and np.isnan(pose.confidence[2]).all()
    assert np.isnan(pose.uncertainty["ensemble_variance"][2]).all()
    assert np.isnan(pose.positions[4, 0, 2]).all() and not np.isnan(pose.positions[4, 0, 1]).any()


def test_labelled_frames_with_set_column(tmp_path):
    names = [f"labeled-data/vid/img{i:04d}.png" for i in (3, 5, 9)]
    path = write_lp(tmp_path / "predictions.csv", n=3, index=names, split=["train", "validation", "test"])
    pose = read_pose(path, fps=30)
    assert pose.frame_offset == 3 and pose.n_frames == 7 and pose.reading["labelled_frames"] == 3
    assert pose.reading["labelled_split"] == {"test": 1, "train": 1, "validation": 1}
    assert np.isnan(pose.positions[1]).all() and pose.positions[2, 0, 0, 0] == 0.1


def test_uncertainty_follows_the_skeleton_order(tmp_path):
    pose = read_pose(write_lp(tmp_path / "eks.csv", EKS), fps=30)
    conformed = conform_to_skeleton(pose, ["paw_l", "extra", "jaw_tip", "snout_centre"])
    variance = conformed.uncertainty["ensemble_variance"]
    assert variance[0, 0, 0].tolist() == [250.0, 260.0] and np.isnan(variance[0, 0, 1]).all()


def test_views_are_not_split_into_animals(tmp_path):
    """A mirror rig's paw1_top / paw1_bot are one animal (Lightning Pose tracks one), not animals 'paw1', 'paw2'."""
    keypoints = ["paw1_top", "paw2_top", "paw1_bot", "paw2_bot"]
    pose = read_pose(write_lp(tmp_path / "mirror.csv", keypoints=keypoints), fps=30)
    assert pose.individuals == ("individual_0",) and pose.keypoints == tuple(keypoints)
    split = read_pose(tmp_path / "mirror.csv", fps=30, individual_prefixes={"paw1_": "a", "paw2_": "b"})
    assert split.individuals == ("a", "b")


def test_unknown_coordinates_are_an_error(tmp_path):
    path = write_lp(tmp_path / "odd.csv", LP + ["x_ens_var", "y_ens_var", "entropy"])
    with pytest.raises(InputError, match=r"odd\.csv: unknown coordinate\(s\) \['entropy'\]"):
        read_pose(path, fps=30)


@pytest.mark.parametrize(("coords", "message"), [
    (["x", "y", "likelihood", "x_ens_var"], r"ensemble_variance is given for axes \['x'\]"),
    (["x", "y", "likelihood", "z_posterior_var", "x_posterior_var", "y_posterior_var"], "axis the positions do not"),
    (["x", "likelihood"], r"positions need x, y"),
])
def test_incomplete_quantities_are_an_error(tmp_path, coords, message):
    with pytest.raises(InputError, match=message):
        read_lightning_pose(write_lp(tmp_path / "bad.csv", coords), fps=30)


def test_body_part_without_a_column_and_negative_variance(tmp_path):
    path = write_lp(tmp_path / "holes.csv", EKS)
    df = pd.read_csv(path, header=[0, 1, 2], index_col=0)
    df.drop(columns=[("heatmap_tracker", "paw_l", "y_posterior_var")]).to_csv(path)
    with pytest.raises(InputError, match="missing column.*paw_l y_posterior_var"):
        read_pose(path, fps=30)
    df.loc[1, ("heatmap_tracker", "jaw_tip", "x_ens_var")] = -1.0
    df.to_csv(path)
    with pytest.raises(InputError, match="negative ensemble variance"):
        read_pose(path, fps=30)


def test_dlc_and_lightning_pose_are_told_apart(tmp_path):
    dlc = write_lp(tmp_path / "dlc.csv", scorer="DLC_resnet50_openfieldOct30shuffle1_1030000")
    assert looks_like_lightning_pose(dlc) is None and detect_format(dlc) == "dlc"
    as_dlc = read_pose(dlc, fps=30)
    assert as_dlc.source_software == "DeepLabCut" and "format: lightning_pose" in as_dlc.reading["format_chosen"]
    as_lp = read_pose(dlc, fps=30, fmt="lightning_pose")
    assert as_lp.reading["format_chosen"] == "given (fmt)"
    np.testing.assert_array_equal(as_lp.positions, as_dlc.positions)
    eks = write_lp(tmp_path / "renamed.csv", EKS, scorer="my_lab")
    assert detect_format(eks) == "lightning_pose"
    with pytest.raises(InputError, match="Lightning Pose / eks columns: read it with format lightning_pose"):
        read_pose(eks, fmt="dlc", fps=30)
