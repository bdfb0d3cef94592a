"""Synthetic sessions in bulk for ``bench_scale.py``: two-mouse pose files and ingest manifests.

Everything comes from the deterministic generator (:mod:`pipeline.synthetic`):
``distinct`` sessions are simulated per length and written once as SLEAP
analysis files; further sessions get byte copies under their own names (one
file per session, as a lab has), so generating 1,000 files costs a handful of
simulations. Files are cached in a folder outside the repository
(``ETHOJOINT_BENCH_DATA``, default ``/tmp/ethojoint_bench_data``), keyed by
length and seed, so both backends (and later runs) read the same bytes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipeline.manifest_load import dump_manifest

GROUPS = (("F", "young"), ("F", "old"), ("M", "young"), ("M", "old"))
DEFAULT_CACHE = Path(os.environ.get("ETHOJOINT_BENCH_DATA") or "/tmp/ethojoint_bench_data")


def cache_folder() -> Path:
    DEFAULT_CACHE.mkdir(parents=True, exist_ok=True)
    return DEFAULT_CACHE


def pose_files(n: int, *, minutes: float, seed: int = 2026, distinct: int = 4) -> list[Path]:
    """``n`` SLEAP analysis files of ``minutes`` of two-mouse pose at 30 fps (``distinct`` simulations, copied)."""
    from pipeline.synthetic import simulate_session, write_session_files

    folder = cache_folder() / f"pose_{minutes:g}min_seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    originals = []
    for k in range(min(distinct, n)):
        path = folder / f"orig{k}.analysis.h5"
        if not path.exists():
            sim = simulate_session(seed=seed + k, duration_s=60.0 * minutes, name=f"orig{k}")
            tmp = folder / f"tmp{os.getpid()}_{k}"
            written = write_session_files(sim, tmp, formats=("sleap_h5",), stem=f"orig{k}")["sleap_h5"]
            os.replace(written, path)
            shutil.rmtree(tmp, ignore_errors=True)
        originals.append(path)
    out = []
    for i in range(n):
        path = folder / f"ses{i:04d}.analysis.h5"
        if not path.exists():
            tmp = folder / f".{path.name}.{os.getpid()}"
            shutil.copyfile(originals[i % len(originals)], tmp)
            os.replace(tmp, path)
        out.append(path)
    return out


def manifest(files: list[Path], *, tag: str, folder: Path) -> Path:
    """A manifest of one session per file (``<tag>0000`` ...), two new subjects each, groups in turn."""
    from pipeline.synthetic import EDGES, KEYPOINTS

    subjects, sessions = [], []
    for i, path in enumerate(files):
        sex, age = GROUPS[i % len(GROUPS)]
        pair = (f"{tag}{i:04d}a", f"{tag}{i:04d}b")
        subjects += [{"subject": s, "sex": sex, "age_group": age, "strain": "C57BL/6J", "genotype": "WT"}
                     for s in pair]
        day, slot = divmod(i, 4)
        sessions.append({
            "session": f"{tag}{i:04d}",
            "datetime": f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d} {9 + 2 * slot:02d}:00:00",
            "experimenter": "bench", "arena": f"arena_{i % 2 + 1}",
            "animals": [{"subject": pair[0], "role": "resident"}, {"subject": pair[1], "role": "intruder"}],
            "recordings": [{"camera": "top", "fps": 30.0, "mm_per_px": 0.5,
                            "pose": [{"source": "sleap", "file": str(path), "skeleton": "mouse6",
                                      "tracks": {"mouse1": pair[0], "mouse2": pair[1]}}]}],
        })
    data = {"skeletons": [{"skeleton": "mouse6", "keypoints": list(KEYPOINTS), "edges": [list(e) for e in EDGES]}],
            "subjects": subjects, "sessions": sessions}
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"manifest_{tag}.yaml"
    out.write_text(dump_manifest(data))
    return out
