"""Our SLEAP reader against sleap-io's ``Labels.numpy``: equal on the real files, and the
documented cases (``pipeline/io/sleap.py`` docstring) where it differs, so ours is kept.

(The calibration TOML counterpart, against aniposelib, is in ``test_calibration.py``.)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from pipeline.io.sleap import read_sleap

REAL_SLP = ["sleap_flies/clip.slp", "sleap_flies/clip.predictions.slp", "sleap_flies/centered_pair_predictions.slp",
            "anipose_minimal_session/back/minimal_back_proofread.slp"]


def _numpy(path: Path, **kwargs) -> np.ndarray:
    import sleap_io as sio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sio.load_slp(str(path), open_videos=False, **kwargs).numpy(return_confidence=True)


@pytest.mark.parametrize("rel", REAL_SLP)
def test_labels_numpy_equals_ours_on_real_files(shared_data, rel):
    import sleap_io as sio

    path = shared_data / rel
    pose, ref = read_sleap(path), _numpy(path)
    assert pose.frame_offset == 0 and ref.shape[:3] == pose.positions.shape[:3]
    assert pose.individuals == tuple(t.name for t in sio.load_slp(str(path), open_videos=False).tracks)
    assert np.array_equal(np.isnan(ref[..., :2]), np.isnan(pose.positions))
    np.testing.assert_array_equal(pose.positions, ref[..., :2])  # exact: these values are float32-exact
    scored = ~np.isnan(pose.confidence)
    np.testing.assert_array_equal(pose.confidence[scored], ref[..., 2][scored])
    # user-labelled (proofread) points: NaN here, 1.0 there
    proofread = np.isnan(pose.confidence) & ~np.isnan(pose.positions[..., 0])
    assert proofread.any() == (rel == "sleap_flies/clip.slp")
    assert (ref[..., 2][proofread] == 1.0).all()


def _slp(path: Path, frames: dict[int, list]) -> Path:
    """frames: video index -> instances as (user?, track name or None, x, from_predicted index or None)."""
    import sleap_io as sio

    skeleton = sio.Skeleton(["a", "b"])
    video = sio.Video(filename="missing.mp4", open_backend=False)
    tracks = {name: sio.Track(name) for name in ("A", "B")}
    lfs = []
    for t, insts in frames.items():
        objs = []
        for user, name, x, source in insts:
            xy = np.array([[x, x + 1.0], [x + 2.0, x + 3.0]])
            if user:
                objs.append(sio.Instance.from_numpy(xy, skeleton, track=tracks.get(name),
                                                    from_predicted=None if source is None else objs[source]))
            else:
                objs.append(sio.PredictedInstance.from_numpy(xy, skeleton, point_scores=np.array([0.9, 0.8]),
                                                             score=1.0, track=tracks.get(name)))
        lfs.append(sio.LabeledFrame(video=video, frame_idx=t, instances=objs))
    sio.save_slp(sio.Labels(labeled_frames=lfs, videos=[video], skeletons=[skeleton], tracks=list(tracks.values())),
                 str(path))
    return path


def test_labels_numpy_differs_on_sparse_frames(tmp_path):
    path = _slp(tmp_path / "sparse.slp", {25000: [(False, "A", 1.0, None), (False, "B", 5.0, None)],
                                          25002: [(False, "B", 2.0, None)]})
    pose = read_sleap(path)
    assert (pose.frame_offset, pose.n_frames, pose.reading["labelled_frames"]) == (25000, 3, 2)
    ref, lazy = _numpy(path), _numpy(path, lazy=True)
    assert ref.shape[0] == 25003 and np.isnan(ref[:25000]).all()  # padded from frame 0, no offset
    assert lazy.shape[0] == 3  # lazy loading does not pad: the two modes disagree
    np.testing.assert_array_equal(ref[25000:, ..., :2], pose.positions)
    np.testing.assert_array_equal(lazy[..., :2], pose.positions)


def test_labels_numpy_differs_on_untracked_and_single_instances(tmp_path):
    path = _slp(tmp_path / "untracked.slp", {0: [(False, "A", 1.0, None), (False, None, 9.0, None)],
                                             1: [(False, "B", 2.0, None), (False, "A", 3.0, None)]})
    pose = read_sleap(path)
    assert pose.individuals == ("A", "B", "untracked_0")
    np.testing.assert_array_equal(pose.positions[:, :, 0, 0], [[1.0, np.nan, 9.0], [3.0, 2.0, np.nan]])
    np.testing.assert_array_equal(_numpy(path)[:, :, 0, 0], [[1.0, np.nan], [3.0, 2.0]])  # untracked dropped
    import sleap_io as sio

    anyorder = sio.load_slp(str(path), open_videos=False).numpy(untracked=True)
    np.testing.assert_array_equal(anyorder[:, :, 0, 0], [[1.0, 9.0], [2.0, 3.0]])  # frame order, not track
    # one instance per frame on alternating tracks: Labels.numpy merges the tracks into one column
    path = _slp(tmp_path / "single.slp", {0: [(False, "A", 1.0, None)], 1: [(False, "B", 2.0, None)]})
    np.testing.assert_array_equal(read_sleap(path).positions[:, :, 0, 0], [[1.0, np.nan], [np.nan, 2.0]])
    np.testing.assert_array_equal(_numpy(path)[:, :, 0, 0], [[1.0], [2.0]])


def test_labels_numpy_differs_on_user_instances(tmp_path):
    # a user instance on B made from the prediction on A; B's own prediction is overridden by both
    path = _slp(tmp_path / "user.slp", {0: [(False, "A", 1.0, None), (False, "B", 50.0, None), (True, "B", 100.1, 0)]})
    pose, ref = read_sleap(path), _numpy(path)
    np.testing.assert_array_equal(pose.positions[0, :, 0, 0], [np.nan, 100.1])  # its source is dropped here
    assert ref[0, 0, 0, 0] == 1.0  # and kept there
    assert np.isnan(pose.confidence[0, 1]).all() and (ref[0, 1, :, 2] == 1.0).all()
    assert ref.dtype == np.float32 and float(ref[0, 1, 0, 0]) != 100.1  # rounded to float32
    assert float(ref[0, 1, 0, 0]) == pytest.approx(100.1, abs=1e-5)
