"""sleap-nn adapter on the shipped tiny models and clips (CPU, short runs)."""

import numpy as np
import pytest
import sleap_io as sio  # noqa: E402
import sleap_nn  # noqa: E402,F401  (the test command installs the engines: missing = failure, not a skip)

from pipeline.errors import InputError  # noqa: E402
from pipeline.inference.frames import select_frames_kmeans, write_sleap_package  # noqa: E402
from pipeline.inference.sleap import (  # noqa: E402
    evaluate_sleap,
    load_training_config,
    model_checksum,
    model_info,
    predict_sleap,
    train_sleap,
)


@pytest.fixture(scope="module")
def models(shared_data):
    root = shared_data / "sleap_nn_models"
    names = ("centroid", "centered_instance", "bottomup", "single_instance")
    return {n: root / f"minimal_instance_{n}" for n in names} | {"data": root / "datasets"}


@pytest.fixture(scope="module")
def topdown(models):
    return [models["centroid"], models["centered_instance"]]


def test_model_info_and_checksum(models, topdown):
    info = model_info(models["centered_instance"])
    assert info["model_type"] == "centered_instance" and info["nodes"] == ["A", "B"]
    assert info["edges"] == [("A", "B")] and info["in_channels"] == 1
    assert model_info(models["single_instance"])["scale"] == 0.5
    checksum = model_checksum(topdown)
    assert len(checksum) == 64 and checksum == model_checksum(topdown[::-1])
    assert checksum != model_checksum(models["bottomup"])


def test_topdown_predicts_two_flies(models, topdown):
    p = predict_sleap(topdown, models["data"] / "centered_pair_small.mp4", frames=range(20))
    pose = p.pose
    print(f"\ntop-down: 20 frames in {p.seconds:.2f} s = {p.frames_per_second:.1f} frames/s on {p.device}")
    assert p.frame_indices.tolist() == list(range(20))
    assert pose.positions.shape == (20, 2, 2, 2) and pose.keypoints == ("A", "B")
    assert pose.individuals == ("instance_0", "instance_1") and pose.fps == 15.0
    assert pose.edges == (("A", "B"),) and pose.source_software == "SLEAP"
    found = np.isfinite(pose.positions).all(-1).all(-1).sum(1)
    assert (found == 2).mean() >= 0.8
    assert np.nanmin(pose.confidence) >= 0 and np.nanmax(pose.positions) < 384


def test_bottomup_and_tracking(models):
    video = models["data"] / "centered_pair_small.mp4"
    p = predict_sleap(models["bottomup"], video, frames=range(20))
    print(f"\nbottom-up: {p.frames_per_second:.1f} frames/s")
    assert p.pose.positions.shape[0] == 20 and 1 <= p.pose.n_individuals <= 3
    assert np.isfinite(p.pose.positions[:, 0]).all(-1).any(-1).mean() >= 0.8
    t = predict_sleap(models["bottomup"], video, frames=slice(0, 10), tracking=True, max_tracks=2)
    print(f"tracked: {t.pose.individuals}")
    assert 1 <= len(t.pose.individuals) <= 2 and all(n.startswith("track_") for n in t.pose.individuals)


def test_single_instance_on_robot(models):
    # the single-instance model was trained on small_robot_minimal.slp (RGB, scale 0.5), not on flies
    p = predict_sleap(models["single_instance"], models["data"] / "small_robot.mp4", frames=[0, 5, 10, 79])
    print(f"\nsingle-instance: {p.frames_per_second:.1f} frames/s, fps {p.pose.fps}")
    assert p.pose.positions.shape == (4, 1, 2, 2) and p.pose.fps == pytest.approx(30.0)
    truth = sio.load_slp(str(models["data"] / "small_robot_minimal.slp"))
    labelled = {lf.frame_idx: lf.user_instances[0].numpy() for lf in truth}
    err = np.linalg.norm(p.pose.positions[3, 0] - labelled[79], axis=-1)
    print(f"robot frame 79 error: {err.round(1)} px")
    assert np.isfinite(p.pose.positions).all()


def test_evaluate_topdown_on_labels(models, topdown):
    m = evaluate_sleap(topdown, models["data"] / "minimal_instance.pkg.slp")
    print(f"\nevaluate: median {m['median_px']:.2f} px, mean {m['mean_px']:.2f} px, "
          f"PCK {m['pck']}, OKS mAP {m['oks_map']:.3f}")
    assert m["n_points"] == 4 and m["n_matched"] == 2
    assert np.isfinite([m["mean_px"], m["median_px"], m["oks_map"]]).all() and m["median_px"] < 10
    assert set(m["per_keypoint"]) == {"A", "B"}


