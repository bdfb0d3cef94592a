"""Format variants the shared data has no file for, written here from each tool's documented layout,
and read -> write -> read round trips."""

import csv
import json

import pytest

from pipeline.annotations import Annotation, Bout
from pipeline.io.bento import read_bento
from pipeline.io.boris import read_boris, write_boris
from pipeline.io.boris_project import read_boris_project
from pipeline.io.bout_csv import read_bout_csv, write_bout_csv
from pipeline.io.deepethogram import read_deepethogram, write_deepethogram
from pipeline.io.simba import read_simba

# BORIS >= 8 "Export events" header (export_observation.export_tabular_events), one modifier, a variable "arena"
BORIS8 = ["Observation id", "Observation date", "Description", "Observation duration", "Observation type",
          "Source", "Time offset (s)", "Media duration (s)", "FPS", "arena", "Subject", "Behavior",
          "Behavioral category", "Modifier #1", "Behavior type", "Time", "Media file name", "Image index",
          "Image file path", "Comment"]


def boris8(path, events, *, offset="2.0", fps="25.000", length="60.000", sep=","):
    """Write (subject, behaviour, modifier, status, time) events as BORIS 8 does."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter=sep)
        w.writerow(BORIS8)
        for subject, behavior, modifier, status, time in events:
            w.writerow(["obs1", "2024-05-01 10:00:00", "", "58.0", "Media file(s)", "player #1:/v/trial1.mp4",
                        offset, length, fps, "A", subject, behavior, "social", modifier, status, f"{time:.3f}",
                        "/v/trial1.mp4", "NA", "NA", ""])
    return path


TWO_MICE = [  # simultaneous starts, several subjects and behaviours, a point event, a directed behaviour
    ("m1", "sniff", "m2", "START", 3.0), ("m2", "rear", "", "START", 3.0), ("m1", "sniff", "m2", "STOP", 4.0),
    ("m1", "sniff", "m2", "START", 5.0), ("m2", "rear", "", "STOP", 5.5), ("No focal subject", "noise", "",
                                                                          "POINT", 6.0),
    ("m1", "sniff", "m2", "STOP", 7.04), ("m2", "sniff", "m1", "START", 7.04), ("m2", "sniff", "m1", "STOP", 8.0),
]
EXPECTED = [  # 25 fps, time offset 2 s: frame = round((t - 2) * 25)
    Bout("sniff", "m1", "m2", 25, 50), Bout("rear", "m2", None, 25, 88), Bout("sniff", "m1", "m2", 75, 126),
    Bout("noise", "", None, 100, 101, point=True), Bout("sniff", "m2", "m1", 126, 150),
]


def by_start(bouts):
    return sorted(bouts, key=lambda b: (b.start_frame, b.behavior, b.subject))


def test_boris8_layout(tmp_path):
    a = read_boris(boris8(tmp_path / "obs1.csv", TWO_MICE), fps=25, n_frames=1500, target_modifier=1)
    assert list(a.bouts) == by_start(EXPECTED)
    assert (a.file_fps, a.media_seconds, a.time_offset, a.media_file) == (25.0, 60.0, 2.0, "/v/trial1.mp4")
    assert a.counts() == {"sniff": 3, "rear": 1, "noise": 1}
    plain = read_boris(tmp_path / "obs1.csv", fps=25)  # without target_modifier: no targets
    assert {b.target for b in plain.bouts} == {None}


def test_boris_old_layout_tsv_with_modifiers(tmp_path):
    """BORIS < 8: preamble (time offset there), then Time ... Modifier 1, Comment, Status; tab-separated."""
    path = tmp_path / "old.tsv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerows([["Observation id", "obs1"], [""], ["Media file(s)"], [""], ["Player #1", "trial1.mp4"], [""],
                     ["Time offset (s)", "2.0"], [""], ["independent variables"], ["variable", "value"],
                     ["arena", "A"], [""],
                     ["Time", "Media file path", "Total length", "FPS", "Subject", "Behavior",
                      "Behavioral category", "Modifier 1", "Comment", "Status"]])
        for subject, behavior, modifier, status, time in TWO_MICE:
            w.writerow([f"{time:.3f}", "trial1.mp4", "60.000", "25.0", subject, behavior, "", modifier, "", status])
    a = read_boris(path, fps=25, target_modifier=1)
    assert list(a.bouts) == by_start(EXPECTED)
    assert (a.time_offset, a.media_file, a.media_seconds) == (2.0, "trial1.mp4", 60.0)


def test_boris_aggregated_layout(tmp_path):
    path = tmp_path / "agg.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Observation id", "Time offset (s)", "Media duration (s)", "FPS", "Subject", "Behavior",
                    "Behavioral category", "Behavior type", "Start (s)", "Stop (s)", "Duration (s)",
                    "Media file name"])
        w.writerow(["obs1", "0.0", "60.000", "25.000", "m1", "groom", "", "STATE", "1.000", "2.000", "1.000", "v"])
        w.writerow(["obs1", "0.0", "60.000", "25.000", "m1", "jump", "", "POINT", "3.000", "NA", "NA", "v"])
    a = read_boris(path, fps=25)
    assert list(a.bouts) == [Bout("groom", "m1", None, 25, 50), Bout("jump", "m1", None, 75, 76, point=True)]


def test_boris_round_trip_with_targets_and_points(tmp_path):
    a = read_boris(boris8(tmp_path / "obs1.csv", TWO_MICE), fps=25, target_modifier=1)
    for name in ("out.csv", "out.tsv"):
        b = read_boris(write_boris(a, tmp_path / name), fps=25, target_modifier=1)
        assert b.bouts == a.bouts and b.time_offset == 2.0 and b.media_seconds == 60.0


def boris_project(path, observations):
    """A BORIS project file as BORIS 8 saves it (config.py field names)."""
    project = {
        "project_format_version": "7.0", "project_name": "test", "time_format": "S",
        "subjects_conf": {"0": {"key": "1", "name": "m1", "description": ""},
                          "1": {"key": "2", "name": "m2", "description": ""}},
        "behaviors_conf": {"0": {"type": "State event", "key": "s", "code": "sniff", "category": "", "modifiers": {
            "0": {"name": "partner", "type": 0, "values": ["m1", "m2"]}}, "excluded": "", "coding map": ""},
                           "1": {"type": "Point event", "key": "j", "code": "jump", "category": "", "modifiers": {},
                                 "excluded": "", "coding map": ""}},
        "observations": observations, "behavioral_categories": [], "independent_variables": {}, "coding_map": {},
    }
    path.write_text(json.dumps(project))
    return path


def observation(events, *, offset=0.0, fps=25.0, length=60.0):
    return {"date": "2024-05-01T10:00:00", "type": "MEDIA", "description": "", "time offset": offset,
            "file": {"1": ["trial1.mp4"], "2": []}, "events": events,
            "media_info": {"length": {"trial1.mp4": length}, "fps": {"trial1.mp4": fps},
                           "hasVideo": {"trial1.mp4": True}, "hasAudio": {"trial1.mp4": False},
                           "offset": {"1": 0.0}}}


def test_boris_project_file(tmp_path):
    events = [[1.0, "m1", "sniff", "m2", "", 25], [1.0, "m2", "sniff", "m1", ""], [1.5, "m1", "jump", "", ""],
              [2.0, "m1", "sniff", "m2", "", 50], [3.0, "m2", "sniff", "m1", ""],
              [4.0, "m1", "sniff", "m2", ""], [4.4, "m1", "sniff", "m2", ""]]
    path = boris_project(tmp_path / "p.boris", {"trial1": observation(events, offset=0.4),
                                                "trial2": observation([])})
    a = read_boris_project(path, fps=25, observation="trial1", n_frames=1500, target_modifier=1)
    assert list(a.bouts) == [Bout("sniff", "m1", "m2", 15, 40), Bout("sniff", "m2", "m1", 15, 65),
                             Bout("jump", "m1", None, 28, 29, point=True), Bout("sniff", "m1", "m2", 90, 100)]
    assert (a.fmt, a.unit, a.behaviors, a.time_offset, a.media_seconds) == \
        ("boris_project", "event", ("sniff", "jump"), 0.4, 60.0)
    assert read_boris_project(path, fps=25, observation="trial2").bouts == ()


def test_bento_frames_and_half_open_variants(tmp_path):
    text = ("Bento annotation file\nMovie file(s): top.seq\n\nStimulus name: \nAnnotation start frame: 1\n"
            "Annotation stop frame: 300\nAnnotation framerate: 30\n\nList of channels:\nCh1\nCh2\n\n"
            "List of annotations:\nmount\n\nCh1----------\n>mount\nStart\t Stop\t Duration \n10\t19\t10\n\n\n"
            "Ch2----------\n>mount\nStart\t Stop\t Duration \n1\t3\t3\n\n\n")
    path = tmp_path / "frames.annot"
    path.write_text(text)
    a = read_bento(path, fps=30, units="frames", channel="Ch1")
    assert list(a.bouts) == [Bout("mount", "", None, 9, 19)]  # Bento frames 10..19, 1-based, inclusive
    assert read_bento(path, fps=30, units="frames", channel="Ch2").bouts == (Bout("mount", "", None, 0, 3),)
    half_open = tmp_path / "half_open.annot"  # other tools write start/stop times with Duration = Stop - Start
    half_open.write_text("Bento annotation file\nAnnotation framerate: 30.000000\nAnnotation stop time: 10.0\n\n"
                         "Ch1----------\n>attack\nStart Stop Duration\n1.000000 1.500000 0.500000\n\n")
    b = read_bento(half_open, fps=30)
    assert list(b.bouts) == [Bout("attack", "", None, 30, 45)] and b.n_frames == 300


def test_deepethogram_unlabelled_frames(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(",background,groom\n0,1,0\n1,0,1\n2,-1,-1\n3,0,1\n4,0,1\n")
    a = read_deepethogram(path, fps=30, subject="m1")
    assert list(a.bouts) == [Bout("groom", "m1", None, 1, 2), Bout("groom", "m1", None, 3, 5)]


def test_simba_targets_without_index_and_from_project_config(tmp_path):
    config = tmp_path / "project_config.ini"
    config.write_text("[SML settings]\nno_targets = 2\ntarget_name_1 = Attack\ntarget_name_2 = Mount\n")
    path = tmp_path / "Video_1.csv"
    path.write_text("Nose_1_x,Nose_1_y,Nose_1_p,Movement,Attack,Mount\n" +
                    "".join(f"1.0,2.0,0.9,0.5,{int(3 <= i < 6)},{int(i >= 8)}\n" for i in range(10)))
    a = read_simba(path, fps=30, classifiers=config)
    assert list(a.bouts) == [Bout("Attack", "", None, 3, 6), Bout("Mount", "", None, 8, 10)]
    assert a.behaviors == ("Attack", "Mount") and a.n_frames == 10


def test_bout_csv_frames_seconds_and_round_trip(tmp_path):
    frames = tmp_path / "frames.csv"
    frames.write_text("Behaviour,Agent,Target,start_frame,stop_frame,notes\nattack,m1,m2,120,185,x\n"
                      "rear,m1,,300,\n")
    a = read_bout_csv(frames, fps=30)
    assert list(a.bouts) == [Bout("attack", "m1", "m2", 120, 185), Bout("rear", "m1", None, 300, 301, point=True)]
    seconds = tmp_path / "seconds.csv"
    seconds.write_text("behavior,subject,start_s,stop_s\ngroom,m2,1.0,2.5\n")
    assert read_bout_csv(seconds, fps=30).bouts == (Bout("groom", "m2", None, 30, 75),)
    for units in ("frames", "seconds"):
        b = read_bout_csv(write_bout_csv(a, tmp_path / f"out_{units}.csv", units=units), fps=30)
        assert b.bouts == a.bouts


def test_deepethogram_round_trip_from_other_formats(tmp_path):
    a = Annotation((Bout("groom", "m1", None, 2, 5), Bout("rear", "m1", None, 4, 6),
                    Bout("rear", "m1", None, 9, 10, point=True)), fps=30.0, source="-", fmt="csv",
                   behaviors=("groom", "rear", "attack"))
    b = read_deepethogram(write_deepethogram(a, tmp_path / "l.csv", n_frames=12), fps=30, subject="m1")
    assert b.bouts == tuple(Bout(x.behavior, "m1", None, x.start_frame, x.stop_frame) for x in a.bouts)
    assert (b.n_frames, b.behaviors) == (12, ("groom", "rear", "attack"))
    rows = (tmp_path / "l.csv").read_text().splitlines()
    assert rows[0] == ",background,groom,rear,attack" and rows[1] == "0,1,0,0,0" and rows[4] == "3,0,1,0,0"


def test_read_and_write_by_format(shared_data, tmp_path):
    from pipeline.annotations import read_annotation, write_annotation
    from pipeline.errors import InputError

    bento = shared_data / "annotation_formats" / "bento_Together_1.annot"
    assert read_annotation(bento, fps=30).bouts == read_bento(bento, fps=30).bouts  # .annot: Bento
    labels = shared_data / "annotation_formats" / "deepethogram_Together_1.csv"
    with pytest.raises(InputError, match="say which format it is: fmt= one of boris, boris_project, bento"):
        read_annotation(labels, fps=30)
    a = read_annotation(labels, fps=30, fmt="deepethogram", subject="resident")
    for fmt, name in (("boris", "a.tsv"), ("csv", "a.csv")):
        back = read_annotation(write_annotation(a, tmp_path / name, fmt=fmt), fps=30, fmt=fmt)
        assert back.bouts == a.bouts
