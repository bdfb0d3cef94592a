"""Per-animal statistics with three animals: n is animals, not directed pairs (real scoring, no database)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

ANIMALS = ("mouse1", "mouse2", "mouse3")
SEX = {"mouse1": "F", "mouse2": "F", "mouse3": "M"}


def three_mouse_session(seed: int = 11, segment_s: float = 40.0):
    """A synthetic session of three mice, made of three simulated two-mouse segments.

    In segment k one pair of the three (1-2, then 2-3, then 1-3) is a
    simulated pair with scripted contacts, and the third mouse is an animal
    of a fourth simulation in the same arena (it meets the others by
    chance). ``episodes`` holds the scripted contacts of every segment.
    """
    from pipeline.synthetic import simulate_session

    sims = [simulate_session(seed=seed + k, duration_s=segment_s) for k in range(4)]
    positions, confidence, episodes = [], [], []
    for k, pair in enumerate(((0, 1), (1, 2), (0, 2))):
        sources = {pair[0]: (sims[k], 0), pair[1]: (sims[k], 1)}
        sources.update({i: (sims[3], k % 2) for i in range(3) if i not in pair})
        positions.append(np.stack([sources[i][0].pose.positions[:, sources[i][1]] for i in range(3)], axis=1))
        confidence.append(np.stack([sources[i][0].pose.confidence[:, sources[i][1]] for i in range(3)], axis=1))
        names = dict(zip(sims[k].individuals, (ANIMALS[pair[0]], ANIMALS[pair[1]])))
        offset = k * sims[k].n_frames
        episodes.append(sims[k].episodes.replace(names).assign(
            start_frame=lambda e, o=offset: e["start_frame"] + o, end_frame=lambda e, o=offset: e["end_frame"] + o,
            start_s=lambda e, o=offset: e["start_s"] + o / sims[0].fps,
            end_s=lambda e, o=offset: e["end_s"] + o / sims[0].fps))
    pose = dataclasses.replace(sims[0].pose, individuals=ANIMALS, positions=np.concatenate(positions),
                               confidence=np.concatenate(confidence))
    return dataclasses.replace(sims[0], pose=pose, episodes=pd.concat(episodes, ignore_index=True),
                               name="three_mice")


@pytest.fixture(scope="module")
def scored():
    from pipeline.behavior import score_session

    sim = three_mouse_session()
    result = score_session(sim.pose, mm_per_px=sim.mm_per_px)
    pairs = result.summary.assign(session="s3")
    return pairs, result.bouts


def test_three_mice_are_three_animals_per_behaviour(scored):
    from pipeline.stats import animals_from_pairs, group_table

    pairs, _ = scored
    directed = pairs[~pairs["mutual"]]
    assert len(directed.groupby("behavior").size().unique()) == 1
    assert set(directed.groupby("behavior").size()) == {6}  # ordered pairs of 3 animals
    assert set(pairs[pairs["mutual"]].groupby("behavior").size()) == {3}  # unordered pairs
    animals = animals_from_pairs(pairs)
    assert set(animals.groupby("behavior").size()) == {3}
    assert set(animals["agent"]) == set(ANIMALS)
    assert (animals["n_partners"] == 2).all()
    table = group_table(animals.assign(sex=animals["agent"].map(SEX)), group_by=["sex"], value="bout_count")
    assert dict(zip(table["behavior"] + table["sex"], table["n"])) == {
        b + s: n for b in pairs["behavior"].unique() for s, n in (("F", 2), ("M", 1))}


def test_animal_values_are_its_bouts_toward_every_partner(scored):
    from pipeline.stats import animals_from_pairs

    pairs, bouts = scored
    animals = animals_from_pairs(pairs).set_index(["behavior", "agent"])
    mutual = set(pairs.loc[pairs["mutual"], "behavior"])
    assert mutual and len(bouts) > 10
    for (behavior, animal), row in animals.iterrows():
        own = bouts[(bouts["behavior"] == behavior) & (bouts["agent"] == animal)]
        if behavior in mutual:  # stored once per pair: counts for the target too
            own = pd.concat([own, bouts[(bouts["behavior"] == behavior) & (bouts["target"] == animal)]])
        assert row["bout_count"] == len(own), (behavior, animal)
        assert row["total_duration_s"] == pytest.approx(own["duration_s"].sum())
        if len(own):
            assert row["latency_s"] == pytest.approx(own["start_s"].min())
        else:
            assert np.isnan(row["latency_s"])


def test_mutual_rows_stored_both_ways_count_once():
    from pipeline.stats import animals_from_pairs

    pairs = pd.DataFrame({"session": "s", "behavior": "nose2nose", "agent": ["a", "b"], "target": ["b", "a"],
                          "mutual": True, "bout_count": [4, 4], "total_duration_s": [2.0, 2.0],
                          "latency_s": [1.0, 1.0]})
    animals = animals_from_pairs(pairs)
    assert animals["bout_count"].tolist() == [4, 4] and animals["n_partners"].tolist() == [1, 1]