def test_train_then_predict(models, tmp_path):
    config = load_training_config(models["centered_instance"])
    config["trainer_config"].update(train_steps_per_epoch=5, min_train_steps_per_epoch=5)
    out = tmp_path / "trained"
    result = train_sleap(models["data"] / "minimal_instance.pkg.slp", config, out, epochs=2)
    print(f"\ntraining: {result.duration_s:.1f} s, curve {result.curve}")
    assert (out / "best.ckpt").is_file() and (out / "training_config.yaml").is_file()
    assert [c["epoch"] for c in result.curve] == [0, 1] and result.best_epoch in (0, 1)
    assert all(np.isfinite(c["train_loss"]) and np.isfinite(c["val_loss"]) for c in result.curve)
    assert result.config["trainer_config"]["max_epochs"] == 2 and result.device == "cpu"
    p = predict_sleap([models["centroid"], out], models["data"] / "centered_pair_small.mp4", frames=range(5))
    assert p.pose.positions.shape[:1] == (5,) and p.pose.keypoints == ("A", "B")
    with pytest.raises(InputError, match="not empty"):
        train_sleap(models["data"] / "minimal_instance.pkg.slp", config, out)


def test_kmeans_selection_and_package(models, tmp_path):
    video = models["data"] / "centered_pair_small.mp4"
    picked = select_frames_kmeans(video, n_frames=5, stride=25)
    assert len(set(picked.tolist())) == 5 and (picked % 25 == 0).all()
    assert (picked == select_frames_kmeans(video, n_frames=5, stride=25)).all()
    path = write_sleap_package(video, picked, tmp_path / "label_me.pkg.slp", skeleton_nodes=["A", "B"],
                               skeleton_edges=[("A", "B")])
    labels = sio.load_slp(str(path))
    assert [lf.frame_idx for lf in labels] == picked.tolist()
    assert [s.frame_idx for s in labels.suggestions] == picked.tolist()
    assert labels.skeletons[0].node_names == ["A", "B"] and labels[0].image.shape == (384, 384, 1)


def test_bad_input_names_the_file(models, topdown, tmp_path):
    missing = tmp_path / "no_such_model"
    with pytest.raises(InputError, match="no_such_model"):
        predict_sleap([models["centroid"], missing], models["data"] / "centered_pair_small.mp4")
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    with pytest.raises(InputError, match="fake.mp4"):
        predict_sleap(topdown, fake, frames=range(2))
    with pytest.raises(InputError, match="fake.mp4"):
        select_frames_kmeans(fake, n_frames=2)
    with pytest.raises(InputError, match="centered_pair_small"):
        predict_sleap(topdown, models["data"] / "centered_pair_small.mp4", frames=[5000])


def test_held_out_evaluation_uses_the_training_split(models, tmp_path):
    """A model trained here is scored on the frames its training held out; the train frames are reported apart."""
    from pipeline.inference.engines import evaluate
    from pipeline.inference.sleap_train import training_split

    labels = models["data"] / "small_robot_minimal.slp"            # 2 labelled frames: 0 and 79
    config = load_training_config(models["single_instance"])
    config["trainer_config"].update(train_steps_per_epoch=2, min_train_steps_per_epoch=2)
    out = tmp_path / "robot"
    train_sleap(labels, config, out, epochs=1, val_fraction=0.5)
    split = training_split(out)
    assert sorted(split["train"] + split["val"]) == [0, 79] and len(split["val"]) == 1
    held = evaluate("sleap", [out], labels, held_out=True)
    assert held["split"] == "held-out" and held["frame_indices"] == split["val"]
    assert held["train"]["frame_indices"] == split["train"]
    every = evaluate("sleap", [out], labels)
    assert every["split"] == "all" and every["frame_indices"] == [0, 79]
    print(f"\nheld-out frame {split['val']}: {held['mean_px']:.1f} px; train frame {split['train']}: "
          f"{held['train']['mean_px']:.1f} px")
    # a shipped model folder records no split: all frames are scored, and the result says why
    shipped = evaluate("sleap", [models["single_instance"]], models["data"] / "minimal_instance.pkg.slp",
                       held_out=True)
    assert training_split(models["single_instance"]) is None
    assert shipped["split"] == "all" and "no training split" in shipped["split_note"]
