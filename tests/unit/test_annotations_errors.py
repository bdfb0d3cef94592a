"""Each bad annotation input stops with one InputError naming the file, the line and the problem."""

import re

import pytest

from pipeline.errors import InputError
from pipeline.io.bento import read_bento
from pipeline.io.boris import read_boris
from pipeline.io.boris_project import read_boris_project
from pipeline.io.bout_csv import read_bout_csv
from pipeline.io.deepethogram import read_deepethogram
from pipeline.io.simba import read_simba
from tests.unit.test_annotations_formats import TWO_MICE, boris8, boris_project, observation

ETHOME = "ethome_pose_boris/e3v813a-20210610T122332-122642_reencode.csv"


def raises(message: str):
    return pytest.raises(InputError, match=re.escape(message))


def test_boris_fps_disagrees(shared_data):
    with raises(f"{ETHOME}, line 17: the file says 30 fps, the recording has 25 fps"):
        read_boris(shared_data / ETHOME, fps=25)


def test_boris_media_length_disagrees(shared_data):
    with raises(f"{ETHOME}, line 17: the file's media is 190.000 s long, the recording 200.000 s "
                "(6000 frames at 30 fps)"):
        read_boris(shared_data / ETHOME, fps=30, n_frames=6000)


def test_boris_unclosed_start(tmp_path):
    path = boris8(tmp_path / "open.csv", TWO_MICE[:-1])  # m2's last sniff never stopped
    with raises("open.csv, line 9: START of 'sniff' by 'm2' (m1) is never stopped (unclosed START)"):
        read_boris(path, fps=25)


def test_boris_stop_without_start(tmp_path):
    path = boris8(tmp_path / "stop.csv", [("m1", "sniff", "", "STOP", 3.0)])
    with raises("stop.csv, line 2: STOP of 'sniff' by 'm1' without a START"):
        read_boris(path, fps=25)


def test_boris_fps_per_player_must_agree(tmp_path):
    path = boris8(tmp_path / "two.csv", [("m1", "jump", "", "POINT", 3.0)], fps="25.000|30.000")
    with raises("two.csv, line 2: FPS '25.000;30.000' is not a number (several media files? export one video "
                "per file)"):
        read_boris(path, fps=25)


def test_boris_live_observation_is_refused(tmp_path):
    path = boris8(tmp_path / "live.csv", [("m1", "jump", "", "POINT", 3.0)])
    path.write_text(path.read_text().replace("Media file(s)", "Live observation"))
    with raises("live.csv, line 2: the observation is a 'Live observation', with no video to put its events on"):
        read_boris(path, fps=25)


def test_annotation_past_the_end_of_the_video(tmp_path):
    events = [("m1", "sniff", "", "START", 59.0), ("m1", "sniff", "", "STOP", 62.5)]  # 60 s of media, 2 s offset
    path = boris8(tmp_path / "late.csv", events)
    with raises("late.csv, line 2: 'sniff' bout at frames 1425-1513 ends after the video (1500 frames)"):
        read_boris(path, fps=25, n_frames=1500)


def test_subject_not_in_mapping(shared_data):
    with raises(f"{ETHOME}, line 17: subject 'adult' is not in the mapping (known: 'juvenile')"):
        read_boris(shared_data / ETHOME, fps=30, subjects={"juvenile": "m02"})


def test_target_not_in_mapping(tmp_path):
    path = boris8(tmp_path / "obs1.csv", [("m1", "sniff", "m3", "START", 3.0), ("m1", "sniff", "m3", "STOP", 4.0)])
    with raises("obs1.csv, line 2: target 'm3' is not in the mapping (known: 'm1', 'm2')"):
        read_boris(path, fps=25, target_modifier=1, subjects=["m1", "m2"])


def test_behaviour_not_in_mapping(shared_data):
    with raises(f"{ETHOME}, line 17: behaviour 'interact' is not in the mapping (known: 'attack', 'sniff')"):
        read_boris(shared_data / ETHOME, fps=30, behaviors={"attack": "attack", "sniff": "sniff"})


def test_boris_several_observations_must_be_chosen(tmp_path):
    path = boris_project(tmp_path / "p.boris", {"a": observation([]), "b": observation([])})
    with raises("p.boris: the project has 2 observations ('a', 'b'): choose one with observation="):
        read_boris_project(path, fps=25)


