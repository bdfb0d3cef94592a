"""DeepLabCut 3 (PyTorch engine): copy a project, train, evaluate, predict -- offline.

:func:`train_dlc` saves a random-init model (no ImageNet backbone) as ``random-init-seed<N>.pt`` and hands it to
``deeplabcut.train_network(snapshot_path=...)``, so DLC never asks timm/HuggingFace for weights
(``model.backbone.pretrained`` alone is overwritten by DLC).  ``net_type="resnet_18"`` is a ``resnet_50`` shuffle
edited to timm ``resnet18`` (DLC still names the scorer ``DLC_Resnet50...``).  A copy made with ``downscale < 1``
(fast CPU tests) has scaled PNGs and CollectedData, factor in ``ethojoint.yaml``: :func:`predict_dlc` scales the
video frames by it and maps predictions back to video pixels, :func:`evaluate_dlc` reports original-resolution
pixels (``x * factor``; the half-pixel offset is ignored).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from pipeline.errors import InputError
from pipeline.inference.frames import _open, resolve_frames
from pipeline.inference.sleap import Prediction as DLCPrediction
from pipeline.inference.sleap import TrainingResult
from pipeline.io.checksum import file_checksum
from pipeline.io.dlc import read_dlc
from pipeline.pose import PoseData

_SIDECAR = "ethojoint.yaml"


@dataclass
class DLCTrainingResult(TrainingResult):
    """:class:`TrainingResult` plus the last epoch and the ``snapshot-*.pt`` files."""

    last_epoch: int = 0
    snapshots: list[Path] = field(default_factory=list)


def _dlc():
    """Import deeplabcut headless and offline (no GUI, no hub downloads)."""
    for key, value in (("DLClight", "True"), ("MPLBACKEND", "Agg"), ("HF_HUB_OFFLINE", "1")):
        os.environ.setdefault(key, value)
    return importlib.import_module("deeplabcut")


def _read_config(config_path) -> tuple[Path, dict]:
    try:
        return Path(config_path), yaml.safe_load(Path(config_path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise InputError(config_path, f"cannot read YAML config: {e}") from e


def _downscale(config_path) -> float:
    side = Path(config_path).parent / _SIDECAR
    return float(_read_config(side)[1]["downscale"]) if side.is_file() else 1.0


def copy_project(project_dir, work_dir, *, downscale: float = 1.0) -> Path:
    """Copy a DLC project (never written to) and point the copy's config at itself.

    Parameters
    ----------
    project_dir, work_dir : str or Path
        Project with ``config.yaml`` and ``labeled-data/``; destination folder.
    downscale : float, optional
        In (0, 1]: scale labelled PNGs and CollectedData (for fast tests).

    Returns
    -------
    Path
        The working copy's ``config.yaml``.
    """
    src, cfg = _read_config(Path(project_dir) / "config.yaml")
    if not 0 < downscale <= 1:
        raise InputError(src, f"downscale must be in (0, 1], got {downscale}")
    labels, dst = read_labels(src.parent), Path(work_dir).absolute()
    shutil.copytree(src.parent, dst, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("dlc-models*", "training-datasets", "evaluation-results*"))
    if downscale < 1:
        import cv2

        for png in sorted((dst / "labeled-data").glob("*/*.png")):
            img = cv2.imread(str(png))
            cv2.imwrite(str(png), cv2.resize(img, None, fx=downscale, fy=downscale, interpolation=cv2.INTER_AREA))
        for table in labels["files"]:  # .h5 and its .csv twin, both from the table read
            out = dst / Path(table).relative_to(src.parent)
            df = _read_table(out) * downscale
            df.to_hdf(out.with_suffix(".h5"), key="df_with_missing", mode="w")
            df.to_csv(out.with_suffix(".csv"))
    (dst / _SIDECAR).write_text(yaml.safe_dump({"downscale": float(downscale)}))
    crop = next(iter((cfg.get("video_sets") or {}).values()), {}).get("crop", "")
    cfg["project_path"], cfg["video_sets"] = str(dst), {  # DLC finds labeled-data/<stem> by the video's stem
        str(dst / "videos" / f"{d.name}.mp4"): {"crop": crop} for d in (dst / "labeled-data").iterdir() if d.is_dir()}
    (dst / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dst / "config.yaml"


def _read_table(path: Path):
    """A CollectedData ``.h5`` or ``.csv`` (1 or 3 index columns) as DLC's DataFrame."""
    import pandas as pd

    if path.suffix == ".h5":
        return pd.read_hdf(path)
    df = pd.read_csv(path, header=[0, 1, 2], index_col=0)
    extra = [c for c in df.columns if str(c[0]).startswith("Unnamed")]  # DLC >= 2.2 path columns
    df.index = ["/".join(map(str, row)) for row in zip(df.index, *(df[c] for c in extra))]
    return df.drop(columns=extra)


