"""KeypointDistance through the database and ``report --measure keypoint_distance`` (issue 15 §2)."""

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError

pytestmark = pytest.mark.integration


def test_keypoint_distance_and_report(clean, tmp_path, capsys):
    from pipeline.synthetic import simulate_cohort
    from schemas import keypoints, pose, recording
    from schemas.ingest import ingest
    from workers.cli import main
    from workers.demo import build_manifest

    ingest(build_manifest(simulate_cohort(seed=7, sessions_per_group=1, duration_s=30), tmp_path))
    with pytest.raises(InputError, match=r"keypoint\(s\) \['jaw_tip'\] are not in skeleton 'mouse6'"):
        keypoints.KeypointPairSet.add("jaw", "mouse6", [["jaw_tip", "nose"]])
    pair_set = keypoints.KeypointPairSet.add("snout", "mouse6", [{"name": "snout", "a": "nose", "b": "neck"}])
    assert keypoints.KeypointPairSet.add("other name", "mouse6", [["nose", "neck"]], k=5) != pair_set  # pair named
    keypoints.KeypointDistance.populate({"pair_set": pair_set})
    assert len(keypoints.KeypointDistance()) == 4 and len(keypoints.KeypointDistance.Pair()) == 8
    # one animal, checked against the stored pose and scale
    part = (keypoints.KeypointDistance.Pair & {"pair_set": pair_set}).to_dicts(limit=1)[0]
    key = {"session": part["session"], "camera": "top"}
    row = (pose.PoseEstimation & key).fetch1()
    xy = np.asarray(row["positions"], float)[:, part["individual_index"]]
    nose, neck = (row["keypoints"].index(k) for k in ("nose", "neck"))
    d = np.linalg.norm(xy[:, nose] - xy[:, neck], axis=-1) * (recording.VideoRecording & key).fetch1("mm_per_px")
    d = d[~np.isnan(d)]
    assert part["n_frames"] == len(d) and np.isclose(part["mean"], d.mean(), rtol=1e-5)
    assert np.isclose(part["variance"], d.var(ddof=1), rtol=1e-4)
    assert np.isclose(part["mad"], np.median(np.abs(d - np.median(d))), rtol=1e-4)
    assert (keypoints.KeypointDistance & {k: part[k] for k in ("session", "pose_version", "pair_set")}).fetch1(
        "units") == "mm"

    out = tmp_path / "report"
    assert main(["report", "--measure", "keypoint_distance", "--pair-set", "snout", "--by", "sex",
                 "--out", str(out)]) == 0
    assert "Keypoint distances (mm)" in capsys.readouterr().out
    table = pd.read_csv(out / "keypoint_distance_group_table.csv")
    assert set(table["measure"]) == {"variance", "mad", "spike_count", "mean"} and (table["n"] == 4).all()
    assert main(["report", "--measure", "keypoint_distance", "--pair-set", "snout", "--by", "training_membership"]) == 2
    assert "were not made by a model EthoJoint trained" in capsys.readouterr().err   # loaded from files
    assert main(["report", "--measure", "keypoint_distance", "--by", "sex"]) == 2     # two pair sets: say which
    assert "give --pair-set; known: other name, snout" in capsys.readouterr().err
