"""The ``ethojoint-default`` rule set reproduces the fixed scorer exactly.

The fixed scorer (``score_session(pose, RuleSet(...))``, pipeline/behavior/rules.py)
and the generic rule engine (``score_document`` with the preset) score the same
synthetic sessions -- clean, jittered, with dropped points, at 30 and 25 fps,
sessions of the demo cohort -- and must give identical per-frame contact and
scorable arrays and identical bout tables.  Variants of the rule set (other
thresholds, no smoothing, no hysteresis, side by side, a skeleton without a
neck, the optional following and side-by-side behaviours) check that the
vocabulary, not a coincidence, carries the match.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from pipeline.behavior import RuleSet, find_bouts, resolve_roles, score_session
from pipeline.behavior.ruledoc import load_document, parse_document
from pipeline.behavior.ruleengine import document_roles, score_document
from pipeline.behavior.rules import FollowingRule, SideBySideRule
from pipeline.errors import InputError
from pipeline.pose import PoseData
from pipeline.synthetic import ObservationNoise, simulate_cohort, simulate_session

PRESET = "ethojoint-default"
BOUT_KEY = ["behavior", "agent", "target", "start_frame", "end_frame"]
CONTACTS = ("nose2nose", "nose2anogenital", "nose2neck", "nose2left_ear", "nose2right_ear")
ROLES = {"nose": "nose", "neck": "neck", "left_ear": "left_ear", "right_ear": "right_ear",
         "tail_base": "tail_base", "body_centre": {"centroid": ["neck", "tail_base"]}}
SIDE_BY_SIDE = {"name": "side_by_side", "pairs": "mutual",
                "conditions": [{"centre_distance": {"role": "body_centre"}, "below": 40},
                               {"body_angle": {"tail": "tail_base", "head": "neck"}, "below": 30}],
                "smoothing": {"method": "median", "window_s": 0.15, "window_rule": "half_width"},
                "min_bout_s": 0.2, "max_gap_s": 0.2}
FOLLOWING = {"name": "following", "pairs": "directed",
             "conditions": [{"distance": {"agent": "nose", "target": "tail_base"}, "below": 30},
                            {"axis_position": {"point": "nose", "tail": "tail_base", "head": "neck"}, "below": 0,
                             "inclusive": True},
                            {"gradient_speed": {"of": "agent", "role": "body_centre"}, "above": 50},
                            {"gradient_speed": {"of": "target", "role": "body_centre"}, "above": 50},
                            {"motion_angle": {"role": "body_centre"}, "below": 45}],
             "smoothing": {"method": "median", "window_s": 0.15, "window_rule": "half_width"},
             "min_bout_s": 0.2, "max_gap_s": 0.2}
NOISY = ObservationNoise(jitter_px=2.0, drop_fraction=0.1)
SESSIONS = {  # name -> simulate_session arguments
    "clean": dict(seed=40, noise=None),
    "default_noise": dict(seed=41),
    "jitter_drops": dict(seed=42, noise=ObservationNoise(jitter_px=1.0, drop_fraction=0.05)),
    "noisy": dict(seed=11, noise=NOISY),
    "noisy_25fps": dict(seed=5, noise=NOISY, fps=25.0),
    "noisy_27fps": dict(seed=6, noise=NOISY, fps=27.0),  # 0.2 s = 5.4 frames: gap 5, bout 6
}


@pytest.fixture(scope="module")
def sessions():
    out = {name: simulate_session(duration_s=180, episode_counts=3, **kw) for name, kw in SESSIONS.items()}
    for k, s in enumerate(simulate_cohort(seed=3, sessions_per_group=1, duration_s=180).sessions):
        out[f"cohort_{k}"] = s.simulation
    return out


@pytest.fixture(scope="module")
def preset():
    return load_document(PRESET)


def document_for(rules: RuleSet, base: dict) -> dict:
    """The preset changed to express ``rules`` (thresholds, windows, hysteresis, side by side)."""
    d = copy.deepcopy(base)
    extra = [FOLLOWING] if rules.following else []
    behaviors = d["behaviors"] + copy.deepcopy(extra + ([SIDE_BY_SIDE] if rules.side_by_side else []))
    for b in behaviors:
        if b["name"] == "side_by_side":
            b["conditions"][0]["below"] = rules.side_by_side.max_distance
            b["conditions"][1]["below"] = rules.side_by_side.max_angle_deg
        elif b["name"] == "following":
            fr = rules.following
            b["conditions"][0]["below"], b["conditions"][4]["below"] = fr.max_distance, fr.max_direction_deg
            b["conditions"][2]["above"] = b["conditions"][3]["above"] = fr.min_speed
        else:
            b["conditions"][0]["below"] = rules.thresholds[b["name"]]
            b["conditions"][1:] and b["conditions"][1].update(below=rules.head_angle_deg)
            if rules.release_factor > 1:
                b["hysteresis"]["release_factor"] = rules.release_factor
            else:
                b.pop("hysteresis")
        b["smoothing"] = ({"method": "median", "window_s": rules.smooth_s, "window_rule": "half_width"}
                          if rules.smooth_s else {"method": "none"})
        b["min_bout_s"], b["max_gap_s"] = rules.min_bout_s, rules.max_gap_s
    d["behaviors"] = behaviors
    if rules.side_by_side or rules.following:
        d["roles"]["body_centre"] = "midpoint of neck and tail base"
    return d


def bout_table(res) -> pd.DataFrame:
    """Bouts of a ScoredFrames as the database builds them (find_bouts on contact and scorable)."""
    rows = []
    for beh in res.behaviors:
        b = find_bouts(res.contact[beh], res.scorable[beh], fps=res.fps, min_bout_s=0, max_gap_s=0)
        for p, s, e in b[["pair", "start_frame", "end_frame"]].to_numpy().tolist():
            a, t = res.pairs[p]
            rows.append((beh, res.individuals[a], res.individuals[t], s, e))
    return pd.DataFrame(rows, columns=BOUT_KEY).astype({"start_frame": np.int64, "end_frame": np.int64})


def compare(pose: PoseData, mm_per_px: float, rules: RuleSet, doc, roles=ROLES) -> int:
    """Assert frames and bouts agree; return the number of bouts compared."""
    old = score_session(pose, rules, mm_per_px=mm_per_px)
    doc = load_document(doc)
    new = score_document(pose, doc, roles={r: roles[r] for r in doc.used_roles}, mm_per_px=mm_per_px)
    assert new.behaviors == rules.behaviors
    for beh in rules.behaviors:
        contact, scorable = old.frames[beh]
        np.testing.assert_array_equal(new.frame_contact[beh], contact, err_msg=beh)
        np.testing.assert_array_equal(new.frame_scorable[beh], scorable, err_msg=beh)
    expected = old.bouts[BOUT_KEY].reset_index(drop=True)
    pd.testing.assert_frame_equal(bout_table(new), expected)
    # the database may also run find_bouts with the rule set's own gap and minimum: nothing changes
    for beh in rules.behaviors:
        again = find_bouts(new.contact[beh], new.scorable[beh], fps=new.fps, min_bout_s=rules.min_bout_s,
                           max_gap_s=rules.max_gap_s)
        assert len(again) == (expected.behavior == beh).sum()
    return len(expected)


def test_preset_reproduces_the_fixed_scorer_on_the_synthetic_cohort(sessions, preset):
    counts = {name: compare(s.pose, s.mm_per_px, RuleSet(), preset) for name, s in sessions.items()}
    assert all(n >= 5 for n in counts.values()), counts
    assert sum(counts.values()) >= 230, counts


def test_every_contact_and_both_directions_are_compared(sessions, preset):
    s = sessions["noisy"]
    old = score_session(s.pose, RuleSet(), mm_per_px=s.mm_per_px).bouts
    assert set(old.behavior) == set(CONTACTS)
    assert old.groupby("behavior").agent.nunique().loc[list(CONTACTS[1:])].eq(2).all()
    assert compare(s.pose, s.mm_per_px, RuleSet(), preset) == len(old)


@pytest.mark.parametrize("rules", [
    RuleSet(smooth_s=0),
    RuleSet(release_factor=1, smooth_s=0.25),
    RuleSet(thresholds={"nose2nose": 15, "nose2neck": 20, "nose2left_ear": 14, "nose2right_ear": 14},
            head_angle_deg=45, release_factor=1.5, min_bout_s=0.1, max_gap_s=0.3, smooth_s=0.3),
    RuleSet(side_by_side=True, following=True),
    RuleSet(side_by_side=SideBySideRule(max_distance=80, max_angle_deg=60),
            following=FollowingRule(max_distance=60, min_speed=20, max_direction_deg=60)),
], ids=["no_smoothing", "no_hysteresis", "other_thresholds", "optional_behaviours", "optional_wide"])
@pytest.mark.parametrize("name", ["noisy", "noisy_25fps"])
def test_rule_set_variants_are_reproduced(sessions, preset, rules, name):
    s = sessions[name]
    n = compare(s.pose, s.mm_per_px, rules, document_for(rules, preset.to_dict()))
    assert n >= 15
    if rules.side_by_side is not None and rules.side_by_side.max_distance > 40:  # the wide variant has bouts
        old = score_session(s.pose, rules, mm_per_px=s.mm_per_px).bouts
        assert (old.behavior == "side_by_side").sum() >= 2 and (old.behavior == "following").sum() >= 2


def test_a_skeleton_without_neck_uses_the_midpoint_of_the_ears(sessions, preset):
    s = sessions["noisy"]
    keep = [i for i, k in enumerate(s.pose.keypoints) if k != "neck"]
    pose = PoseData(s.pose.positions[:, :, keep], s.pose.confidence[:, :, keep], individuals=s.pose.individuals,
                    keypoints=tuple(s.pose.keypoints[i] for i in keep), fps=s.pose.fps)
    roles = {**ROLES, "neck": {"centroid": ["left_ear", "right_ear"]}}
    assert compare(pose, s.mm_per_px, RuleSet(), preset, roles) >= 15


@pytest.mark.parametrize("drop", [("neck",), ("left_ear",), ("left_ear", "right_ear")])
def test_skeletons_resolved_by_the_fixed_scorers_role_finder(sessions, preset, drop):
    """Roles from ``resolve_roles`` (a midpoint neck, an absent ear) score as in the fixed scorer."""
    s = sessions["noisy"]
    keep = [i for i, k in enumerate(s.pose.keypoints) if k not in drop]
    pose = PoseData(s.pose.positions[:, :, keep], s.pose.confidence[:, :, keep], individuals=s.pose.individuals,
                    keypoints=tuple(s.pose.keypoints[i] for i in keep), fps=s.pose.fps)
    roles = document_roles(resolve_roles(pose.keypoints))
    assert compare(pose, s.mm_per_px, RuleSet(), preset, roles) >= 10
    res = score_document(pose, preset, roles=roles, mm_per_px=s.mm_per_px)
    for role in drop:
        if role != "neck":
            assert not res.scorable[f"nose2{role}"].any()


def test_preset_document():
    doc = load_document(PRESET)
    assert doc.behavior_names == CONTACTS
    assert (doc.exclusivity, doc.priority, doc.closest) == ("closest", ("nose2nose",), CONTACTS[1:])
    again = parse_document(doc.to_dict())
    assert again == doc and again.content_hash() == doc.content_hash()
    assert set(doc.skeleton_roles("ethojoint_synthetic")) == set(doc.used_roles)


def test_closest_policy_validation(preset):
    d = preset.to_dict()
    bad = copy.deepcopy(d)
    bad["exclusivity"]["closest"].append("nose2nose")
    with pytest.raises(InputError, match=r"both in priority and in closest"):
        parse_document(bad, source="x")
    bad = copy.deepcopy(d)
    bad["behaviors"][1]["conditions"].reverse()
    with pytest.raises(InputError, match=r"'nose2anogenital': under 'closest' the first condition must be a distance"):
        parse_document(bad, source="x")
    bad = copy.deepcopy(d)
    bad["exclusivity"] = {"policy": "exclusive", "priority": ["nose2nose"], "closest": ["nose2neck"]}
    with pytest.raises(InputError, match="only policy 'closest' has a closest list"):
        parse_document(bad, source="x")
    bad = copy.deepcopy(d)
    bad["behaviors"][0]["hysteresis"]["relax"] = ["distanse"]
    with pytest.raises(InputError, match=r"hysteresis.relax\[0\]: must be one of"):
        parse_document(bad, source="x")
    bad = copy.deepcopy(d)
    bad["behaviors"][0]["conditions"][0]["inclusive"] = "yes"
    with pytest.raises(InputError, match=r"conditions\[0\].inclusive: must be true or false"):
        parse_document(bad, source="x")
    bad = copy.deepcopy(d)
    bad["behaviors"][0]["smoothing"]["method"] = "majority"
    with pytest.raises(InputError, match=r"smoothing.window_rule: only a median window has a window rule"):
        parse_document(bad, source="x")


def test_closest_policy_on_a_line():
    """Two target points on a line: the closer one wins; the priority behaviour takes its frames first;
    hysteresis does not extend over the other behaviour's strict frames."""
    t = 12
    pos = np.zeros((t, 2, 3, 2))
    pos[:, 1, 1, 0] = [30, 8, 8, 30, 30, 30, 30, 30, 30, 30, 30, 30]  # b's "far" point
    pos[:, 1, 2, 0] = [30, 30, 6, 15, 15, 4, 15, 30, 30, 30, 30, 30]  # b's "near" point
    pos[:, 1, 0, 0] = [90, 90, 90, 90, 90, 90, 90, 90, 3, 12, 90, 90]  # b's nose
    pose = PoseData(pos, np.ones((t, 2, 3)), individuals=("a", "b"), keypoints=("n", "f", "m"), fps=10)

    def beh(name, target, pairs="directed"):
        return {"name": name, "pairs": pairs, "conditions": [{"distance": {"agent": "n", "target": target},
                                                              "below": 10}],
                "hysteresis": {"release_factor": 2}}

    doc = {"name": "line", "units": "px", "roles": ["n", "f", "m"],
           "exclusivity": {"policy": "closest", "priority": ["touch"], "closest": ["far", "near"]},
           "behaviors": [beh("touch", "n", "mutual"), beh("far", "f"), beh("near", "m")]}
    f = score_document(pose, doc, roles={"n": "n", "f": "f", "m": "m"}).to_frame()
    # frame 1: only "far" holds; 2: both, "near" is closer; 3-4, 6: "near" under 2 x 10 extends its
    # run from 5 back to 2 and on to 6; 8: noses touch (mutual first), 9: its release
    assert f["a_b_far"].astype(int).tolist() == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert f["a_b_near"].astype(int).tolist() == [0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert f["a_b_touch"].astype(int).tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0]
