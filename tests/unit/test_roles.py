"""Body-part roles per skeleton: resolved from names only when unambiguous, never guessed."""

import pytest

from pipeline.errors import InputError
from pipeline.roles import auto_roles, check_role, skeleton_roles

ANIPOSE_RAT = ("Nose", "Ear_R", "Ear_L", "TTI", "TailTip", "Head", "Trunk", "Tail_0", "Tail_1", "Tail_2",
               "Shoulder_left", "Shoulder_right", "Haunch_left", "Haunch_right", "Neck")
DEEPOF_14 = ("Nose", "Left_ear", "Right_ear", "Spine_1", "Center", "Spine_2", "Tail_base", "Tail_1", "Tail_2",
             "Tail_tip", "Left_fhip", "Right_fhip", "Left_bhip", "Right_bhip")


def test_tail_0_beside_tti_is_ambiguous_not_guessed():
    resolved, ambiguous = auto_roles(ANIPOSE_RAT)
    assert "tail_base" not in resolved
    assert ambiguous == {"tail_base": ["Tail_0", "TTI", "TailTip", "Tail_1", "Tail_2"]}
    assert resolved == {"nose": "Nose", "neck": "Neck", "left_ear": "Ear_L", "right_ear": "Ear_R"}
    with pytest.raises(InputError, match=r"rat: the keypoint names leave role\(s\) ambiguous \(tail_base: one of"):
        skeleton_roles(ANIPOSE_RAT, {}, source="rat")
    roles = skeleton_roles(ANIPOSE_RAT, {"tail_base": "TTI"}, source="rat")
    assert roles["tail_base"] == {"spec": "TTI", "resolved": "given"}
    assert roles["nose"] == {"spec": "Nose", "resolved": "auto"}


@pytest.mark.parametrize("keypoints, expect", [
    (DEEPOF_14, {"nose": "Nose", "neck": "Spine_1", "left_ear": "Left_ear", "right_ear": "Right_ear",
                 "tail_base": "Tail_base", "body_centre": "Center"}),
    (("snout", "leftear", "rightear", "tailbase"),  # DLC open field: no neck, so the ears' centroid
     {"nose": "snout", "left_ear": "leftear", "right_ear": "rightear", "tail_base": "tailbase",
      "neck": {"centroid": ["leftear", "rightear"]}}),
    (("head", "thorax", "abdomen", "wingL", "wingR"), {"nose": "head", "neck": "thorax", "tail_base": "abdomen"}),
    (("A", "B"), {}),
])
def test_unambiguous_names_resolve(keypoints, expect):
    resolved, ambiguous = auto_roles(keypoints)
    assert resolved == expect and ambiguous == {}


def test_two_strong_names_for_one_role_are_ambiguous():
    assert auto_roles(["Nose", "snout", "Tail_base"])[1] == {"nose": ["Nose", "snout"]}


def test_role_validation():
    kps = ["Nose", "Ear_L", "Ear_R"]
    assert check_role("body", ["Nose", "Ear_L"], kps) == ["Nose", "Ear_L"]
    assert check_role("neck", {"centroid": ["Ear_L", "Ear_R"]}, kps) == {"centroid": ["Ear_L", "Ear_R"]}
    for role, spec, needle in (("tail_bsae", "Nose", "did you mean 'tail_base'"),
                               ("Nose!", "Nose", "lower-case"),
                               ("nose", "nose", r"keypoint\(s\) \['nose'\] that the skeleton lacks"),
                               ("neck", {"midpoint": ["Ear_L", "Ear_R"]}, "centroid"),
                               ("body", [], "expected keypoint name")):
        with pytest.raises(InputError, match=needle):
            check_role(role, spec, kps, source="sk")
