"""Training membership, pure part: labelled frames per video, matching videos to recordings (issue 15 §2)."""

import pytest

from pipeline.errors import InputError
from pipeline.inference.membership import _count, _dlc_video, labelled_videos, match_recordings


def test_labels_without_a_split_count_every_frame_as_used(shared_data, tmp_path):
    found = labelled_videos("sleap", shared_data / "sleap_nn_models/datasets/minimal_instance.pkg.slp", [tmp_path])
    assert found["videos"] == {"centered_pair_low_quality.mp4": {"used": 1, "held_out": 0}}   # the embedded source
    assert found["split"].startswith("no training split in the model folder")


def test_counts_and_matching():
    counts = _count({("a.mp4", 1), ("a.mp4", 2), ("b.mp4", 7)}, {("a.mp4", 2)})
    assert counts == {"a.mp4": {"used": 1, "held_out": 1}, "b.mp4": {"used": 0, "held_out": 1}}
    assert _dlc_video("labeled-data/m3v1mp4/img0050.png") == "m3v1mp4"
    assert _dlc_video(("labeled-data", "m3v1mp4", "img0050.png")) == "m3v1mp4"
    recordings = [{"session": "s1", "video_path": "videos/m3v1mp4.mp4"}, {"session": "s2", "video_path": "x/b.avi"}]
    matched, unmatched = match_recordings({"m3v1mp4": {"used": 5, "held_out": 1}, "zz": {"used": 1, "held_out": 0}},
                                          recordings, engine="deeplabcut")
    assert [m["session"] for m in matched] == ["s1"] and unmatched == {"zz": {"used": 1, "held_out": 0}}
    with pytest.raises(InputError, match="matches several recordings: a/b.avi, x/b.avi"):
        match_recordings({"b.avi": {"used": 1, "held_out": 0}},
                         [*recordings, {"session": "s3", "video_path": "a/b.avi"}], engine="sleap")
