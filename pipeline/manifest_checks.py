"""Checks and choices of one pose-file entry of a manifest: reading options, tracks, frame counts.

Used by :func:`pipeline.manifest.plan_manifest`; every error names the manifest entry.
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputError
from .manifest_csv import flag


def read_options(p: dict, where: str) -> dict:
    """The reading choices of a pose entry, as :func:`pipeline.io.read_pose` keywords (stored with the task)."""
    options = {"zero_is_valid": flag(p.get("zero_is_valid", False), f"{where}.zero_is_valid")}
    prefixes = p.get("individual_prefixes")
    if prefixes is not None:
        if prefixes is not False and not (isinstance(prefixes, dict) and prefixes):
            raise InputError(f"{where}.individual_prefixes",
                             f"write a mapping {{PREFIX: NAME, ...}} or false, not {prefixes!r}")
        options["individual_prefixes"] = prefixes if prefixes is False else \
            {str(k): str(v) for k, v in prefixes.items()}
    return options


def describe_reading(pose) -> str:
    """One line: what reading a pose file decided (printed by ingest)."""
    r = pose.reading
    parts = [f"{pose.n_individuals} individual(s) {list(pose.individuals)}",
             f"frames {pose.frame_offset}-{pose.frame_offset + pose.n_frames - 1}"]
    if "labelled_frames" in r:
        parts.append(f"{r['labelled_frames']} with data")
    if r.get("format") == "lightning_pose":
        parts.append(f"Lightning Pose ({r.get('format_chosen')}): {r.get('layout')}, likelihood as confidence"
                     + (f", kept beside it: {', '.join(r['uncertainty'])}" if r.get("uncertainty") else ""))
    if r.get("individual_prefixes"):
        how = "detected" if r.get("prefixes_detected") else "as given"
        parts.append(f"split by body-part prefixes {r['individual_prefixes']} ({how})")
    if r.get("zero_is_valid"):
        parts.append("(0, 0) points kept as real coordinates (zero_is_valid)")
    else:
        parts.append(f"{r.get('zero_points_missing', 0)} point(s) at (0, 0) turned missing")
    return "; ".join(parts)


def check_one_track_per_subject(tracks: dict, where: str, path: Path) -> None:
    by_subject: dict[str, list[str]] = {}
    for track, subj in tracks.items():
        by_subject.setdefault(subj, []).append(track)
    for subj, mapped in by_subject.items():
        if len(mapped) > 1:
            raise InputError(where, f"tracks {mapped} of {path.name} are all mapped to subject {subj!r}; "
                                    "map each track to a different animal (or leave extra tracks unmapped)")


def check_frame_count(plan, pose, video_frames, tolerance, where, video) -> None:
    """Refuse a pose longer than its video; warn when the counts differ by more than ``tolerance``."""
    if pose is None or video_frames is None:
        return
    end = pose.frame_offset + pose.n_frames
    if end > video_frames:
        raise InputError(where, f"the pose file runs to frame {end} but the video {video} has {video_frames} "
                                "frames: wrong video, or wrong file?")
    if pose.frame_offset == 0 and video_frames - end > tolerance:
        plan.warnings.append(f"{where}: the pose file has {end} frames, the video {video} has {video_frames} "
                             f"(difference {video_frames - end} > frame_count_tolerance {tolerance})")


def frame_tolerance(value, where) -> int:
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or not str(value).isdigit():
        raise InputError(where, f"{value!r} is not a whole number of frames >= 0")
    return int(value)


def check_cameras(plan, lengths: dict, where: str, tolerance: int) -> None:
    """Warn when cameras of one session differ in length (video frames, else pose-file frames) beyond ``tolerance``.

    Each shorter camera is named with the longest one and both counts.
    """
    known = {camera: n for camera, n in lengths.items() if n is not None}
    if len(known) < 2:
        return
    longest = max(known, key=lambda c: (known[c], c))
    for camera, n in sorted(known.items()):
        if known[longest] - n > tolerance:
            plan.warnings.append(f"{where}: cameras {longest!r} ({known[longest]} frames) and {camera!r} ({n} frames) "
                                 f"differ in length by {known[longest] - n} > frame_count_tolerance {tolerance}")
