"""Pure helpers of the foundation: provenance, paths, skeleton conformance, manifest planning."""

from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import InputError
from pipeline.manifest import plan_manifest, read_manifest
from pipeline.paths import resolve, to_relative
from pipeline.pose import PoseData, conform_to_skeleton
from pipeline.provenance import params_hash, record


def test_params_hash_is_canonical_and_a_uuid():
    import uuid

    a = params_hash({"b": [1, 2], "a": {"y": 1, "x": 2}})
    assert a == params_hash({"a": {"x": 2, "y": 1}, "b": [1, 2]})
    assert a != params_hash({"a": {"x": 2, "y": 1}, "b": [2, 1]})
    assert str(uuid.UUID(a)) == a


def test_record_has_inputs_params_code_host():
    prov = record(inputs={"b.h5": "22", "a.h5": "11"}, params={"k": 1})
    assert [i["path"] for i in prov["inputs"]] == ["a.h5", "b.h5"]
    assert prov["params_hash"] == params_hash({"k": 1})
    assert prov["code"]["ethojoint"] and prov["code"]["git_commit"]
    assert prov["host"] and prov["started"] <= prov["finished"]


def test_relative_paths(tmp_path):
    (tmp_path / "lab").mkdir()
    f = tmp_path / "lab" / "a.h5"
    f.write_text("x")
    other = tmp_path / "other"
    assert to_relative(f, [other, tmp_path]) == "lab/a.h5"
    assert resolve("lab/a.h5", [other, tmp_path]) == f
    with pytest.raises(InputError, match="outside every data root"):
        to_relative(f, [other])
    with pytest.raises(InputError, match="not found under any data root"):
        resolve("lab/b.h5", [tmp_path])


def test_conform_to_skeleton_reorders_and_refuses_unknown_parts():
    pose = PoseData(np.arange(12.0).reshape(3, 1, 2, 2), np.ones((3, 1, 2)), individuals=("a",),
                    keypoints=("tail", "nose"))
    out = conform_to_skeleton(pose, ["nose", "ear", "tail"])
    assert out.keypoints == ("nose", "ear", "tail")
    np.testing.assert_array_equal(out.positions[:, 0, 0], pose.positions[:, 0, 1])
    assert np.isnan(out.positions[:, 0, 1]).all()
    with pytest.raises(InputError, match=r"\['tail'\] not in the skeleton"):
        conform_to_skeleton(pose, ["nose"], source="f.h5")


def test_posedata_validates_shapes():
    with pytest.raises(ValueError, match="confidence shape"):
        PoseData(np.zeros((3, 1, 2, 2)), np.zeros((3, 2, 2)), individuals=("a",), keypoints=("x", "y"))
    with pytest.raises(ValueError, match="duplicate keypoint"):
        PoseData(np.zeros((3, 1, 2, 2)), np.zeros((3, 1, 2)), individuals=("a",), keypoints=("x", "x"))


def _manifest(shared: Path, **session_kw):
    session = {"session": "s1", "datetime": "2026-03-01 10:00:00",
               "animals": [{"subject": "m1", "role": "resident"}, {"subject": "m2", "role": "intruder"}],
               "recordings": [{"camera": "top", "fps": 30, "arena": {"diameter_mm": 400, "diameter_px": 800},
                               "pose": [{"source": "dlc", "file": "deepof_two_mice/testDLC_h5_table_madlc.h5",
                                         "tracks": {"mouse_black_tail": "m1", "mouse_white_tail": "m2"}}]}]}
    session.update(session_kw)
    return {"subjects": [{"subject": "m1", "sex": "f", "age_group": "young", "date_of_birth": "2026-01-02"},
                         {"subject": "m2", "sex": "M", "age_group": "old"}],
            "sessions": [session]}


def test_plan_manifest_rows(shared_data):
    plan = plan_manifest(_manifest(shared_data), base=shared_data, roots=[shared_data.parent])
    assert [s["sex"] for s in plan.subjects] == ["F", "M"]
    assert plan.recordings[0]["mm_per_px"] == 0.5 and plan.recordings[0]["scale_source"] == "arena"
    assert plan.tasks[0]["pose_path"] == "data/deepof_two_mice/testDLC_h5_table_madlc.h5"
    assert plan.skeletons[0]["keypoints"][0] == "Nose"  # taken from the file
    assert {t["track"]: t["subject"] for t in plan.tracks} == {"mouse_black_tail": "m1", "mouse_white_tail": "m2"}


@pytest.mark.parametrize("change, needle", [
    ({"datetime": "yesterday"}, "sessions[0].datetime"),
    ({"animals": []}, "at least one animal"),
    ({"animals": [{"subject": "m9"}]}, "'m9' is neither in the manifest nor in the database"),
])
def test_plan_manifest_refuses_bad_sessions(shared_data, change, needle):
    with pytest.raises(InputError) as err:
        plan_manifest(_manifest(shared_data, **change), base=shared_data, roots=[shared_data])
    assert needle in str(err.value)


def test_read_manifest_errors(tmp_path):
    with pytest.raises(InputError, match="manifest not found"):
        read_manifest(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("subjects: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        read_manifest(bad)
