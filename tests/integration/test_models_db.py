"""Pose models through the database: real SLEAP inference, training and evaluation on CPU."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.integration.test_ingest import write_manifest

pytestmark = pytest.mark.integration

MODELS = "sleap_nn_models"


@pytest.fixture
def flies_video(clean, shared_data, tmp_path):
    """A session of two flies with its real video (1100 frames, 384x384, 15 fps)."""
    from schemas import pose
    from schemas.ingest import ingest

    ingest(write_manifest(tmp_path, {
        "subjects": [{"subject": "fly1", "sex": "F", "age_group": "adult"},
                     {"subject": "fly2", "sex": "M", "age_group": "adult"}],
        "sessions": [{"session": "pair", "datetime": "2026-04-02 10:00:00",
                      "animals": [{"subject": "fly1"}, {"subject": "fly2"}],
                      "recordings": [{"camera": "top",
                                      "video": str(shared_data / MODELS / "datasets/centered_pair_small.mp4")}]}]}))
    pose.Skeleton.insert1({"skeleton": "flyAB", "keypoints": ["A", "B"], "edges": [["A", "B"]]})
    return shared_data / MODELS


def test_top_down_inference_runs_in_a_pose_worker(flies_video, db):
    """A trigger task is taken by `ethojoint worker --stage pose` (a real subprocess) and stored like a loaded file."""
    from schemas import models, pose

    models.PoseModel.import_model("flies_topdown", "sleap", [flies_video / "minimal_instance_centroid",
                                                             flies_video / "minimal_instance_centered_instance"],
                                  skeleton="flyAB")
    key = models.add_inference({"session": "pair"}, "top", "flies_topdown", frame_stop=20, max_tracks=2,
                               tracks={"track_0": "fly1", "track_1": "fly2"})
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-m", "workers.cli", "worker", "--stage", "pose", "--once", "--poll", "1"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    done = [e for e in logs if e.get("status") == "success" and e.get("table", "").endswith("PoseEstimation")]
    assert len(done) == 1 and done[0]["frames"] == 20 and done[0]["frames_per_s"] > 0
    row = (pose.PoseEstimation & key).fetch1()
    positions = np.asarray(row["positions"])
    assert positions.shape == (20, 2, 2, 2) and row["keypoints"] == ["A", "B"]
    assert np.isfinite(positions).mean() > 0.9  # two flies found in (nearly) every frame
    assert row["provenance"]["params"]["engine"] == "sleap"
    assert row["provenance"]["params"]["weights_sha256"] == (models.PoseModel & {"pose_model": "flies_topdown"}).fetch1(
        "weights_sha256")
    assert {r["subject"] for r in (pose.PoseEstimation.Individual & key).to_dicts()} == {"fly1", "fly2"}
    print(f"\ntop-down inference in a worker: {done[0]['frames_per_s']:.1f} frames/s on {done[0].get('device')}")


def test_train_evaluate_and_run_a_sleap_model(flies_video):
    from pipeline.inference.sleap import load_training_config
    from schemas import models, pose

    labels = models.LabeledFrameSet.add("minimal", flies_video / "datasets/minimal_instance.pkg.slp", engine="sleap",
                                        skeleton="flyAB")
    config = load_training_config(flies_video / "minimal_instance_bottomup")
    config["trainer_config"].update(train_steps_per_epoch=5, min_train_steps_per_epoch=5)
    params = models.TrainingParamSet.add("bottomup-tiny", "sleap", dict(config, epochs=2))
    models.TrainingTask.insert1(dict(labels, **params))
    models.ModelTraining.populate(suppress_errors=False)
    trained = (models.ModelTraining & labels).fetch1()
    assert len(trained["curve"]) == 2 and trained["device"] == "cpu" and len(trained["weights_sha256"]) == 64
    assert trained["model"].exists()  # the model folder is in the store
    model = models.PoseModel.from_training("bottomup-trained", dict(labels, **params))

    models.EvaluationTask.insert1(dict(model, **labels))
    models.ModelEvaluation.populate(suppress_errors=False)
    ev = (models.ModelEvaluation & model).fetch1()
    assert ev["n_frames"] >= 1 and set(ev["pck"]) == {"2.0", "5.0", "10.0"} and set(ev["per_keypoint"]) == {"A", "B"}
    # trained on these labels, but one labelled frame leaves nothing held out: all frames, and a note why
    assert ev["split"] == "all" and "no held-out frame" in ev["metrics"]["split_note"]
    assert ev["provenance"]["params"]["held_out"] is True
    print(f"\n2-epoch bottom-up model on its labels: median {ev['median_px']} px, PCK {ev['pck']}, "
          f"OKS mAP {ev['oks_map']}")

    key = models.add_inference({"session": "pair"}, "top", "bottomup-trained", frame_stop=5)
    pose.PoseEstimation.populate(key, suppress_errors=False)
    row = (pose.PoseEstimation & key).fetch1()
    assert row["n_frames"] == 5 and row["keypoints"] == ["A", "B"]
    assert (models.PoseModel & model).fetch1("weights_sha256") == trained["weights_sha256"]

    # the machine's model cache: the folder in use stays, one no training row uses goes
    from schemas.config import current
    from workers.cli import main
    cache = current().home / "models"
    in_use = cache / trained["weights_sha256"][:16]
    orphan = cache / "0123456789abcdef"
    orphan.mkdir(parents=True, exist_ok=True)
    (orphan / "best.ckpt").write_bytes(b"old weights")
    assert orphan not in models.prune_model_cache(dry_run=True)                  # used less than 24 h ago
    listed = models.prune_model_cache(min_age_hours=0, dry_run=True)
    assert orphan in listed and in_use not in listed and orphan.exists()
    assert main(["cache", "prune", "--min-age-hours", "0"]) == 0
    assert in_use.is_dir() and not orphan.exists()


def test_shipped_models_evaluate_on_their_labels(flies_video):
    from schemas import models

    labels = models.LabeledFrameSet.add("minimal", flies_video / "datasets/minimal_instance.pkg.slp", engine="sleap",
                                        skeleton="flyAB")
    model = models.PoseModel.import_model("topdown", "sleap", [flies_video / "minimal_instance_centroid",
                                                               flies_video / "minimal_instance_centered_instance"],
                                          skeleton="flyAB")
    models.EvaluationTask.insert1(dict(model, **labels))
    models.ModelEvaluation.populate(suppress_errors=False)
    ev = (models.ModelEvaluation & model).fetch1()
    assert ev["median_px"] < 3.0 and ev["pck"]["5.0"] == pytest.approx(1.0) and ev["oks_map"] > 0.5
    assert ev["split"] == "all" and ev["provenance"]["params"]["held_out"] is False   # imported: not its own labels


def test_bad_labels_and_models_are_refused(flies_video, tmp_path):
    from pipeline.errors import InputError
    from schemas import models, pose

    garbage = tmp_path / "broken.slp"
    garbage.write_bytes(b"not an hdf5 file")
    with pytest.raises(InputError, match="broken.slp"):
        models.LabeledFrameSet.add("broken", garbage, engine="sleap", skeleton="flyAB")
    pose.Skeleton.insert1({"skeleton": "other", "keypoints": ["head", "tail"], "edges": []})
    with pytest.raises(InputError, match=r"body part\(s\) \['A', 'B'\]"):
        models.LabeledFrameSet.add("wrong", flies_video / "datasets/minimal_instance.pkg.slp", engine="sleap",
                                   skeleton="other")
    with pytest.raises(InputError, match="not a SLEAP model folder"):
        models.PoseModel.import_model("nope", "sleap", [flies_video / "datasets"], skeleton="flyAB")
    with pytest.raises(InputError, match=r"body part\(s\) \['A', 'B'\]"):
        models.PoseModel.import_model("mismatch", "sleap", [flies_video / "minimal_instance_bottomup"],
                                      skeleton="other")
    assert len(models.LabeledFrameSet()) == 0 and len(models.PoseModel()) == 0


@pytest.mark.first_backend_only  # about 2 min of DLC on 2 cores; ModelTraining's table code runs on every backend
def test_deeplabcut_train_evaluate_and_run(clean, shared_data, tmp_path):
    """DLC 3 (PyTorch): 1 epoch from a random initialisation (no download), evaluation, inference on 20 frames."""
    from schemas import models, pose
    from schemas.ingest import ingest

    project = shared_data / "dlc_openfield/project"
    ingest(write_manifest(tmp_path, {
        "subjects": [{"subject": "m3", "sex": "M", "age_group": "adult"}],
        "sessions": [{"session": "openfield", "datetime": "2018-10-30 10:00:00", "animals": [{"subject": "m3"}],
                      "recordings": [{"camera": "top", "video": str(project / "videos/m3v1mp4.mp4")}]}]}))
    labels = models.LabeledFrameSet.add("openfield", project / "config.yaml", engine="deeplabcut")
    assert (models.LabeledFrameSet & labels).fetch1("n_frames") == 116
    params = models.TrainingParamSet.add("resnet18-1epoch", "deeplabcut",
                                         {"net_type": "resnet_18", "epochs": 1, "downscale": 0.5, "batch_size": 8})
    models.TrainingTask.insert1(dict(labels, **params))
    models.ModelTraining.populate(suppress_errors=False)
    trained = (models.ModelTraining & labels).fetch1()
    assert len(trained["curve"]) == 1 and trained["model_subpaths"] == ["config.yaml"]
    model = models.PoseModel.from_training("openfield-r18", dict(labels, **params))

    models.EvaluationTask.insert1(dict(model, **labels))
    models.ModelEvaluation.populate(suppress_errors=False)
    ev = (models.ModelEvaluation & model).fetch1()
    assert np.isfinite(ev["mean_px"]) and ev["mean_px"] > 0 and 0.0 <= ev["pck"]["10.0"] <= 1.0
    assert ev["metrics"]["train"]["n_frames"] > ev["n_frames"] > 0  # held-out split reported, train split kept
    assert ev["split"] == "held-out"
    print(f"\nDLC 1 epoch, random init: held-out mean error {ev['mean_px']:.1f} px over {ev['n_frames']} frames")

    key = models.add_inference({"session": "openfield"}, "top", "openfield-r18", frame_stop=20)
    pose.PoseEstimation.populate(key, suppress_errors=False)
    row = (pose.PoseEstimation & key).fetch1()
    assert row["n_frames"] == 20 and row["keypoints"] == ["snout", "leftear", "rightear", "tailbase"]
    assert np.isfinite(np.asarray(row["confidence"])).all()
    assert [r["subject"] for r in (pose.PoseEstimation.Individual & key).to_dicts()] == ["m3"]


def test_frame_extraction_writes_a_labelling_package(flies_video, tmp_path):
    import sleap_io as sio

    from schemas import labeling

    key = {"session": "pair", "camera": "top", "skeleton": "flyAB", "output": "sleap"}
    labeling.FrameExtractionTask.insert1(dict(key, n_frames=6, stride=20, downscale=0.25))
    labeling.FrameExtractionTask.insert1(dict(key, output="deeplabcut", n_frames=6, stride=20, downscale=0.25))
    labeling.FrameExtraction.populate(suppress_errors=False)
    row = (labeling.FrameExtraction & key).fetch1()
    frames = row["frame_indices"]
    assert len(set(frames)) == 6 and all(0 <= f < 1100 and f % 20 == 0 for f in frames)
    package = row["package"].download(tmp_path / "to_label.pkg.slp")  # a file object downloads to this path
    labels = sio.load_slp(str(package))
    assert list(labels.skeletons[0].node_names) == ["A", "B"]
    assert sorted(int(s.frame_idx) for s in labels.suggestions) == sorted(frames)
    dlc = (labeling.FrameExtraction & dict(key, output="deeplabcut")).fetch1()
    assert dlc["frame_indices"] == frames  # same clustering, other output
    folder = dlc["package"].download(tmp_path / "dlc")
    pngs = sorted(p.name for p in folder.rglob("*.png"))
    assert pngs == sorted(f"img{f:04d}.png" for f in frames)


def test_labeled_video_draws_the_tracked_skeletons(clean, shared_data, tmp_path):
    from pipeline.video import probe_video
    from schemas import labeling
    from schemas.ingest import ingest

    ingest(write_manifest(tmp_path, {
        "subjects": [{"subject": "fly1", "sex": "F", "age_group": "adult"}],
        "sessions": [{"session": "render", "datetime": "2026-04-03 10:00:00", "animals": [{"subject": "fly1"}],
                      "recordings": [{"camera": "top",
                                      "video": str(shared_data / MODELS / "datasets/centered_pair_small.mp4"),
                                      "pose": [{"source": "sleap", "file": str(
                                          shared_data / "sleap_flies/centered_pair_predictions.slp")}]}]}]}))
    key = {"session": "render", "camera": "top", "pose_source": "sleap"}
    labeling.LabeledVideoTask.insert1(dict(key, row_start=100, row_stop=115))
    labeling.LabeledVideo.populate(suppress_errors=False)
    row = (labeling.LabeledVideo & key).fetch1()
    mp4 = row["video"].download(tmp_path / "labeled.mp4")
    info = probe_video(mp4)
    assert row["n_frames"] == 15 and (info.n_frames, info.width, info.height) == (15, 384, 384)


def test_manifest_can_ask_for_a_model_run(clean, shared_data, tmp_path):
    """A pose entry naming a registered model becomes an inference task; ingest leaves it to the workers."""
    from pipeline.errors import InputError
    from schemas import models, pose
    from schemas.ingest import ingest

    data = shared_data / MODELS
    pose.Skeleton.insert1({"skeleton": "robot", "keypoints": ["A", "B"], "edges": [["A", "B"]]})
    models.PoseModel.import_model("robot_single", "sleap", [data / "minimal_instance_single_instance"],
                                  skeleton="robot")
    manifest = {
        "subjects": [{"subject": "robot1", "sex": "U", "age_group": "adult"}],
        "sessions": [{"session": "robot", "datetime": "2026-04-04 10:00:00", "animals": [{"subject": "robot1"}],
                      "recordings": [{"camera": "front", "video": str(data / "datasets/small_robot.mp4"),
                                      "pose": [{"model": "robot_single", "frames": [0, 4]}]}]}]}
    bad = {**manifest, "sessions": [{**manifest["sessions"][0], "recordings": [
        {"camera": "front", "video": str(data / "datasets/small_robot.mp4"), "pose": [{"model": "nosuchmodel"}]}]}]}
    with pytest.raises(InputError, match="nosuchmodel"):
        ingest(write_manifest(tmp_path, bad, name="bad.yaml"))
    counts = ingest(write_manifest(tmp_path, manifest))
    assert counts["PoseInference"] == 1 and len(pose.PoseEstimation()) == 0  # not run during ingest
    key = {"session": "robot", "camera": "front", "pose_source": "robot_single"}
    assert (models.PoseInference & key).fetch1("frame_stop") == 4
    pose.PoseEstimation.populate(suppress_errors=False)
    row = (pose.PoseEstimation & key).fetch1()
    assert row["n_frames"] == 4 and row["keypoints"] == ["A", "B"]
    assert [r["subject"] for r in (pose.PoseEstimation.Individual & key).to_dicts()] == ["robot1"]
    # the same request from a CSV manifest (one row per track)
    head = "session,session_datetime,subject,sex,age_group,camera,video,pose_model,frame_start,frame_stop,track\n"
    video = data / "datasets/small_robot.mp4"
    (tmp_path / "bad.csv").write_text(head + f"robot2,2026-04-05 10:00:00,robot1,U,adult,front,{video},"
                                             "robot_single,0,four,\n")
    with pytest.raises(InputError, match="bad.csv: line 2.*frame_stop 'four'"):
        ingest(tmp_path / "bad.csv")
    (tmp_path / "m.csv").write_text(head + f"robot2,2026-04-05 10:00:00,robot1,U,adult,front,{video},"
                                           "robot_single,1,3,track_0\n")
    assert ingest(tmp_path / "m.csv")["PoseInference"] == 1
    csv_key = dict(key, session="robot2")
    assert (models.PoseInference & csv_key).fetch1("frame_start", "frame_stop") == (1, 3)
    assert (pose.PoseEstimationTask.Track & csv_key).fetch1("subject") == "robot1"