def test_boris_project_unclosed_start_names_the_event(tmp_path):
    events = [[1.0, "m1", "sniff", "", ""], [2.0, "m1", "sniff", "", ""], [3.0, "m1", "sniff", "", ""]]
    path = boris_project(tmp_path / "p.boris", {"a": observation(events)})
    with raises("p.boris [observation 'a'], event 3: START of 'sniff' by 'm1' is never stopped"):
        read_boris_project(path, fps=25)


def test_boris_project_fps_disagrees(tmp_path):
    path = boris_project(tmp_path / "p.boris", {"a": observation([], fps=25.0)})
    with raises("p.boris [observation 'a']: the file says 25 fps, the recording has 30 fps"):
        read_boris_project(path, fps=30)


def test_bento_fps_disagrees(shared_data):
    with raises("bento_Together_1.annot, line 7: the file says 30 fps, the recording has 25 fps"):
        read_bento(shared_data / "annotation_formats/bento_Together_1.annot", fps=25)


def test_bento_whole_numbers_are_ambiguous(tmp_path):
    path = tmp_path / "f.annot"
    path.write_text("Bento annotation file\nAnnotation framerate: 30\n\nCh1----------\n>mount\nStart Stop Duration\n"
                    "10 19 10\n\n")
    with raises("f.annot: every Start/Stop value is a whole number: frames or seconds? pass units='frames' or "
                "units='seconds'"):
        read_bento(path, fps=30)


def test_bento_several_channels_must_be_chosen(tmp_path):
    path = tmp_path / "c.annot"
    path.write_text("Bento annotation file\n\nCh1----------\n>a\nStart Stop Duration\n1.5 2.5 1\n\n\n"
                    "Ch2----------\n>a\nStart Stop Duration\n1.5 2.5 1\n\n")
    with raises("c.annot: 2 channels hold bouts ('Ch1', 'Ch2'): choose one with channel="):
        read_bento(path, fps=30)


def test_bento_duration_contradicts_start_stop(tmp_path):
    path = tmp_path / "d.annot"
    path.write_text("Bento annotation file\n\nCh1----------\n>a\nStart Stop Duration\n1.5 2.5 4\n\n")
    with raises("d.annot, line 6: Duration 4 is neither Stop - Start (1) nor Stop - Start + 1 frame (1.03333)"):
        read_bento(path, fps=30)


def test_per_frame_csv_in_seconds_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("time,background,groom\n0.0,1,0\n0.0333,0,1\n")
    with raises("t.csv, line 2: first column '0.0' where frame 0 was expected: a DeepEthogram label file has one "
                "row per frame, counted from 0 (frames, not seconds or frame numbers with gaps)"):
        read_deepethogram(path, fps=30)


def test_deepethogram_longer_than_the_video(shared_data):
    with raises("deepethogram_Together_1.csv, line 1702: the file labels 1738 frames, the video has 1700"):
        read_deepethogram(shared_data / "annotation_formats/deepethogram_Together_1.csv", fps=30, n_frames=1700)


def test_simba_classifier_column_missing(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text(",Nose_1_x,Nose_1_y,Attack\n0,1.0,2.0,0\n")
    with raises("v.csv, line 1: no classifier column 'Mount' (the last columns are '', 'Nose_1_x', 'Nose_1_y', "
                "'Attack')"):
        read_simba(path, fps=30, classifiers=["Attack", "Mount"])


def test_bout_csv_without_units_is_refused(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("behavior,subject,start,stop\ngroom,m1,1,2\n")
    with raises("b.csv, line 1: the header does not say frames or seconds (columns ['behavior', 'subject', 'start', "
                "'stop']): name the times start_frame, stop_frame (frames) or start_s, stop_s (seconds)"):
        read_bout_csv(path, fps=30)


def test_bout_csv_with_both_units_is_refused(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("behavior,start_frame,stop_frame,start_s,stop_s\ngroom,30,60,1,2\n")
    with raises("b.csv, line 1: both frame and second columns: keep one pair"):
        read_bout_csv(path, fps=30)


def test_bout_csv_empty_bout(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("behavior,subject,start_frame,stop_frame\ngroom,m1,10,20\ngroom,m1,30,30\n")
    with raises("b.csv, line 3: bout [30, 30) is empty or before frame 0"):
        read_bout_csv(path, fps=30)


def test_fps_is_required():
    with pytest.raises(ValueError, match="fps must be a positive number"):
        read_bout_csv("any.csv", fps=0)
