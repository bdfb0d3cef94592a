"""Write synthetic sessions as real tracking outputs (SLEAP analysis .h5, DLC .h5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .session import SyntheticSession

FORMATS = {"sleap_h5": ".analysis.h5", "dlc_h5": "_dlc.h5"}


def write_session_files(session: SyntheticSession, folder, *, formats=("sleap_h5", "dlc_h5")) -> dict:
    """Write the observed poses in each format plus the ground truth CSV.

    Files are written with movement's savers, so synthetic data goes through
    the same readers as real data. Missing points are NaN in both formats.

    Returns
    -------
    dict
        format → path, plus ``"truth"`` → the episodes CSV.
    """
    from movement.io import load_poses, save_poses

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pose = session.pose
    # movement's layout: (time, space, keypoints, individuals)
    ds = load_poses.from_numpy(
        np.transpose(pose.positions, (0, 3, 2, 1)), np.transpose(pose.confidence, (0, 2, 1)),
        individual_names=list(pose.individuals), keypoint_names=list(pose.keypoints),
        fps=pose.fps, source_software="synthetic")
    out = {}
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; known: {list(FORMATS)}")
        path = folder / f"{session.name}{FORMATS[fmt]}"
        if fmt == "sleap_h5":
            save_poses.to_sleap_analysis_file(ds, path)
        else:
            save_poses.to_dlc_file(ds, path, split_individuals=False)
        out[fmt] = path
    out["truth"] = folder / f"{session.name}_truth.csv"
    session.episodes.to_csv(out["truth"], index=False)
    return out
