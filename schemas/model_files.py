"""Model files on this machine: the cache of trained models, the device, running a model (no table reads).

Called from ``make_compute`` steps: everything here works from what
``make_fetch`` read (a model source, an inference task), never from the database.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from pipeline.errors import InputError
from pipeline.inference import engines
from pipeline.paths import resolve

from . import store
from .config import current, data_roots


def model_files(source: dict) -> tuple[str, list[Path], int]:
    """(engine, local model paths, shuffle) of a :func:`model_source`; trained models are fetched into a cache.

    Reads no table (call it from make_compute).
    """
    if source["model_paths"]:
        return source["engine"], [resolve(p, data_roots()) for p in source["model_paths"]], source["shuffle"]
    cache = current().home / "models" / source["trained_sha256"][:16]
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache.parent))
        try:
            store.object_ref(source["model"]).download(tmp)  # creates tmp/<field>_<token>/
            local = next(p for p in tmp.iterdir() if p.is_dir())
            shutil.move(str(local), str(cache))  # atomic on one file system: a concurrent worker sees all or nothing
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    os.utime(cache)  # marks the folder as used (prune_model_cache keeps recently used folders)
    return source["engine"], [cache / s for s in source["model_subpaths"]], source["shuffle"]


def prune_cache(used: set, *, min_age_hours: float = 24.0, dry_run: bool = False) -> list[Path]:
    """Delete this machine's cached model folders not in ``used`` (sha256 prefixes of trained models).

    Trained models are downloaded once per machine into
    ``$ETHOJOINT_HOME/models/<sha256 prefix>`` (:func:`model_files`,
    which also marks a folder as used each time).  This removes the folders
    whose name is not in ``used`` (the sha256 prefixes of the database's ModelTraining rows) and that
    were not used for ``min_age_hours`` (another database on the same
    machine may still use them: they are only a cache and would be fetched
    again), and the leftovers of interrupted downloads (``tmp*``) as old.
    Returns the folders removed (or, with ``dry_run``, that would be).
    """
    root = current().home / "models"
    if not root.is_dir():
        return []
    cutoff = time.time() - 3600.0 * min_age_hours
    stale = [folder for folder in sorted(p for p in root.iterdir() if p.is_dir())
             if folder.name not in used and folder.stat().st_mtime <= cutoff]
    if not dry_run:
        for folder in stale:
            shutil.rmtree(folder, ignore_errors=True)
    return stale


def run_model(key, inference: dict):
    """Run a PoseModel on the task's frame range of the recording's video (mode 'trigger'; no database).

    ``inference`` is :func:`inference_source` plus the recording's
    ``video_path``, ``video_sha256`` and ``n_frames``. Returns ``(pose,
    inputs, params, video)`` for PoseEstimation.make_compute.
    """
    if not inference["video_path"]:
        raise InputError(f"PoseEstimationTask {key}", "mode 'trigger' needs a recording with a video file")
    video = resolve(inference["video_path"], data_roots())
    engine, paths, shuffle = model_files(inference["model"])
    stop = inference["frame_stop"] if inference["frame_stop"] is not None else inference["n_frames"]
    frames = range(int(inference["frame_start"]), int(stop))
    started = time.perf_counter()
    result = engines.predict(engine, paths, video, shuffle=shuffle, frames=frames,
                             max_tracks=inference["max_tracks"], device=device(), batch_size=inference["batch_size"])
    seconds = time.perf_counter() - started
    params = {"mode": "trigger", "pose_model": inference["pose_model"], "engine": engine,
              "weights_sha256": inference["model"]["weights_sha256"], "frame_start": frames.start,
              "frame_stop": frames.stop, "max_tracks": inference["max_tracks"], "device": result.device,
              "seconds": round(seconds, 3), "frames_per_s": round(len(frames) / seconds, 3) if seconds > 0 else None}
    pose_ = replace(result.pose, frame_offset=frames.start) if frames.start else result.pose
    return pose_, {inference["video_path"]: inference["video_sha256"]}, params, video


def device() -> str:
    """'cuda:0' when a GPU is visible (the worker pins one with --gpu), else 'cpu'."""
    try:
        import torch

        return "cuda:0" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"
