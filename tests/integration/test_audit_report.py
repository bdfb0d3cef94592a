"""Reports over three animals and audits of part rows and recording facts, on every backend."""

import json

import pandas as pd
import pytest

from pipeline.errors import InputError
from tests.integration.test_ingest import write_manifest

pytestmark = pytest.mark.integration

SUBJECTS = {"mouse1": ("m1", "F"), "mouse2": ("m2", "F"), "mouse3": ("m3", "M")}  # track -> (subject, sex)
BEHAVIORS = 5  # nose2nose (mutual) and four directed contacts


def ingest_three_mice(folder, sources=("sleap",)):
    """One session of three mice (synthetic SLEAP file, one pose row per source), scored (default rule set)."""
    from pipeline.synthetic import EDGES, KEYPOINTS, write_session_files
    from schemas import behavior
    from schemas.ingest import ingest
    from tests.unit.test_stats_animals import three_mouse_session

    sim = three_mouse_session()
    files = write_session_files(sim, folder / "pose", formats=("sleap_h5",))
    pose = [{"source": source, "file": str(files["sleap_h5"]), "skeleton": "mouse6",
             "tracks": {t: s for t, (s, _) in SUBJECTS.items()}} for source in sources]
    ingest(write_manifest(folder, {
        "skeletons": [{"skeleton": "mouse6", "keypoints": list(KEYPOINTS), "edges": [list(e) for e in EDGES]}],
        "subjects": [{"subject": s, "sex": sex, "age_group": "young"} for s, sex in SUBJECTS.values()],
        "sessions": [{"session": "tri", "datetime": "2026-04-01 10:00:00",
                      "animals": [{"subject": s} for s, _ in SUBJECTS.values()],
                      "recordings": [{"camera": "top", "fps": sim.fps, "mm_per_px": sim.mm_per_px,
                                      "pose": pose}]}]}))
    behavior.SocialBouts.populate()
    assert len(behavior.SocialBouts()) == len(sources)
    return sim


@pytest.fixture
def three_mice(clean, tmp_path):
    """One session of three mice, ingested and scored."""
    return ingest_three_mice(tmp_path)


def _bouts_per_animal() -> pd.Series:
    """Bout rows per behaviour × animal: as agent, and as target of a mutual behaviour."""
    from schemas import behavior

    bouts = behavior.SocialBouts.Bout.to_pandas().reset_index()
    mutual = bouts[bouts["behavior"] == "nose2nose"].rename(columns={"agent": "target", "target": "agent"})
    return pd.concat([bouts, mutual]).groupby(["behavior", "agent"]).size()


@pytest.mark.parametrize("first_minutes", [None, 2])
def test_report_n_is_animals_not_pairs(three_mice, tmp_path, capsys, first_minutes):
    from workers.cli import main

    out = tmp_path / "report"
    window = ["--first-minutes", str(first_minutes)] if first_minutes else []
    assert main(["report", "--group-by", "sex", "--out", str(out), *window]) == 0
    capsys.readouterr()
    table = pd.read_csv(out / "group_table.csv")
    counts = table[table.measure == "bout_count"]
    assert len(counts) == 2 * BEHAVIORS
    assert dict(zip(counts["behavior"] + " " + counts["sex"], counts["n"])) == {
        f"{b} {s}": n for b in counts["behavior"].unique() for s, n in (("F", 2), ("M", 1))}
    animals = pd.read_csv(out / "per_animal.csv")
    assert len(animals) == 3 * BEHAVIORS and set(animals["agent"]) == {"m1", "m2", "m3"}
    pairs = pd.read_csv(out / "per_pair.csv")
    assert len(pairs) == 6 * (BEHAVIORS - 1) + 3  # directed: ordered pairs; nose2nose: once per pair
    assert {"sex", "target_sex"} <= set(pairs.columns)
    if first_minutes is None:
        expected = _bouts_per_animal()
        found = animals.set_index(["behavior", "agent"])["bout_count"]
        assert found.sum() > 20
        for index, count in found.items():
            assert count == expected.get(index, 0), index


def test_per_animal_sums_partners_and_credits_mutual_to_both(three_mice):
    from schemas import stats

    animals = stats.per_animal()
    pairs = stats.per_pair()
    assert animals.groupby("behavior").size().to_dict() == {b: 3 for b in animals["behavior"].unique()}
    directed = pairs[~pairs["mutual"]].groupby(["behavior", "agent"])["total_duration_s"].sum()
    mine = animals[~animals["mutual"]].set_index(["behavior", "agent"])["total_duration_s"]
    pd.testing.assert_series_equal(mine.sort_index(), directed.sort_index(), check_names=False)
    n2n = animals[animals["behavior"] == "nose2nose"]["bout_count"].sum()
    assert n2n == 2 * pairs[pairs["behavior"] == "nose2nose"]["bout_count"].sum() > 0
    assert (animals["n_partners"] == 2).all()


