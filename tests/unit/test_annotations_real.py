"""Every real annotation file in ../shared/data reads; bout counts and durations checked.

Counts and durations are computed here from the raw files with csv (not by
the readers) and also asserted as literal figures.
"""

import csv
from collections import Counter
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.io.bento import read_bento
from pipeline.io.boris import read_boris, write_boris
from pipeline.io.deepethogram import read_deepethogram, write_deepethogram
from pipeline.io.simba import read_simba, read_simba_classifiers

FPS = 30.0
# file -> (START/STOP bouts of 'interact' by 'adult', total seconds, media seconds), from the raw files
BORIS = {
    "e3v813a-20210610T120637-121213_reencode.csv": (15, 36.470, 336.0),
    "e3v813a-20210610T121558-122141_reencode.csv": (29, 68.747, 343.0),
    "e3v813a-20210610T122332-122642_reencode.csv": (10, 22.096, 190.0),
    "e3v813a-20210610T122758-123309_reencode.csv": (8, 9.100, 311.0),
    "e3v813a-20210610T123521-124106_reencode.csv": (32, 48.548, 344.97),
}


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def raw_boris(path: Path):
    """(bouts per (subject, behaviour), seconds per behaviour, media lengths, fps values) straight from the CSV."""
    rows = csv_rows(path)
    header_at = next(i for i, r in enumerate(rows) if r[:1] == ["Time"])
    header = rows[header_at]
    events = [dict(zip(header, r)) for r in rows[header_at + 1:] if any(r)]
    open_, counts, seconds = {}, Counter(), Counter()
    for e in events:
        key = (e["Subject"], e["Behavior"])
        if e["Status"] == "START":
            open_[key] = float(e["Time"])
        else:
            counts[key] += 1
            seconds[e["Behavior"]] += float(e["Time"]) - open_.pop(key)
    return counts, seconds, {float(e["Total length"]) for e in events}, {float(e["FPS"]) for e in events}


@pytest.mark.parametrize("name", sorted(BORIS))
def test_boris_exports_read(shared_data, name):
    path = shared_data / "boris_annotations" / name
    counts, seconds, lengths, fps_values = raw_boris(path)
    n_bouts, total, media = BORIS[name]
    assert counts == {("adult", "interact"): n_bouts}
    assert seconds["interact"] == pytest.approx(total, abs=1e-6)
    assert lengths == {media} and fps_values == {FPS}

    a = read_boris(path, fps=FPS, n_frames=round(media * FPS))
    assert a.counts() == {"interact": n_bouts}
    assert {(b.subject, b.target, b.point) for b in a.bouts} == {("adult", None, False)}
    # each end is within half a frame of its time: at most one frame per bout in all
    assert abs(a.frames()["interact"] / FPS - total) <= n_bouts / FPS
    assert (a.file_fps, a.media_seconds, a.time_offset) == (FPS, media, 0.0)
    assert a.media_file.endswith(name.replace(".csv", ".avi"))


def test_boris_matches_its_pose_file(shared_data):
    """ethome_pose_boris: the annotation's 190 s is the DLC file's 5,700 frames; bouts fit inside them."""
    folder = shared_data / "ethome_pose_boris"
    pose = next(folder.glob("*DLC*.csv"))
    with open(pose, newline="") as f:
        n_frames = sum(1 for _ in f) - 4  # scorer, individuals, bodyparts, coords
    assert n_frames == 5700
    path = folder / "e3v813a-20210610T122332-122642_reencode.csv"
    a = read_boris(path, fps=FPS, n_frames=n_frames, subjects={"adult": "m01"}, behaviors=["interact"])
    assert a.counts() == {"interact": 10} and {b.subject for b in a.bouts} == {"m01"}
    assert (a.bouts[0].start_frame, a.bouts[0].stop_frame) == (896, 1042)  # 29.850 s, 34.725 s
    assert a.bouts[-1].stop_frame == 5417  # 180.550 s
    assert read_boris(path, fps=FPS).bouts == read_boris(shared_data / "boris_annotations" / path.name,
                                                         fps=FPS).bouts


def test_boris_real_file_round_trip(shared_data, tmp_path):
    a = read_boris(shared_data / "boris_annotations" / "e3v813a-20210610T121558-122141_reencode.csv", fps=FPS)
    for suffix in (".csv", ".tsv"):
        b = read_boris(write_boris(a, tmp_path / f"out{suffix}"), fps=FPS)
        assert b.bouts == a.bouts and (b.media_seconds, b.file_fps) == (a.media_seconds, a.file_fps)


