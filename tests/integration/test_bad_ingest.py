"""`ethojoint ingest` of bad manifests: exit code 2, one line on stderr naming the file, nothing written.

A good manifest is ingested first, so that a bad one that wrote anything would change the row counts or the
store's files. Frame counts that disagree are not errors: they are printed and stored with the pose.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import row_counts
from tests.unit.test_bad_manifests import dlc_csv, manifest, write_video, yaml_file

pytestmark = pytest.mark.integration


def _store_files(db) -> list[str]:
    store = Path(db["base"]) / f"store_{db['backend']}"
    return sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())


def _bomb(folder: Path) -> Path:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]" for a, b in zip("abcdefgh", "bcdefghi")]
    path = folder / "bomb.yaml"
    path.write_text("\n".join(lines) + "\nsessions: [{session: s1, rig: *i}]\n")
    return path


BAD = {  # case -> (manifest writer, the file the message names: 'manifest' or 'pose', message fragment)
    "fps .inf": (lambda d: yaml_file(d, manifest(session="s1", fps=float("inf")), "inf.yaml"), "manifest",
                 "sessions[0].recordings[0].fps: must be a finite number > 0, got inf"),
    "mm_per_px .inf": (lambda d: yaml_file(d, manifest(session="s1", mm_per_px=float("inf")), "scale.yaml"),
                       "manifest", "sessions[0].recordings[0].mm_per_px: must be a finite number > 0, got inf"),
    "alias bomb": (_bomb, "manifest",
                   "line 1: YAML anchors and aliases (&name, *name) are not allowed in a manifest"),
    "all-NaN pose": (lambda d: yaml_file(d, manifest(session="s1", pose=[{"source": "dlc", "file": "nan.csv"}]),
                                         "nan.yaml"), "pose",
                     "every point of its 300 frame(s) is missing (NaN, or (0, 0) read as missing)"),
    "84-character session": (lambda d: yaml_file(d, manifest(session="s" * 84), "long.yaml"), "manifest",
                             "is 84 characters long; the database holds at most 64"),
}


@pytest.fixture
def ingested(clean, shared_data, tmp_path, capsys):
    """One good session (s0) in the database and its pose arrays in the store."""
    from workers.cli import main

    dlc_csv(shared_data, tmp_path / "pose.csv")
    dlc_csv(shared_data, tmp_path / "nan.csv", blank=True)
    assert main(["ingest", str(yaml_file(tmp_path, manifest(session="s0"), "good.yaml")), "--quiet"]) == 0
    capsys.readouterr()
    return clean


@pytest.mark.parametrize("case", BAD)
def test_bad_manifest_exits_2_with_one_line_and_writes_nothing(case, ingested, tmp_path, capsys):
    from workers.cli import main

    write, named, fragment = BAD[case]
    path = write(tmp_path)
    before, files = row_counts(), _store_files(ingested)
    assert before["Session"] == 1 and before["PoseEstimation"] == 1 and len(files) >= 2
    assert main(["ingest", str(path), "--quiet"]) == 2
    lines = [line for line in capsys.readouterr().err.strip().splitlines()
             if not line.startswith("ethojoint: warning: the connection")]  # (a server without TLS: from connecting)
    source = path if named == "manifest" else tmp_path / "nan.csv"
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {source}: ") and fragment in lines[0], lines[0]
    assert row_counts() == before
    assert _store_files(ingested) == files


def test_frame_counts_that_disagree_are_printed_and_stored(clean, shared_data, tmp_path, capsys):
    """A 600-frame video with a 300-frame pose file, and a second camera whose video has 300 frames."""
    from schemas import pose
    from workers.cli import main

    write_video(tmp_path / "top.mp4", 600)
    write_video(tmp_path / "side.mp4", 300)
    dlc_csv(shared_data, tmp_path / "pose.csv", rows=300)
    top = {"camera": "top", "video": "top.mp4", "mm_per_px": 0.5, "pose": [{"source": "dlc", "file": "pose.csv"}]}
    side = dict(top, camera="side", video="side.mp4")
    path = yaml_file(tmp_path, manifest(recordings=[top, side]))
    assert main(["ingest", str(path), "--quiet"]) == 0
    printed = [line for line in capsys.readouterr().err.splitlines() if line.startswith("WARNING")]
    assert printed == [
        f"WARNING {path}: sessions[0].recordings[0].pose[0]: the pose file has 300 frames, the video "
        f"{tmp_path.name}/top.mp4 has 600 "
        "(difference 300 > frame_count_tolerance 0)",
        f"WARNING {path}: sessions[0]: cameras 'top' (600 frames) and 'side' (300 frames) differ in length by 300 "
        "> frame_count_tolerance 0"]
    stored = {r["camera"]: (r["n_frames"], r["video_frames"], r["provenance"]["params"].get("warnings"))
              for r in pose.PoseEstimation.proj("n_frames", "video_frames", "provenance").to_dicts()}
    assert stored == {
        "top": (300, 600, ["the pose has 300 frames, the video 600 (difference 300)",
                           "camera 'top' has 600 video frames, camera 'side' has 300"]),
        "side": (300, 300, ["camera 'side' has 300 video frames, camera 'top' has 600"])}
