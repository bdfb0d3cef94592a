"""Motion energy of ROIs: exact values on a synthetic moving block, agreement with numpy on real videos, SVD."""

import cv2
import numpy as np
import pytest

from pipeline.errors import InputError
from pipeline.motion import check_roi, check_roi_set, motion_energy, motion_svd, roi_mask

W, H, BLOCK = 64, 48, 10
# top-left corner of a 10 x 10 block (grey 200 on grey 10), per frame: moves 0, 3, 5, 0, 20 (no overlap), (-2, +2)
POSITIONS = [(5, 10), (5, 10), (8, 10), (13, 10), (13, 10), (33, 10), (31, 12)]


def write_block_video(path, positions, *, width=W, height=H, block=BLOCK):
    """A lossless (FFV1) video of a grey block on a grey background; R = G = B, so grey is exact."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 30, (width, height))
    assert writer.isOpened()
    for x, y in positions:
        frame = np.full((height, width, 3), 10, np.uint8)
        frame[y:y + block, x:x + block] = 200
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def block_video(tmp_path):
    return write_block_video(tmp_path / "block.avi", POSITIONS)


def _masks(rois):
    return {r["roi"]: roi_mask(r, width=W, height=H) for r in rois}


def test_exact_motion_energy_of_a_moving_block(block_video, tmp_path):
    mask_png = np.zeros((H, W), np.uint8)
    mask_png[:, :18] = 255
    cv2.imwrite(str(tmp_path / "left.png"), mask_png)
    rois = check_roi_set([{"roi": "all", "rectangle": [0, 0, W, H]},
                          {"roi": "left", "rectangle": [0, 0, 18, H]},
                          {"roi": "left_poly", "polygon": [[0, 0], [17, 0], [17, 47], [0, 47]]},
                          {"roi": "left_mask", "mask": "left.png"}], source="test", base=tmp_path)
    me = motion_energy(block_video, _masks(rois))
    assert me.n_frames == len(POSITIONS) and me.rois == ["all", "left", "left_poly", "left_mask"]
    assert me.pixels == [W * H, 18 * H, 18 * H, 18 * H]
    assert np.isnan(me.energy[0]).all()  # frame 0 has no previous frame: NaN, not 0
    # each changed pixel differs by 190; a shift (dx, dy) of the 10 x 10 block changes 2 * (100 - overlap) pixels
    assert me.energy[1:, 0].tolist() == [0, 190 * 60, 190 * 100, 0, 190 * 200, 190 * 72]
    # columns 0..17: frame 3 keeps 5 of the 10 changed columns (8..12), frame 5 the old block's 13..17, frame 6 none
    assert me.energy[1:, 1].tolist() == [0, 190 * 60, 190 * 50, 0, 190 * 50, 0]
    assert np.array_equal(me.energy[:, 1], me.energy[:, 2], equal_nan=True)
    assert np.array_equal(me.energy[:, 1], me.energy[:, 3], equal_nan=True)
    mean = motion_energy(block_video, _masks(rois[:2]), reduce="mean")
    assert mean.energy[2].tolist() == [190 * 60 / (W * H), 190 * 60 / (18 * H)]


def test_downsampling_averages_blocks_before_the_difference(tmp_path):
    video = write_block_video(tmp_path / "even.avi", [(4, 10), (8, 10), (8, 10)])
    me = motion_energy(video, _masks([check_roi({"roi": "all", "rectangle": [0, 0, W, H]}, source="t")]),
                       downsample=2)
    # at half resolution the block is 5 x 5 and moves 2 pixels: 2 * 2 * 5 pixels change by 190
    assert me.energy[1:, 0].tolist() == [190 * 20, 0] and me.pixels == [W * H // 4]


def test_stop_decodes_only_the_first_frames(block_video):
    me = motion_energy(block_video, _masks([check_roi({"roi": "a", "rectangle": [0, 0, 8, 8]}, source="t")]), stop=3)
    assert me.n_frames == 3 and me.container_frames == len(POSITIONS)


def _grey(frame):
    """ITU-R 601 luma rounded as OpenCV does, in numpy."""
    b, g, r = (frame[..., k].astype(np.int64) for k in range(3))
    return ((r * 4899 + g * 9617 + b * 1868 + 8192) >> 14).astype(np.int16)


@pytest.mark.parametrize(("video", "n"), [("dlc_openfield/project/videos/m3v1mp4.mp4", 40),
                                          ("sleap_flies/clip.mp4", 12)])
def test_real_videos_agree_with_a_direct_numpy_computation(shared_data, tmp_path, video, n):
    path = shared_data / video
    cap = cv2.VideoCapture(str(path))
    frames = [cap.read()[1] for _ in range(n)]
    cap.release()
    height, width = frames[0].shape[:2]
    disc = np.zeros((height, width), np.uint8)
    cv2.circle(disc, (width // 2, height // 2), height // 5, 255, -1)
    cv2.imwrite(str(tmp_path / "disc.png"), disc)
    rois = check_roi_set([{"roi": "rect", "rectangle": [100, 50, 200, 150]},
                          {"roi": "tri", "polygon": [[20, 300], [300, 250], [150, 460]]},
                          {"roi": "disc", "mask": str(tmp_path / "disc.png")}], source="t")
    masks = {r["roi"]: roi_mask(r, width=width, height=height) for r in rois}
    me = motion_energy(path, masks, stop=n)
    grey = np.stack([_grey(f) for f in frames])
    motion = np.abs(np.diff(grey, axis=0))  # int16 differences
    expected = np.stack([motion[:, 50:200, 100:300].sum((1, 2)), motion[:, masks["tri"]].sum(1),
                         motion[:, disc != 0].sum(1)], axis=1)
    assert me.energy.shape == (n, 3) and np.isnan(me.energy[0]).all()
    assert np.array_equal(me.energy[1:], expected)
    assert (expected[:, 2] > 0).sum() >= n // 2  # the animals move: the check compares numbers, not zeros
    half = motion_energy(path, {"rect": masks["rect"]}, downsample=2, reduce="mean", stop=n)
    g = grey[:, 50:200, 100:300].astype(np.int64)
    blocks = ((g[:, 0::2, 0::2] + g[:, 1::2, 0::2] + g[:, 0::2, 1::2] + g[:, 1::2, 1::2] + 2) // 4)
    assert np.allclose(half.energy[1:, 0], np.abs(np.diff(blocks, axis=0)).mean((1, 2)), rtol=0, atol=1e-9)


def test_motion_svd_finds_the_motion_subspace(block_video):
    mask = roi_mask(check_roi({"roi": "a", "rectangle": [0, 0, W, H]}, source="t"), width=W, height=H)
    fast = motion_svd(block_video, mask, n_components=3, method="randomized")
    inc = motion_svd(block_video, mask, n_components=3, method="incremental", batch_frames=100)
    cap = cv2.VideoCapture(str(block_video))
    grey = np.stack([_grey(cap.read()[1]) for _ in POSITIONS]).reshape(len(POSITIONS), -1)
    x = np.abs(np.diff(grey, axis=0)).astype(float)
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    assert np.allclose(fast["singular_values"], s[:3], rtol=1e-4)
    assert np.allclose(inc["singular_values"], s[:3], rtol=1e-6)
    tail = motion_svd(block_video, mask, n_components=3, method="incremental", batch_frames=4)  # 4 + a short 2
    assert np.allclose(tail["singular_values"], s[:3], rtol=1e-6) and tail["projections"].shape == (7, 3)
    assert np.allclose(fast["explained_variance_ratio"], s[:3] ** 2 / (s ** 2).sum(), rtol=1e-4)
    assert fast["components"].shape == (3, H, W) and fast["projections"].shape == (len(POSITIONS), 3)
    assert np.isnan(fast["projections"][0]).all()
    assert np.allclose(np.abs(fast["projections"][1:]), np.abs(inc["projections"][1:]), atol=1e-2 * s[0])


@pytest.mark.parametrize(("entry", "needle"), [
    ({"rectangle": [0, 0, 4, 4]}, "ROI name"),
    ({"roi": "a"}, "exactly one of"),
    ({"roi": "a", "rectangle": [0, 0, 4, 4], "polygon": [[0, 0], [1, 0], [0, 1]]}, "exactly one of"),
    ({"roi": "a", "rectangle": [0, 0, 0, 4]}, "width, height >= 1"),
    ({"roi": "a", "rectangle": [0, 0, 4.5, 4]}, "whole number"),
    ({"roi": "a", "polygon": [[0, 0], [5, 5]]}, "at least 3"),
    ({"roi": "a", "polygon": [[0, 0], [5, 5], [10, 10]]}, "no area"),
    ({"roi": "a", "polygon": [[0, 0], [5, "x"], [10, 0]]}, "at least 3"),
    ({"roi": "a", "mask": "nowhere.png"}, "not found"),
])
def test_malformed_rois_are_refused_naming_the_entry(entry, needle):
    with pytest.raises(InputError, match=needle) as err:
        check_roi(entry, source="m.yaml: sessions[0].recordings[0].rois[1]")
    assert "rois[1]" in str(err.value)


def test_rois_outside_the_frame_empty_masks_and_bad_parameters_are_refused(tmp_path, block_video):
    with pytest.raises(InputError, match="reaches outside the 64x48 frame"):
        roi_mask(check_roi({"roi": "a", "rectangle": [60, 0, 10, 10]}, source="t"), width=W, height=H, source="rec")
    with pytest.raises(InputError, match="vertices outside"):
        roi_mask(check_roi({"roi": "p", "polygon": [[0, 0], [70, 0], [0, 9]]}, source="t"), width=W, height=H)
    cv2.imwrite(str(tmp_path / "empty.png"), np.zeros((H, W), np.uint8))
    with pytest.raises(InputError, match="empty"):
        check_roi({"roi": "m", "mask": "empty.png"}, source="t", base=tmp_path)
    cv2.imwrite(str(tmp_path / "small.png"), np.ones((10, 10), np.uint8))
    small = check_roi({"roi": "m", "mask": "small.png"}, source="t", base=tmp_path)
    with pytest.raises(InputError, match="is 10x10, not the 64x48 frame"):
        roi_mask(small, width=W, height=H)
    with pytest.raises(InputError, match="used twice"):
        check_roi_set([{"roi": "a", "rectangle": [0, 0, 2, 2]}, {"roi": "a", "rectangle": [1, 1, 2, 2]}], source="t")
    mask = np.ones((H, W), bool)
    with pytest.raises(InputError, match="downsample"):
        motion_energy(block_video, {"a": mask}, downsample=0)
    with pytest.raises(InputError, match="reduce"):
        motion_energy(block_video, {"a": mask}, reduce="max")
    with pytest.raises(InputError, match="do not match"):
        motion_energy(block_video, {"a": np.ones((10, 10), bool)})
    with pytest.raises(InputError, match="not found"):
        motion_energy(tmp_path / "none.mp4", {"a": mask})


def _roi_manifest(rois, video="anipose_minimal_session/top/minimal_top.mp4"):
    recording = {"camera": "top", "rois": rois, **({"video": video} if video else {"fps": 30})}
    return {"subjects": [{"subject": "m1", "sex": "F", "age_group": "young"}],
            "sessions": [{"session": "s1", "datetime": "2026-03-01 10:00:00", "animals": [{"subject": "m1"}],
                          "recordings": [recording]}]}


def test_manifest_rois_become_plan_rows(shared_data, tmp_path):
    from pipeline.manifest import plan_manifest

    mask = np.zeros((1024, 1280), np.uint8)
    mask[10:20, 30:50] = 1
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    rois = {"face": [{"roi": "eye", "rectangle": [0, 0, 1280, 1024]}, {"roi": "m", "mask": str(tmp_path / "m.png")}]}
    plan = plan_manifest(_roi_manifest(rois), base=shared_data, roots=[shared_data, tmp_path])
    assert [r["roi_set_name"] for r in plan.roi_sets] == ["face"] and plan.roi_sets[0]["n_rois"] == 2
    assert plan.recording_roi_sets == [{"session": "s1", "camera": "top", "roi_set_name": "face",
                                        "roi_set": plan.roi_sets[0]["roi_set"]}]
    assert [p["spec"].get("mask") for p in plan.roi_parts] == [None, "m.png"]  # relative to its data root
    assert [p["motion_params_name"] for p in plan.motion_param_sets] == ["default"]
    again = plan_manifest(_roi_manifest(rois), base=shared_data, roots=[shared_data, tmp_path])
    assert again.roi_sets == plan.roi_sets  # content-hashed: the same ROIs are the same set


@pytest.mark.parametrize(("rois", "video", "needle"), [
    ([{"roi": "a", "rectangle": [1200, 0, 100, 10]}], True, "reaches outside the 1280x1024 frame"),
    ([{"roi": "a", "polygon": [[0, 0], [10, 10]]}], True, "at least 3"),
    ([{"roi": "a", "rectangle": [0, 0, 10, 10]}], False, "need the recording's video"),
    ("face", True, "non-empty list"),
])
def test_bad_manifest_rois_name_the_entry(shared_data, rois, video, needle):
    from pipeline.manifest import plan_manifest

    data = _roi_manifest(rois, None if not video else "anipose_minimal_session/top/minimal_top.mp4")
    with pytest.raises(InputError, match=needle) as err:
        plan_manifest(data, base=shared_data, roots=[shared_data])
    assert "sessions[0].recordings[0].rois" in str(err.value)
