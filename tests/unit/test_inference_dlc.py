"""DeepLabCut 3 (PyTorch) on the real openfield project: copy, train, evaluate, predict.

One 1-epoch resnet18 from random weights on a half-size copy (116 labelled
frames -> 110 train / 6 test) is trained once for the module; every socket
connection is refused and recorded while it runs, and the weight caches
(torch hub, HuggingFace, DLC's pretrained folders) must not change.  A
1-epoch random model is inaccurate: only sanity of the numbers is asserted.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import deeplabcut  # noqa: E402,F401  (the test command installs the engines: missing = failure, not a skip)
import numpy as np
import pytest

from pipeline.errors import InputError  # noqa: E402
from pipeline.inference import dlc  # noqa: E402

PROJECT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dlc_openfield" / "project"
VIDEO = PROJECT / "videos" / "m3v1mp4.mp4"
BODYPARTS = ("snout", "leftear", "rightear", "tailbase")
TIMINGS: dict[str, float] = {}


def _weight_caches() -> dict[str, list[str]]:
    """Every file under the folders a pretrained-weight download would write to."""
    import huggingface_hub.constants as hf
    import torch

    dlc_root = Path(deeplabcut.__file__).parent
    roots = [Path(torch.hub.get_dir()), Path(hf.HF_HUB_CACHE),
             dlc_root / "pose_estimation_pytorch" / "models" / "backbones" / "pretrained_weights",
             dlc_root / "modelzoo" / "checkpoints"]
    return {str(r): sorted(str(p) for p in r.rglob("*")) if r.exists() else [] for r in roots}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Half-size working copy trained for 1 epoch with the network cut off."""
    if not PROJECT.is_dir():
        pytest.fail(f"real DLC project {PROJECT} is missing")
    attempts = []

    def refuse(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError(f"network access attempted: {address}")
        return real_connect(self, address, *args)

    real_connect = socket.socket.connect
    caches = _weight_caches()
    source_files = sorted(p for p in PROJECT.rglob("*"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        start = time.perf_counter()
        config = dlc.copy_project(PROJECT, tmp_path_factory.mktemp("dlc") / "openfield", downscale=0.5)
        TIMINGS["copy_s"] = time.perf_counter() - start
        result = dlc.train_dlc(config, epochs=1, net_type="resnet_18", batch_size=8, device="cpu", seed=0)
        TIMINGS["train_s"] = result.duration_s
        yield {"config": config, "result": result, "attempts": attempts, "caches": caches}
    assert sorted(p for p in PROJECT.rglob("*")) == source_files, "the source project was written to"
    print("\nDLC timings:", {k: round(v, 2) for k, v in TIMINGS.items()})


def test_import_needs_no_deeplabcut_or_torch():
    code = ("import sys, pipeline.inference.dlc; "
            "assert not {'torch', 'deeplabcut'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_copy_project_scales_labels(trained):
    import cv2
    import yaml

    config = trained["config"]
    cfg = yaml.safe_load(config.read_text())
    assert Path(cfg["project_path"]) == config.parent
    original, copy = dlc.read_labels(PROJECT), dlc.read_labels(config.parent)
    assert original["bodyparts"] == copy["bodyparts"] == BODYPARTS
    assert original["n_frames"] == copy["n_frames"] == 116
    assert original["positions"].shape == (116, 1, 4, 2)
    np.testing.assert_allclose(copy["positions"], original["positions"] * 0.5)
    img = cv2.imread(str(config.parent / copy["images"][0]))
    assert img.shape[:2] == (240, 320)
    assert dlc.check_bodyparts(copy["bodyparts"], BODYPARTS, source=config) == BODYPARTS


def test_train_random_init_offline(trained):
    res = trained["result"]
    print(f"\ntraining: {res.duration_s:.1f} s, curve {res.curve}")
    assert trained["attempts"] == [], f"network access attempted: {trained['attempts']}"
    assert _weight_caches() == trained["caches"], "something was fetched into a weight cache"
    assert res.model_dir.name == "train" and "dlc-models-pytorch" in res.model_dir.parts
    assert len(res.curve) == 1 and res.curve[0]["epoch"] == 1 == res.best_epoch == res.last_epoch
    assert np.isfinite(res.curve[0]["train_loss"]) and np.isfinite(res.curve[0]["val_loss"])
    assert res.snapshots and all(p.is_file() for p in res.snapshots)
    assert (res.model_dir / "random-init-seed0.pt").is_file()
    backbone = res.config["model"]["backbone"]
    assert backbone["model_name"] == "resnet18" and backbone["pretrained"] is False
    assert res.device == "cpu" and res.duration_s > 0
    checksum = dlc.model_checksum(res.model_dir)
    assert len(checksum) == 64 and checksum == dlc.model_checksum(res.model_dir)


def test_evaluate_train_and_test_split(trained):
    start = time.perf_counter()
    ev = dlc.evaluate_dlc(trained["config"], device="cpu")
    TIMINGS["evaluate_s"] = time.perf_counter() - start
    assert ev["train"]["n_frames"] + ev["test"]["n_frames"] == 116 and ev["test"]["n_frames"] >= 1
    for split in ("train", "test"):
        m = ev[split]
        print(f"\n{split}: mean {m['mean_px']:.1f} px, median {m['median_px']:.1f} px, "
              f"PCK {m['pck']}, OKS mAP {m['oks_map']:.3f}")
        assert np.isfinite(m["mean_px"]) and m["mean_px"] > 0 and np.isfinite(m["median_px"])
        assert all(0 <= v <= 1 for v in m["pck"].values())
        assert 0 <= m["oks_map"] <= 1
        assert set(m["per_keypoint"]) == set(BODYPARTS)
    print("DLC's own evaluation:", ev["dlc"])
    # DLC's RMSE is in the half-size copy's pixels, ours in the original's
    assert ev["dlc"]["train rmse"] * 2 == pytest.approx(ev["train"]["mean_px"], rel=0.01)
    assert trained["attempts"] == []


def test_predict_video_frames(trained):
    frames = range(100, 125)
    start = time.perf_counter()
    pred = dlc.predict_dlc(trained["config"], VIDEO, frames=frames, device="cpu", batch_size=8)
    TIMINGS["predict_s"] = time.perf_counter() - start
    TIMINGS["predict_fps"] = 25 / pred.seconds
    print(f"\npredict: 25 frames in {pred.seconds:.2f} s ({25 / pred.seconds:.1f} frames/s incl. model load)")
    pose = pred.pose
    assert pose.keypoints == BODYPARTS and pose.n_frames == 25 and pose.n_individuals == 1
    np.testing.assert_array_equal(pred.frame_indices, np.arange(100, 125))
    assert np.isfinite(pose.confidence).all() and ((pose.confidence >= 0) & (pose.confidence <= 1)).all()
    xy = pose.positions[np.isfinite(pose.positions[..., 0])]
    assert ((xy >= -1) & (xy <= [641, 481])).all(), "positions must be in the full-size video's pixels"
    assert pose.source_software == "DeepLabCut" and pose.fps == pytest.approx(30, abs=0.1)
    assert pred.device == "cpu" and trained["attempts"] == []
    with pytest.raises(InputError, match="m3v1mp4.mp4"):
        dlc.predict_dlc(trained["config"], VIDEO, frames=[10**7])


def test_bad_labels_raise_input_error(tmp_path):
    folder = tmp_path / "labeled-data" / "m4s1"
    folder.mkdir(parents=True)
    with pytest.raises(InputError, match=r"m4s1/CollectedData_<scorer>\.h5: missing"):
        dlc.read_labels(tmp_path)
    with pytest.raises(InputError, match="labeled-data: no labelled-frame folders"):
        dlc.read_labels(tmp_path / "nowhere")
    bad = folder / "CollectedData_x.csv"
    bad.write_text("not,a\ndlc,table\n")
    with pytest.raises(InputError, match="CollectedData_x.csv"):
        dlc.read_labels(tmp_path)
    with pytest.raises(InputError, match="not in skeleton"):
        dlc.check_bodyparts(["snout", "tail"], BODYPARTS, source="cfg.yaml")
    with pytest.raises(InputError, match=r"config\.yaml"):
        dlc.copy_project(tmp_path / "none", tmp_path / "w")