def read_labels(project_dir) -> dict:
    """Read every ``labeled-data/*/CollectedData_*.h5`` (else ``.csv``).

    Returns
    -------
    dict
        ``bodyparts`` (tuple), ``n_frames``, ``positions`` (frames, 1, keypoints,
        2) float64 px, NaN = unlabelled; ``images`` (relative paths); ``files``.
    """
    import pandas as pd

    root = Path(project_dir) / "labeled-data"
    folders = sorted(d for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
    if not folders:
        raise InputError(root, "no labelled-frame folders (labeled-data/<video>/)")
    frames, files, bodyparts = [], [], None
    for folder in folders:
        path = (sorted(folder.glob("CollectedData_*.h5")) or sorted(folder.glob("CollectedData_*.csv")) or [None])[0]
        if path is None:
            raise InputError(folder / "CollectedData_<scorer>.h5", "missing labelled-data table")
        try:
            df = _read_table(path).droplevel("scorer", axis=1)
            if df.columns.names != ["bodyparts", "coords"]:
                raise ValueError(f"column levels {df.columns.names} (multi-animal labels are not supported)")
            parts = tuple(dict.fromkeys(df.columns.get_level_values("bodyparts")))
            df = df.reindex(columns=pd.MultiIndex.from_product([parts, ["x", "y"]])).astype(float)
        except Exception as e:
            raise InputError(path, f"not a DeepLabCut labelled-data table: {type(e).__name__}: {e}") from e
        if bodyparts is not None and parts != bodyparts:
            raise InputError(path, f"body parts {parts} differ from {bodyparts}")
        bodyparts, frames, files = parts, frames + [df], files + [path]
    df = pd.concat(frames)
    return {"bodyparts": bodyparts, "n_frames": len(df), "files": files,
            "positions": df.to_numpy().reshape(len(df), 1, len(bodyparts), 2),
            "images": ["/".join(i) if isinstance(i, tuple) else str(i) for i in df.index]}


def check_bodyparts(bodyparts, skeleton_keypoints, *, source) -> tuple[str, ...]:
    """Return the body parts; InputError naming ``source`` unless they are the skeleton's keypoints."""
    parts, skel = tuple(bodyparts), tuple(skeleton_keypoints)
    unknown, absent = [p for p in parts if p not in skel], [k for k in skel if k not in parts]
    if unknown or absent or len(set(parts)) != len(parts):
        raise InputError(source, f"body parts {list(parts)}: not in skeleton {unknown}, skeleton keypoints not "
                                 f"labelled {absent} (or duplicates)")
    return parts


def train_dlc(config_path, *, shuffle: int = 1, epochs: int = 1, net_type: str = "resnet_18",
              batch_size: int = 8, device: str = "cpu", seed: int = 0,
              train_fraction: float = 0.95) -> DLCTrainingResult:
    """Create the shuffle's training set (replacing it) and train from random weights.

    Returns
    -------
    DLCTrainingResult
        ``model_dir``: the shuffle's ``dlc-models-pytorch/.../train`` folder;
        ``curve``: its ``learning_stats.csv``; ``config``: its pytorch_config.
    """
    import pandas as pd
    import torch

    dlc, (config_path, cfg) = _dlc(), _read_config(config_path)
    cfg["TrainingFraction"] = [float(train_fraction)]
    config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    small = net_type == "resnet_18"
    dlc.create_training_dataset(str(config_path), Shuffles=[shuffle], userfeedback=False,
                                net_type="resnet_50" if small else net_type, engine=dlc.Engine.PYTORCH)
    loader = dlc.pose_estimation_pytorch.data.DLCLoader(config=str(config_path), shuffle=shuffle, trainset_index=0)
    mcfg, train_dir = loader.model_cfg, loader.model_folder
    if small:
        mcfg["model"]["backbone"]["model_name"], mcfg["model"]["backbone_output_channels"] = "resnet18", 512
        for head in mcfg["model"]["heads"].values():
            head["heatmap_config"]["channels"][0] = head["locref_config"]["channels"][0] = 512
    mcfg["model"]["backbone"]["pretrained"] = False
    if crop := mcfg["data"]["train"].get("crop_sampling"):  # DLC's 448 px crop, scaled with the images
        crop["width"] = crop["height"] = int(448 * _downscale(config_path)) // 32 * 32
    mcfg["runner"]["eval_interval"], mcfg["runner"]["snapshots"]["save_epochs"] = 1, epochs
    mcfg["train_settings"].update(seed=seed, batch_size=batch_size, epochs=epochs)
    mcfg["device"] = mcfg["runner"]["device"] = device
    mcfg.to_yaml(loader.model_config_path)
    torch.manual_seed(seed)
    net = dlc.pose_estimation_pytorch.models.PoseModel.build(mcfg["model"], pretrained_backbone=False)
    init = train_dir / f"random-init-seed{seed}.pt"
    torch.save({"model": net.state_dict(), "metadata": {"epoch": 0}}, init)
    duration = -time.perf_counter()
    dlc.train_network(str(config_path), shuffle=shuffle, device=device, snapshot_path=str(init),
                      epochs=epochs, batch_size=batch_size, save_epochs=epochs, display_iters=1000)
    duration += time.perf_counter()
    curve = [{"epoch": int(r["step"]), "train_loss": float(r["losses/train.total_loss"]),
              "val_loss": float(r.get("losses/eval.total_loss", np.nan))}
             for _, r in pd.read_csv(train_dir / "learning_stats.csv").iterrows()]
    losses = [c["val_loss"] if np.isfinite(c["val_loss"]) else c["train_loss"] for c in curve]
    return DLCTrainingResult(
        model_dir=train_dir, curve=curve, best_epoch=curve[int(np.argmin(losses))]["epoch"] if curve else 0,
        duration_s=duration, device=device, config=_read_config(loader.model_config_path)[1],
        last_epoch=curve[-1]["epoch"] if curve else 0, snapshots=sorted(train_dir.glob("snapshot-*.pt")))


def evaluate_dlc(config_path, *, shuffle: int = 1, device: str = "cpu") -> dict:
    """Predict the labelled frames and score them per split, in original-resolution px.

    Returns
    -------
    dict
        ``train`` / ``test``: ``keypoint_metrics`` dicts (plus ``n_frames``);
        ``dlc``: DLC's own results row (its px); ``seconds``: DLC's evaluation time.
    """
    import pandas as pd

    from pipeline.inference.metrics import keypoint_metrics

    dlc, scale, seconds = _dlc(), _downscale(config_path), -time.perf_counter()
    dlc.evaluate_network(str(config_path), Shuffles=[shuffle], device=device, plotting=False)
    seconds += time.perf_counter()
    loader = dlc.pose_estimation_pytorch.data.DLCLoader(config=str(config_path), shuffle=shuffle, trainset_index=0)
    pred_file = max(loader.evaluation_folder.glob("*.h5"), key=lambda p: p.stat().st_mtime)
    parts = tuple(loader.get_dataset_parameters().bodyparts)
    cols = pd.MultiIndex.from_product([parts, ["x", "y"]])

    def points(df):  # (frames, 1, keypoints, 2) in the labelled frames' order, original px
        df = df.droplevel([n for n in ("scorer", "individuals") if n in df.columns.names], axis=1)
        return df.reindex(index=loader.df.index, columns=cols).to_numpy(float).reshape(-1, 1, len(parts), 2) / scale

    truth, pred = points(loader.df), points(pd.read_hdf(pred_file))
    out = {"seconds": seconds, "predictions_file": pred_file, "bodyparts": parts}
    for split, idx in loader.split.items():  # positions in loader.df: "train" / "test"
        out[split] = keypoint_metrics(pred[idx], truth[idx], keypoints=parts) | {"n_frames": len(idx)}
    scores = sorted(loader.evaluation_folder.glob("*-results.csv"), key=lambda p: p.stat().st_mtime)
    out["dlc"] = pd.read_csv(scores[-1]).iloc[-1].to_dict() if scores else {}
    return out


def predict_dlc(config_path, video_path, *, shuffle: int = 1, frames=None, device: str = "cpu",
                batch_size: int = 8) -> DLCPrediction:
    """Predict poses on frames of a video, cut first into a lossless (FFV1) clip.

    Parameters
    ----------
    frames : iterable of int, optional
        Frame indices (sorted, duplicates dropped); default all frames.

    Returns
    -------
    DLCPrediction
        ``pose`` in the video's pixels, one frame per ``frame_indices``.
    """
    import cv2

    (cap, n), scale, dlc = _open(video_path), _downscale(config_path), _dlc()
    fps, idx = cap.get(cv2.CAP_PROP_FPS) or None, np.unique(resolve_frames(frames, n, source=video_path))
    if idx.size == 0:
        raise InputError(video_path, "no frames requested")
    with tempfile.TemporaryDirectory(prefix="ej_dlc_") as tmp:
        clip, writer = Path(tmp) / f"{Path(video_path).stem}_frames.avi", None
        for i in idx:
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
            ok, img = cap.read()
            if not ok:
                raise InputError(video_path, f"cannot decode frame {i}")
            img = img if scale == 1 else cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            writer = writer or cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"FFV1"), fps or 30, img.shape[1::-1])
            writer.write(img)
        writer.release()
        cap.release()
        seconds = -time.perf_counter()
        dlc.analyze_videos(str(config_path), [str(clip)], videotype=".avi", shuffle=shuffle,
                           device=device, batch_size=batch_size, destfolder=tmp, save_as_csv=False)
        seconds += time.perf_counter()
        if not (found := sorted(Path(tmp).glob(f"{clip.stem}DLC*.h5"))):
            raise InputError(clip, "DeepLabCut wrote no predictions")
        pose = read_dlc(found[0], fps=fps)
    if pose.n_frames != idx.size:
        raise InputError(video_path, f"{pose.n_frames} predicted frames for {idx.size} requested")
    pose = PoseData(pose.positions / scale, pose.confidence, individuals=pose.individuals, keypoints=pose.keypoints,
                    fps=fps, source_software="DeepLabCut")
    return DLCPrediction(pose=pose, frame_indices=idx, seconds=seconds, device=device)


def model_checksum(model_dir) -> str:
    """sha256 over ``snapshot-*.pt`` then ``pytorch_config.yaml`` (sorted names + bytes)."""
    files = sorted(Path(model_dir).glob("snapshot-*.pt")) + sorted(Path(model_dir).glob("pytorch_config.yaml"))
    if not files:
        raise InputError(model_dir, "no snapshot-*.pt or pytorch_config.yaml")
    return hashlib.sha256("".join(f"{f.name}\0{file_checksum(f)}\n" for f in files).encode()).hexdigest()