def raw_bento(path: Path):
    """{behaviour: (rows, sum of the Duration column)} of every channel, from the text."""
    out, behavior = {}, None
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            behavior = line[1:]
        elif behavior and line[:1].isdigit():
            n, total = out.get(behavior, (0, 0.0))
            out[behavior] = (n + 1, total + float(line.split()[2]))
    return out


def test_bento_file_reads(shared_data):
    path = shared_data / "annotation_formats" / "bento_Together_1.annot"
    raw = raw_bento(path)
    assert {k: n for k, (n, _) in raw.items()} == {"Attack": 131, "Sniffing": 98}
    assert raw["Attack"][1] == pytest.approx(150.6, abs=1e-6)
    assert raw["Sniffing"][1] == pytest.approx(35.4, abs=1e-6)

    a = read_bento(path, fps=FPS, subject="resident", n_frames=19955)
    assert a.counts() == {k: n for k, (n, _) in raw.items()}
    # Bento's Duration counts the stop frame: it is exactly the bout's frames / fps
    assert {k: v / FPS for k, v in a.frames().items()} == pytest.approx({k: s for k, (_, s) in raw.items()})
    assert a.frames() == {"Attack": 4518, "Sniffing": 1062}
    assert (a.file_fps, a.n_frames, a.behaviors) == (FPS, 19955, ("Attack", "Sniffing"))
    first = min(a.bouts, key=lambda b: b.start_frame)  # Sniffing 2.6667-2.9667 s: Bento frames 80-89
    assert (first.behavior, first.start_frame, first.stop_frame, first.subject) == ("Sniffing", 79, 89, "resident")


def raw_runs(path: Path):
    """{column: (number of runs of 1, frames at 1)} and the row count, from the CSV."""
    rows = csv_rows(path)
    header, data = rows[0], rows[1:]
    out = {}
    for j, name in enumerate(header[1:], start=1):
        values = [int(r[j]) for r in data]
        starts = sum(1 for before, now in zip([0, *values], values) if now == 1 and before != 1)
        out[name] = (starts, values.count(1))
    return out, len(data)


def test_deepethogram_file_reads(shared_data, tmp_path):
    path = shared_data / "annotation_formats" / "deepethogram_Together_1.csv"
    assert path.read_bytes().count(b"\r\n") == 1738  # CRLF (the last row has no line end)
    raw, n_rows = raw_runs(path)
    assert n_rows == 1738
    # Sniffing is on at every frame, yet 5 rows (168, 248, 455, 750, 942) also say background: the behaviour wins
    assert raw == {"background": (5, 5), "Attack": (16, 1037), "Sniffing": (1, 1738)}

    a = read_deepethogram(path, fps=FPS, n_frames=1738)
    assert a.counts() == {k: n for k, (n, _) in raw.items() if k != "background"}
    assert a.frames() == {k: f for k, (_, f) in raw.items() if k != "background"}
    assert (a.n_frames, a.behaviors) == (1738, ("Attack", "Sniffing"))
    b = read_deepethogram(write_deepethogram(a, tmp_path / "labels.csv"), fps=FPS)
    assert b.bouts == a.bouts and b.n_frames == a.n_frames


def test_simba_meta_file_names_the_classifier(shared_data, tmp_path):
    """The real SimBA file is a model meta file: it names the classifier, it holds no frames."""
    path = shared_data / "annotation_formats" / "simba_Attack_meta_0.csv"
    with open(path, newline="") as f:
        names = tuple(r["Classifier_name"] for r in csv.DictReader(f))
    assert names == ("Attack",)
    assert read_simba_classifiers(path) == names
    with pytest.raises(InputError, match=r"simba_Attack_meta_0.csv, line 1: this is a SimBA model meta file"):
        read_simba(path, fps=FPS, classifiers=path)
    # a targets file built from the real DeepEthogram labels, read with the meta file's classifier
    deg = csv_rows(shared_data / "annotation_formats" / "deepethogram_Together_1.csv")
    targets = tmp_path / "Together_1.csv"
    with open(targets, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["", "Nose_1_x", "Nose_1_y", "Nose_1_p", "Attack"])
        writer.writerows([r[0], 10.5, 20.25, 0.99, r[2]] for r in deg[1:])
    a = read_simba(targets, fps=FPS, classifiers=path, subject="resident")
    assert a.counts() == {"Attack": 16} and a.frames() == {"Attack": 1037} and a.n_frames == 1738
