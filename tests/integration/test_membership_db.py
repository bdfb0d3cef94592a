"""Training membership of subjects for a model EthoJoint trained, and the held-out comparison (issue 15 §2).

The labels (``minimal_instance.pkg.slp``) hold one frame of ``centered_pair_low_quality.mp4``: the session
filmed in that video is in the training set, the session of ``centered_pair_small.mp4`` is held out.
"""

import pandas as pd
import pytest

from tests.integration.test_ingest import write_manifest

pytestmark = pytest.mark.integration


@pytest.mark.first_backend_only  # trains a 2-epoch network (about a minute); the table code is plain SQL
def test_held_out_against_training_subjects(clean, shared_data, tmp_path, capsys):
    from pipeline.inference.sleap import load_training_config
    from schemas import keypoints, membership, models, pose
    from schemas.ingest import ingest
    from workers.cli import main

    data = shared_data / "sleap_nn_models"
    subjects = [{"subject": f"fly{i}", "sex": "FM"[i % 2], "age_group": "adult"} for i in range(1, 5)]
    ingest(write_manifest(tmp_path, {"subjects": subjects, "sessions": [
        {"session": "labelled", "datetime": "2026-04-02 10:00:00",
         "animals": [{"subject": "fly1"}, {"subject": "fly2"}],
         "recordings": [{"camera": "top", "video": str(shared_data / "sleap_flies/centered_pair_low_quality.mp4")}]},
        {"session": "unseen", "datetime": "2026-04-03 10:00:00",
         "animals": [{"subject": "fly3"}, {"subject": "fly4"}],
         "recordings": [{"camera": "top", "video": str(data / "datasets/centered_pair_small.mp4")}]}]}))
    pose.Skeleton.insert1({"skeleton": "flyAB", "keypoints": ["A", "B"], "edges": [["A", "B"]]})
    labels = models.LabeledFrameSet.add("minimal", data / "datasets/minimal_instance.pkg.slp", engine="sleap",
                                        skeleton="flyAB")
    config = load_training_config(data / "minimal_instance_bottomup")
    config["trainer_config"].update(train_steps_per_epoch=5, min_train_steps_per_epoch=5)
    params = models.TrainingParamSet.add("bottomup-tiny", "sleap", dict(config, epochs=2))
    models.TrainingTask.insert1(dict(labels, **params))
    models.ModelTraining.populate(suppress_errors=False)
    models.PoseModel.from_training("trained", dict(labels, **params))
    membership.TrainingMembership.populate(suppress_errors=False)
    row = (membership.TrainingMembership & labels).fetch1()
    assert "sleap-nn's training split" in row["split"]
    videos = (membership.TrainingMembership.Video & labels).to_dicts()
    assert [(v["video"], v["frames_used"]) for v in videos] == [("centered_pair_low_quality.mp4", 1)]
    assert membership.subject_membership(dict(labels, **params)) == {
        ("labelled", "fly1"): "training", ("labelled", "fly2"): "training",
        ("unseen", "fly3"): "held_out", ("unseen", "fly4"): "held_out"}

    for s, fly in (("labelled", "fly1"), ("unseen", "fly3")):  # no tracking: the first instance is one fly
        models.add_inference({"session": s}, "top", "trained", frame_stop=5, tracks={"instance_0": fly})
    pose.PoseEstimation.populate(suppress_errors=False)
    keypoints.KeypointPairSet.add("AB", "flyAB", [["A", "B"]])
    keypoints.KeypointDistance.populate(suppress_errors=False)
    capsys.readouterr()
    out = tmp_path / "report"
    assert main(["report", "--measure", "keypoint_distance", "--by", "training_membership", "--out", str(out)]) == 0
    animals = pd.read_csv(out / "keypoint_distance_per_animal.csv")
    assert dict(zip(animals["subject"], animals["training_membership"])) == {"fly1": "training", "fly3": "held_out"}
    assert "training_membership" in capsys.readouterr().out
