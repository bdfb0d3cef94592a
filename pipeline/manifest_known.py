"""Pose files that are in the database already: recognised by size and modification time, not read again.

Ingest validates a manifest by reading every pose file. On a re-run, a file
whose pose row exists (same session, camera and source, same path and read
options) and whose size and modification time are those recorded in the
row's provenance when it was read is not read again: the row's stored facts
(body parts, tracks, frames, what reading decided) stand in for it. A file
with the recorded size but another modification time (copied, touched) is
checked by its SHA-256 instead; any other difference means reading it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .io.checksum import file_checksum, file_stat


@dataclass(frozen=True)
class IngestedPose:
    """What validation needs of a pose file, from its pose row (the attributes of a PoseData it uses)."""

    keypoints: list
    individuals: list
    n_frames: int
    frame_offset: int
    reading: dict
    edges: list = field(default_factory=list)

    @property
    def n_individuals(self) -> int:
        return len(self.individuals)


def known_pose(row: dict) -> dict:
    """A pose row (with its task's ``pose_path`` and ``read_options``) as :func:`unchanged` reads it."""
    inputs = [i for i in (row["provenance"] or {}).get("inputs", []) if i.get("path") == row["pose_path"]]
    return {"pose_path": row["pose_path"], "read_options": row["read_options"], "input": inputs[0] if inputs else {},
            "pose": IngestedPose(keypoints=list(row["keypoints"]), individuals=list(row["individuals"]),
                                 n_frames=int(row["n_frames"]), frame_offset=int(row["frame_offset"]),
                                 reading=dict((row["provenance"] or {}).get("params", {}).get("reading") or {}))}


def unchanged(known: dict | None, path: Path, relative: str, options: dict) -> IngestedPose | None:
    """The stored facts of ``path`` if its pose row was read from this very file (see the module notes), else None."""
    if not known or known["pose_path"] != relative or _options(known["read_options"]) != _options(options):
        return None
    recorded = known["input"]
    if "size" not in recorded or "sha256" not in recorded:  # ingested before sizes were recorded
        return None
    stat = file_stat(path)
    if stat["size"] != recorded["size"]:
        return None
    if stat["mtime_ns"] != recorded.get("mtime_ns") and file_checksum(path) != recorded["sha256"]:
        return None
    return known["pose"]


def _options(options) -> str:
    return json.dumps({k: v for k, v in (options or {}).items() if v is not None and v is not False}, sort_keys=True)
