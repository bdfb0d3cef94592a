"""Run, train and score SLEAP models with sleap-nn (offline, CPU or GPU).

A *model folder* is what sleap-nn writes: ``best.ckpt`` plus
``training_config.yaml`` (or ``.json``).  Top-down needs two folders
(centroid + centered_instance); bottom-up and single-instance one.  torch and
sleap-nn are imported inside the functions.  Individuals: with tracking, one
per track (instances left without one go to ``untracked_0``, ...); without,
slots ``instance_0``, ... per frame, best instance score first (identity
across frames *not* implied).  Time axis = ``Prediction.frame_indices``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.errors import InputError
from pipeline.inference.frames import _open, resolve_frames
from pipeline.inference.metrics import keypoint_metrics
from pipeline.io.sleap import _unique
from pipeline.pose import PoseData

if TYPE_CHECKING:  # for linters and type checkers; at run time __getattr__ below imports them lazily
    from pipeline.inference.sleap_train import TrainingResult, train_sleap

__all__ = ["Prediction", "TrainingResult", "evaluate_sleap", "load_training_config", "model_checksum",
           "model_info", "predict_sleap", "train_sleap"]


def __getattr__(name):  # training lives in sleap_train (module size); re-exported lazily
    if name in ("TrainingResult", "train_sleap"):
        from pipeline.inference import sleap_train

        return getattr(sleap_train, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

@dataclass(frozen=True)
class Prediction:
    """Poses predicted on a video, with what produced them.

    ``pose.positions[i]`` is video frame ``frame_indices[i]``; ``seconds`` is
    the wall time of inference (model loading included).
    """

    pose: PoseData
    frame_indices: np.ndarray
    seconds: float
    device: str

    @property
    def frames_per_second(self) -> float:
        return len(self.frame_indices) / self.seconds if self.seconds > 0 else float("nan")


def _model_dirs(model_dirs) -> list[Path]:
    dirs = [model_dirs] if isinstance(model_dirs, (str, Path)) else list(model_dirs)
    if not dirs:
        raise InputError("model_dirs", "no model folder given")
    out = []
    for d in map(Path, dirs):
        if not d.is_dir():
            raise InputError(d, "model folder does not exist")
        if not list(d.glob("*.ckpt")) or _config_file(d) is None:
            raise InputError(d, "not a sleap-nn model folder (needs best.ckpt and training_config.yaml)")
        out.append(d)
    return out


def _config_file(model_dir: Path) -> Path | None:
    return next((model_dir / n for n in ("training_config.yaml", "training_config.json")
                 if (model_dir / n).is_file()), None)


def load_training_config(model_dir: str | Path) -> dict:
    """The ``training_config`` of a sleap-nn model folder, as a plain dict.

    Use it as the template for :func:`train_sleap`.
    """
    import yaml

    (d,) = _model_dirs([model_dir])
    path = _config_file(d)
    try:
        cfg = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    except Exception as e:
        raise InputError(path, f"cannot read training config: {type(e).__name__}: {e}") from e
    if not isinstance(cfg, dict) or not {"data_config", "model_config"} <= set(cfg):
        raise InputError(path, "not a sleap-nn training config (no data_config/model_config)")
    return cfg


def model_info(model_dir: str | Path) -> dict:
    """Model type, skeleton and input scaling of one sleap-nn model folder.

    Returns
    -------
    dict
        ``model_type``, ``backbone``, ``nodes``, ``edges`` (name pairs),
        ``scale``, ``max_height``, ``max_width``, ``in_channels``,
        ``ensure_rgb``, ``ensure_grayscale``, ``crop_size``, ``output_stride``,
        ``sigma``, ``anchor_part``.
    """
    cfg = load_training_config(model_dir)
    heads = {k: v for k, v in (cfg["model_config"].get("head_configs") or {}).items() if v}
    backbones = {k: v for k, v in (cfg["model_config"].get("backbone_config") or {}).items() if v}
    if len(heads) != 1:
        raise InputError(model_dir, f"expected one model head, found {sorted(heads) or 'none'}")
    (model_type, head), = heads.items()
    maps = next(iter(head.values())) if isinstance(head, dict) and head else {}
    skel = (cfg["data_config"].get("skeletons") or [{}])[0] or {}
    nodes = [n["name"] if isinstance(n, dict) else str(n) for n in skel.get("nodes", [])]
    edges = [(e["source"]["name"], e["destination"]["name"]) if isinstance(e, dict) else tuple(e)
             for e in skel.get("edges", [])]
    pre = cfg["data_config"].get("preprocessing") or {}
    backbone, bb = next(iter(backbones.items()), (None, {}))
    return {"model_type": model_type, "backbone": backbone, "nodes": nodes or list(maps.get("part_names") or []),
            "edges": edges, "in_channels": bb.get("in_channels"),
            **{k: pre.get(k) for k in ("scale", "max_height", "max_width", "ensure_rgb", "ensure_grayscale",
                                       "crop_size")},
            **{k: maps.get(k) for k in ("output_stride", "sigma", "anchor_part")}}


def _pose_model(dirs: list[Path]) -> dict:
    """model_info of the folder that gives the keypoints (not the centroid one)."""
    infos = [model_info(d) for d in dirs]
    return next((i for i in infos if i["model_type"] != "centroid"), infos[0])


def _load_labels(path):
    import sleap_io as sio

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "labels file does not exist")
    try:
        return sio.load_slp(str(path))
    except Exception as e:
        raise InputError(path, f"cannot read SLEAP labels: {type(e).__name__}: {e}") from e


def model_checksum(model_dirs) -> str:
    """sha256 over the weights and configs of the model folders.

    Independent of folder names and of the order the folders are given in.
    """
    per_model = []
    for d in _model_dirs(model_dirs):
        h = hashlib.sha256()
        for f in sorted(list(d.glob("*.ckpt")) + [_config_file(d)], key=lambda p: p.name):
            h.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
        per_model.append(h.digest())
    return hashlib.sha256(b"".join(sorted(per_model))).hexdigest()


def _instance_points(inst) -> np.ndarray:
    """An instance's (node, x/y/score) array over all its skeleton's nodes; score NaN for a user instance."""
    if hasattr(inst, "score"):
        return inst.numpy(scores=True)
    xy = inst.numpy()
    return np.c_[xy, np.full(len(xy), np.nan)]  # every skeleton node, even when only some are kept


def _labels_to_pose(labels, frame_indices, *, nodes, edges, fps, tracked: bool) -> PoseData:
    """Predicted ``sio.Labels`` -> PoseData on ``frame_indices`` (see module doc)."""
    row = {int(f): i for i, f in enumerate(frame_indices)}
    skeleton = labels.skeletons[0]
    order = [list(skeleton.node_names).index(n) for n in nodes]
    per_frame = {}
    for lf in labels.labeled_frames:
        if int(lf.frame_idx) in row:
            insts = sorted(lf.instances, key=lambda i: -np.nan_to_num(getattr(i, "score", np.nan), nan=-1.0))
            per_frame.setdefault(row[int(lf.frame_idx)], []).extend(insts)
    tracks = list(labels.tracks) if tracked else []
    column = {id(t): j for j, t in enumerate(tracks)}
    n_extra = max([sum(id(i.track) not in column for i in v) for v in per_frame.values()] + [0 if tracks else 1])
    names = [str(t.name) for t in tracks] + [f"{'untracked' if tracked else 'instance'}_{k}" for k in range(n_extra)]
    xys = np.full((len(frame_indices), len(names), len(nodes), 3), np.nan)
    for t, insts in per_frame.items():
        extra = len(tracks)
        for inst in insts:
            if id(inst.track) in column:
                j = column[id(inst.track)]
            else:
                j, extra = extra, extra + 1
            xys[t, j] = _instance_points(inst)[order]
    xys[~np.isfinite(xys[..., :2]).all(-1)] = np.nan  # no score for a missing point
    return PoseData(xys[..., :2], xys[..., 2], individuals=_unique(names), keypoints=tuple(nodes), fps=fps,
                    source_software="SLEAP", edges=tuple(edges))


def _quick_probe(video_path) -> tuple[int, float]:
    """(frame count, fps) from the container header via OpenCV."""
    import cv2

    cap, n_frames = _open(video_path)
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or None
    cap.release()
    return n_frames, fps


def _run(source, dirs, *, frames, device, batch_size, max_instances=None, tracker=None):
    from sleap_nn.inference import predict

    return predict(source, model_paths=[str(d) for d in dirs], device=device, batch_size=batch_size,
                   frames=frames, max_instances=max_instances, tracker_config=tracker)


def predict_sleap(model_dirs, video_path, *, frames=None, max_instances=None, tracking=False, max_tracks=None,
                  batch_size=4, device="cpu") -> Prediction:
    """Predict poses on a video with trained sleap-nn model(s).

    Parameters
    ----------
    model_dirs : str, Path or sequence of them
        One folder (single-instance, bottom-up) or two (top-down).
    video_path : str or Path
        The video.
    frames : range, slice or sequence of int, optional
        Frame indices to predict; default all.
    max_instances, max_tracks : int, optional
        Caps on instances per frame and (with ``tracking``) on tracks.
    tracking : bool
        Link instances into tracks (sleap-nn's classic tracker).
    batch_size : int
        Frames per batch.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:0"``, ``"mps"``...

    Returns
    -------
    Prediction
        ``pose`` (keypoints in the model's skeleton order, fps of the video,
        confidence = point scores), ``frame_indices``, ``seconds``, ``device``.

    Raises
    ------
    InputError
        Missing model folder, unreadable video, frames outside the video.

    Examples
    --------
    >>> p = predict_sleap(["centroid", "centered"], "a.mp4", frames=range(20))  # doctest: +SKIP
    >>> p.pose.positions.shape                                                  # doctest: +SKIP
    (20, 2, 2, 2)
    """
    dirs = _model_dirs(model_dirs)
    n_frames, fps = _quick_probe(video_path)  # container header only: ffprobe-style decoding costs ~0.4 s
    idx = resolve_frames(frames, n_frames, source=video_path)
    tracker = None
    if tracking:
        from sleap_nn.inference.tracking import TrackerConfig

        tracker = TrackerConfig(max_tracks=max_tracks)
    meta = _pose_model(dirs)
    start = time.perf_counter()
    try:
        labels = _run(str(video_path), dirs, frames=[int(i) for i in idx], device=device, batch_size=batch_size,
                      max_instances=max_instances, tracker=tracker)
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise InputError(video_path, f"sleap-nn inference failed: {type(e).__name__}: {e}") from e
    seconds = time.perf_counter() - start
    pose = _labels_to_pose(labels, idx, nodes=meta["nodes"] or list(labels.skeletons[0].node_names),
                           edges=meta["edges"], fps=fps, tracked=tracking)
    return Prediction(pose=pose, frame_indices=idx, seconds=seconds, device=device)


def evaluate_sleap(model_dirs, labels_path, *, device="cpu", frames=None) -> dict:
    """Score model(s) on the user-labelled frames of a ``.slp``/``.pkg.slp``.

    Parameters
    ----------
    model_dirs : str, Path or sequence of them
        As for :func:`predict_sleap`.
    labels_path : str or Path
        Labels with user instances (images embedded or in its video).
    device : str
        Torch device.
    frames : sequence of int, optional
        Only these frame indices of the labels' (first) video.

    Returns
    -------
    dict
        :func:`~pipeline.inference.metrics.keypoint_metrics` of the
        predictions against the user instances, plus ``frame_indices`` and
        ``seconds``.
    """
    import sleap_io as sio

    dirs, labels = _model_dirs(model_dirs), _load_labels(labels_path)
    keep = None if frames is None else {int(f) for f in frames}
    lfs = [lf for lf in labels.labeled_frames if lf.user_instances and lf.video is labels.videos[0]
           and (keep is None or int(lf.frame_idx) in keep)]
    if not lfs:
        raise InputError(labels_path, "no user-labelled frames to evaluate on")
    idx = np.array([int(lf.frame_idx) for lf in lfs])
    nodes = _pose_model(dirs)["nodes"] or list(labels.skeletons[0].node_names)
    users = [sio.LabeledFrame(lf.video, lf.frame_idx, list(lf.user_instances)) for lf in lfs]
    truth = _labels_to_pose(sio.Labels(users, skeletons=labels.skeletons), idx, nodes=nodes, edges=(), fps=None,
                            tracked=False)
    start = time.perf_counter()
    predicted = _run(labels.videos[0], dirs, frames=[int(i) for i in idx], device=device, batch_size=4)
    seconds = time.perf_counter() - start
    pred = _labels_to_pose(predicted, idx, nodes=nodes, edges=(), fps=None, tracked=False)
    conf = np.where(np.isfinite(pred.confidence), pred.confidence, 0.0).mean(-1)  # ranks instances for mAP
    out = keypoint_metrics(pred.positions, truth.positions, keypoints=nodes, scores=conf)
    out.update(frame_indices=idx.tolist(), seconds=seconds)
    return out
