"""Bad manifests and bad pose files: one InputError each, naming the file or entry and the problem (no database).

Every case goes through what ``ethojoint ingest`` runs before it writes anything: ``read_manifest`` then
``plan_manifest`` (which reads every pose file). Frame counts that disagree are warnings, not errors.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.errors import InputError
from pipeline.manifest import plan_manifest, read_manifest
from pipeline.manifest_load import dump_manifest
from pipeline.manifest_values import LIMITS

OPENFIELD = "dlc_openfield/openfield_dlc_inference_example.csv"


def dlc_csv(shared: Path, path: Path, *, rows=300, drop=(), blank=False) -> Path:
    """A copy of a real single-animal DLC CSV: its first ``rows`` frames, without the columns ``drop``
    (indices: 1-3 are snout x, y, likelihood; 12 is tailbase likelihood), every value emptied if ``blank``."""
    lines = (shared / OPENFIELD).read_text().splitlines()[: 3 + rows]
    out = []
    for n, line in enumerate(lines):
        cells = [c for i, c in enumerate(line.split(",")) if i not in drop]
        if blank and n >= 3:
            cells = cells[:1] + [""] * (len(cells) - 1)
        out.append(",".join(cells))
    path.write_text("\n".join(out) + "\n")
    return path


def write_video(path: Path, n_frames: int, fps: int = 30) -> Path:
    """A tiny real video (16 x 16 grey frames) with exactly ``n_frames`` frames."""
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(str(path), (16, 16), fps=fps, pix_fmt_in="gray", macro_block_size=1)
    writer.send(None)
    for i in range(n_frames):
        writer.send(np.full((16, 16), i % 256, dtype=np.uint8).tobytes())
    writer.close()
    return path


def manifest(recordings=None, session="s1", **recording) -> dict:
    rec = {"camera": "top", "fps": 30, "mm_per_px": 0.5, "pose": [{"source": "dlc", "file": "pose.csv"}]}
    rec.update(recording)
    return {"subjects": [{"subject": "m1", "sex": "F", "age_group": "young"}],
            "sessions": [{"session": session, "datetime": "2026-03-01 10:00:00", "animals": [{"subject": "m1"}],
                          "recordings": recordings or [rec]}]}


def yaml_file(folder: Path, data: dict, name="manifest.yaml") -> Path:
    path = folder / name
    path.write_text(dump_manifest(data))
    return path


def plan(path: Path):
    return plan_manifest(read_manifest(path), base=path.parent, roots=[path.parent], source=str(path))


# Each builder writes its bad input into the folder and returns (manifest, the file the message must name).

def _inf_fps(folder, shared):
    path = yaml_file(folder, manifest(fps=float("inf")))
    assert "fps: .inf" in path.read_text()
    return path, path


def _inf_scale(folder, shared):
    path = yaml_file(folder, manifest(mm_per_px=float("inf")))
    assert "mm_per_px: .inf" in path.read_text()
    return path, path


def _nan_fps(folder, shared):
    return (path := yaml_file(folder, manifest(fps=float("nan")))), path


def _negative_arena(folder, shared):
    data = manifest(mm_per_px=None, arena={"diameter_mm": 400, "diameter_px": -800})
    return (path := yaml_file(folder, data)), path


def _csv_latin1_file_name(folder, shared):
    path = folder / "manifest.csv"
    path.write_bytes("session,session_datetime,subject,sex,age_group,camera,fps,pose_file\n"
                     "s1,2026-03-01 10:00:00,m1,F,young,top,30,pos\xe9.csv\n".encode("latin-1"))
    return path, path


def _latin1_yaml(folder, shared):
    path = folder / "manifest.yaml"
    path.write_bytes(("# Jos\xe9\n" + yaml.safe_dump(manifest())).encode("latin-1"))
    return path, path


def _binary(folder, shared):
    path = folder / "manifest.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    return path, path


def _nul_bytes(folder, shared):
    path = folder / "manifest.yaml"
    path.write_bytes(b"sessions: []\n\x00\x00\x00\n")
    return path, path


def _non_utf8_folder(folder, shared):
    odd = folder / os.fsdecode(b"caf\xe9")
    odd.mkdir()
    dlc_csv(shared, odd / "pose.csv")
    path = yaml_file(odd, manifest())
    return path, os.fsencode(path).decode("utf-8", "backslashreplace")


def _session_as_text(folder, shared):
    data = manifest()
    data["sessions"].insert(0, "s01")
    return (path := yaml_file(folder, data)), path


def _sessions_as_mapping(folder, shared):
    data = manifest()
    data["sessions"] = {"s1": data["sessions"][0]}
    return (path := yaml_file(folder, data)), path


def _tracks_as_list(folder, shared):
    data = manifest(pose=[{"source": "dlc", "file": "pose.csv", "tracks": ["individual_0"]}])
    return (path := yaml_file(folder, data)), path


def _arena_as_text(folder, shared):
    return (path := yaml_file(folder, manifest(mm_per_px=None, arena="round-40cm"))), path


def _long_session(folder, shared):
    return (path := yaml_file(folder, manifest(session="s" * 84))), path


def _long_camera(folder, shared):
    return (path := yaml_file(folder, manifest(camera="c" * 40))), path


def _long_experimenter(folder, shared):
    data = manifest()
    data["sessions"][0]["experimenter"] = "e" * 65
    return (path := yaml_file(folder, data)), path


def _unknown_format(folder, shared):
    data = manifest(pose=[{"source": "dlc", "file": "pose.csv", "format": "deeplabcut"}])
    return (path := yaml_file(folder, data)), path


def _x_without_y(folder, shared):
    return yaml_file(folder, manifest()), dlc_csv(shared, folder / "pose.csv", drop=(2,))


def _no_likelihood_for_one(folder, shared):
    return yaml_file(folder, manifest()), dlc_csv(shared, folder / "pose.csv", drop=(12,))


def _all_nan(folder, shared):
    return yaml_file(folder, manifest()), dlc_csv(shared, folder / "pose.csv", blank=True)


def _alias_bomb(folder, shared):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]" for a, b in zip("abcdefgh", "bcdefghi")]
    path = folder / "manifest.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 1024
    return path, path


def _merge_key(folder, shared):
    path = folder / "manifest.yaml"
    path.write_text("base: &base {fps: 30}\nsessions:\n  - <<: *base\n    session: s1\n")
    return path, path


def _too_big(folder, shared):
    path = yaml_file(folder, manifest())
    with open(path, "a") as f:
        f.write(("# " + "x" * 1022 + "\n") * (10 * 1024))
    return path, path


CASES = {
    "fps .inf": (_inf_fps, "sessions[0].recordings[0].fps: must be a finite number > 0, got inf"),
    "mm_per_px .inf": (_inf_scale, "sessions[0].recordings[0].mm_per_px: must be a finite number > 0, got inf"),
    "fps .nan": (_nan_fps, "recordings[0].fps: must be a finite number > 0, got nan"),
    "negative arena": (_negative_arena, "arena.diameter_px: must be a finite number > 0, got -800"),
    "CSV with a Latin-1 file name": (_csv_latin1_file_name, "not UTF-8 text (byte 0xe9 at offset 112)"),
    "Latin-1 YAML": (_latin1_yaml, "not UTF-8 text (byte 0xe9 at offset 5); save the manifest as UTF-8"),
    "binary file": (_binary, "not UTF-8 text (byte 0x89 at offset 0)"),
    "NUL bytes": (_nul_bytes, "not UTF-8 text (it contains NUL bytes: a binary file?)"),
    "non-UTF-8 folder": (_non_utf8_folder, "the manifest's path is not UTF-8 text"),
    "session as text": (_session_as_text, "sessions[0]: each entry of sessions must be a mapping "
                                          "(session: s01, datetime: ..., animals: [...]), not the text 's01'"),
    "sessions as mapping": (_sessions_as_mapping, "manifest.yaml: sessions: must be a list of entries, not a dict"),
    "tracks as list": (_tracks_as_list, "sessions[0].recordings[0].pose[0].tracks: tracks must be a mapping "
                                        "({track_0: m01, track_1: m02}), not a list ['individual_0']"),
    "arena as text": (_arena_as_text, "recordings[0].arena: arena must be a mapping "
                                      "({diameter_mm: 400, diameter_px: 800}), not the text 'round-40cm'"),
    "84-character session": (_long_session, f"session id {'s' * 37 + '...'!r} is 84 characters long; "
                                            "the database holds at most 64"),
    "40-character camera": (_long_camera, f"sessions[0].recordings[0]: camera {'c' * 37 + '...'!r} is 40 characters "
                                          "long; the database holds at most 32"),
    "65-character experimenter": (_long_experimenter, "experimenter 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee...' is 65 "
                                                      "characters long; the database holds at most 64"),
    "unknown format": (_unknown_format, "pose[0].format: format 'deeplabcut' is not one of ('sleap', 'dlc', 'nwb', "
                                        "'anipose', 'lightning_pose')"),
    "DLC x without y": (_x_without_y, "pose.csv: missing column(s) snout y: every body part needs the same "
                                      "coordinates (x, y, likelihood)"),
    "DLC body part without likelihood": (_no_likelihood_for_one, "pose.csv: missing column(s) tailbase likelihood"),
    "all-NaN pose": (_all_nan, "pose.csv: every point of its 300 frame(s) is missing (NaN, or (0, 0) read as "
                               "missing): no pose data to score"),
    "alias bomb": (_alias_bomb, "line 1: YAML anchors and aliases (&name, *name) are not allowed in a manifest"),
    "merge key": (_merge_key, "line 1: YAML anchors and aliases"),
    "manifest over 10 MB": (_too_big, "bytes; at most 10485760 bytes (10 MB) are read"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gives_one_clear_error(case, shared_data, tmp_path):
    build, fragment = CASES[case]
    dlc_csv(shared_data, tmp_path / "pose.csv")
    path, named = build(tmp_path, shared_data)
    with pytest.raises(InputError) as err:
        plan(path)
    message = str(err.value)
    assert fragment in message, message
    assert message.startswith(f"{named}: "), message
    assert "\n" not in message


def test_the_good_neighbours_of_the_bad_cases_pass(shared_data, tmp_path):
    """Guards the cases above: the same manifest with a 64-character session id and finite numbers is fine."""
    dlc_csv(shared_data, tmp_path / "pose.csv")
    done = plan(yaml_file(tmp_path, manifest(session="s" * 64, camera="c" * 32)))
    assert [r["session"] for r in done.sessions] == ["s" * 64]
    assert done.recordings[0]["mm_per_px"] == 0.5 and not done.warnings
    assert done.tasks[0]["pose_path"] == "pose.csv"


def test_frame_counts_that_disagree_are_warned(shared_data, tmp_path):
    """A 600-frame video with a 300-frame pose file, and a second camera of 200 frames: one warning each."""
    write_video(tmp_path / "top.mp4", 600)
    dlc_csv(shared_data, tmp_path / "pose.csv", rows=300)
    dlc_csv(shared_data, tmp_path / "side.csv", rows=200)
    top = {"camera": "top", "video": "top.mp4", "mm_per_px": 0.5, "pose": [{"source": "dlc", "file": "pose.csv"}]}
    side = {"camera": "side", "fps": 30, "pose": [{"source": "dlc", "file": "side.csv"}]}
    path = yaml_file(tmp_path, manifest(recordings=[top, side]))
    warnings = plan(path).warnings
    assert warnings == [
        f"{path}: sessions[0].recordings[0].pose[0]: the pose file has 300 frames, the video top.mp4 has 600 "
        "(difference 300 > frame_count_tolerance 0)",
        f"{path}: sessions[0]: cameras 'top' (600 frames) and 'side' (200 frames) differ in length by 400 > "
        "frame_count_tolerance 0"]
    data = read_manifest(path)
    data["frame_count_tolerance"] = 300
    quiet = plan_manifest(data, base=tmp_path, roots=[tmp_path], source=str(path)).warnings
    assert quiet == [warnings[1].replace("frame_count_tolerance 0", "frame_count_tolerance 300")]


def test_stored_frame_warnings():
    """What PoseEstimation stores in provenance.params.warnings (every difference, whatever the tolerance)."""
    from pipeline.pose import PoseData
    from schemas.pose import frame_warnings

    pose = PoseData(np.zeros((300, 1, 2, 2)), np.zeros((300, 1, 2)), individuals=("a",), keypoints=("n", "t"))
    assert frame_warnings(pose, 600, "top", {"top": 600, "side": 200}) == [
        "the pose has 300 frames, the video 600 (difference 300)",
        "camera 'top' has 600 video frames, camera 'side' has 200"]
    assert frame_warnings(pose, 300, "top", {"top": 300, "side": None}) == []


COLUMNS = {  # LIMITS key -> (schemas module, table, attribute)
    "session": ("session", "Session", "session"), "subject": ("subject", "Subject", "subject"),
    "camera": ("recording", "VideoRecording", "camera"), "pose_source": ("pose", "PoseEstimationTask", "pose_source"),
    "skeleton": ("pose", "Skeleton", "skeleton"), "track": ("pose", "PoseEstimationTask.Track", "track"),
    "rig": ("calibration", "CameraRig", "rig"), "role": ("session", "Session.Animal", "role"),
    "age_group": ("subject", "Subject", "age_group"), "experimenter": ("session", "Session", "experimenter"),
    "arena": ("session", "Session", "arena"), "strain": ("subject", "Subject", "strain"),
    "genotype": ("subject", "Subject", "genotype"), "session_notes": ("session", "Session", "session_notes"),
    "subject_notes": ("subject", "Subject", "subject_notes"),
    "video_path": ("recording", "VideoRecording", "video_path"),
    "pose_path": ("pose", "PoseEstimationTask", "pose_path"),
    "pose_format": ("pose", "PoseEstimationTask", "pose_format"),
    "skeleton_role": ("pose", "SkeletonRole", "role"), "pose_model": ("models", "PoseModel", "pose_model"),
    "ethogram": ("annotation", "Ethogram", "ethogram"), "annotator": ("annotation", "Annotator", "annotator"),
    "label_set": ("annotation", "AnnotationSet", "label_set"),
    "behavior": ("annotation", "Ethogram.Behavior", "behavior"),
    "annotation_path": ("annotation", "AnnotationSet", "file_path"),
    "training_set": ("classifier", "ClassifierTrainingSet", "training_set"),
    "classifier": ("classifier", "Classifier", "classifier"),
    "roi_set_name": ("motion", "RecordingROISet", "roi_set_name"),
}


def test_limits_are_the_database_column_sizes():
    import importlib

    assert set(COLUMNS) == set(LIMITS)
    for key, (module, table, attribute) in COLUMNS.items():
        cls = importlib.import_module(f"schemas.{module}")
        for name in table.split("."):
            cls = getattr(cls, name)
        found = re.search(rf"^\s*{attribute}\s*(=[^:]*)?:\s*varchar\((\d+)\)", cls.definition, re.MULTILINE)
        assert found and int(found.group(2)) == LIMITS[key], (key, table, attribute)