def test_two_scored_recordings_of_a_session_are_refused(clean, tmp_path, capsys):
    from schemas import stats
    from workers.cli import main

    ingest_three_mice(tmp_path, sources=("sleap", "sleap_copy"))
    for table in (stats.per_animal, stats.per_session):
        with pytest.raises(InputError, match="2 recordings .top/sleap, top/sleap_copy."):
            table()
    assert len(stats.per_pair()) == 2 * (6 * (BEHAVIORS - 1) + 3)  # pairs keep the recording's columns
    assert main(["report", "--group-by", "sex"]) == 2
    assert "session tri" in capsys.readouterr().err


def test_audit_a_bout_part_row(three_mice, capsys):
    from workers.cli import main

    assert main(["audit", "behavior.SocialBouts.Bout", "session=tri,pose_version=top/sleap,bout_index=3"]) == 0
    out = capsys.readouterr().out
    labels = [line.removeprefix("↑ ").split(".", 1)[1] for line in out.splitlines() if not line.startswith(" ")]
    assert labels[0] == "SocialBouts.Bout" and labels.count("SocialBouts.Bout") == 1
    assert "bout_index: 3" in out
    for needle in ("SocialBouts", "SocialRuleSet", "PoseVersion", "PoseVersion.Raw", "PoseEstimation",
                   "PoseEstimationTask", "VideoRecording",
                   "RecordingInfo", "Session"):
        assert needle in labels, needle
    assert "SocialBouts.Summary" not in labels  # the master's other parts are not inputs of the bout


def test_audit_refuses_unknown_attributes_and_non_scalar_values(three_mice, capsys):
    from schemas import pose
    from schemas.audit import upstream
    from workers.cli import main

    assert main(["audit", "pose.PoseEstimation", "session=tri,cam=top"]) == 2
    err = capsys.readouterr().err
    assert "'cam'" in err and "session, camera, pose_source" in err
    key = {"session": ["tri", "x') OR ('1'='1"]}
    assert main(["audit", "pose.PoseEstimation", json.dumps(key)]) == 2
    err = capsys.readouterr().err
    assert "'session'" in err and "single string or number" in err
    for bad in ({"session": {"a": 1}}, {"session": None}, {"session": float("nan")}, {"session": True},
                {"behavior": "nose2nose"}):
        with pytest.raises(InputError):
            upstream(pose.PoseEstimation(), bad)
    assert main(["audit", "pose.PoseEstimation", "{not json"]) == 2
    assert main(["audit", "pose.PoseEstimation", "session=tri,session=x"]) == 2
    assert main(["audit", "behavior.SocialBouts.Nope", "session=tri"]) == 2
    assert "unknown table 'behavior.SocialBouts.Nope'" in capsys.readouterr().err
    assert main(["audit", "pose.PoseEstimation", "session=nope"]) == 1


def test_audit_of_a_pose_shows_the_video_checksum(clean, shared_data, tmp_path, capsys):
    from pipeline.io import read_pose
    from pipeline.io.checksum import file_checksum
    from schemas import pose
    from schemas.audit import table_label, upstream
    from schemas.ingest import ingest
    from workers.cli import main

    folder = shared_data / "anipose_minimal_session/top"
    track = read_pose(folder / "minimal_top_proofread.analysis.h5", fps=30).individuals[0]
    ingest(write_manifest(tmp_path, {
        "subjects": [{"subject": "a1", "sex": "F", "age_group": "adult"}],
        "sessions": [{"session": "v1", "datetime": "2026-04-02 10:00:00", "animals": [{"subject": "a1"}],
                      "recordings": [{"camera": "top", "fps": 30, "video": str(folder / "minimal_top.mp4"),
                                      "pose": [{"source": "sleap",
                                                "file": str(folder / "minimal_top_proofread.analysis.h5"),
                                                "roles": {"tail_base": "TTI"}, "tracks": {track: "a1"}}]}]}]}))
    chain = upstream(pose.PoseEstimation(), {"session": "v1"})
    labels = [table_label(name).split(".", 1)[1] for name, _ in chain]
    assert labels.count("RecordingInfo") == 1
    assert labels.index("RecordingInfo") > labels.index("VideoRecording")
    assert main(["audit", "pose.PoseEstimation", "session=v1,camera=top,pose_source=sleap"]) == 0
    out = capsys.readouterr().out
    assert f"video_sha256: {file_checksum(folder / 'minimal_top.mp4')}" in out
