"""Real tracking outputs score without error, and bout edges agree with the raw coordinates."""

import numpy as np
import pytest

from pipeline.behavior import RuleSet, resolve_roles, score_session
from pipeline.io import read_pose

# no smoothing, no hysteresis, no merging: each bout frame is a raw threshold crossing
RAW = dict(smooth_s=0, release_factor=1, head_angle_deg=180, min_bout_s=0, max_gap_s=0)


def raw_distance(pose, agent, agent_part, target, target_part):
    """Independent recomputation from the file's coordinates."""
    a = pose.positions[:, pose.individuals.index(agent), pose.keypoints.index(agent_part)]
    b = pose.positions[:, pose.individuals.index(target), pose.keypoints.index(target_part)]
    return np.hypot(*(a - b).T)


def claimed_elsewhere(result, behavior, agent, target, individuals):
    """Frames of this pair taken by another behaviour, or unscorable for this one."""
    pair = result.features.pairs.index((individuals.index(agent), individuals.index(target)))
    claimed = ~result.frames[behavior][1][pair]
    for other, (contact, _) in result.frames.items():
        if other != behavior:
            # a mutual contact is stored on one row of the pair: count both rows
            rows = range(contact.shape[0]) if other == "nose2nose" else [pair]
            for r in rows:
                claimed = claimed | contact[r]
    return claimed


def check_edges(pose, result, behavior, agent_part, target_part, threshold):
    checked = 0
    bouts = result.bouts
    for bout in bouts[bouts.behavior == behavior].itertuples():
        claimed = claimed_elsewhere(result, behavior, bout.agent, bout.target, pose.individuals)
        d = raw_distance(pose, bout.agent, agent_part, bout.target, target_part)
        assert (d[bout.start_frame:bout.end_frame] < threshold).all()
        for edge in (bout.start_frame - 1, bout.end_frame):  # just outside the bout
            if 0 <= edge < len(d):
                assert not d[edge] < threshold or claimed[edge], (behavior, edge, d[edge])
        checked += 1
    return checked


def test_two_flies_score_with_fly_roles(shared_data):
    pose = read_pose(shared_data / "sleap_flies/clip.slp")
    roles = resolve_roles(pose.keypoints)
    assert (roles["nose"], roles["neck"], roles["tail_base"]) == ("head", "thorax", "abdomen")
    rules = RuleSet(units="px", thresholds={b: 40.0 for b in RuleSet().thresholds}, **RAW)
    result = score_session(pose, rules, fps=30)
    assert result.units == "px"
    bouts = result.bouts
    assert len(bouts[bouts.behavior == "nose2anogenital"]) >= 1
    assert check_edges(pose, result, "nose2anogenital", "head", "abdomen", 40.0) >= 1


def test_deepof_mice_score_with_deepof_roles(shared_data):
    pose = read_pose(shared_data / "deepof_two_mice/testDLC_h5_table_madlc.h5")
    assert resolve_roles(pose.keypoints)["neck"] == "Spine_1"
    result = score_session(pose, RuleSet(**RAW), mm_per_px=0.5, fps=30)
    assert result.units == "mm" and len(result.bouts) >= 1
    # 12 mm at 0.5 mm/px = 24 px
    assert check_edges(pose, result, "nose2anogenital", "Nose", "Tail_base", 24.0) >= 1
    assert result.summary["scorable_fraction"].between(0, 1).all()


def test_mm_rules_on_unscaled_real_data_are_refused(shared_data):
    from pipeline.errors import InputError

    pose = read_pose(shared_data / "deepof_two_mice/testDLC_h5_table_madlc.h5")
    with pytest.raises(InputError, match="mm-per-pixel"):
        score_session(pose, RuleSet(), fps=30)
