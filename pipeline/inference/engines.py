"""One interface over the pose engines (SLEAP via sleap-nn, DeepLabCut 3 PyTorch).

A *model location* is engine-specific and plain: for SLEAP a list of model
folders (top-down = centroid + centered-instance), for DeepLabCut a project
``config.yaml`` and a shuffle. Labels are a SLEAP ``.slp``/``.pkg.slp`` or a
DeepLabCut project's ``config.yaml`` (its ``labeled-data/*/CollectedData_*``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.errors import InputError

ENGINES = ("sleap", "deeplabcut")


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")


def read_labels_summary(engine: str, labels_path) -> dict:
    """Body parts, edges and number of labelled frames of a labelled-frame set.

    Raises
    ------
    InputError
        The file is missing, unreadable or holds no labelled frame.
    """
    _check_engine(engine)
    path = Path(labels_path)
    if not path.exists():
        raise InputError(path, "labels file not found")
    if engine == "sleap":
        import sleap_io as sio

        try:
            labels = sio.load_slp(str(path))
        except Exception as err:  # sleap-io raises many types for a bad file
            raise InputError(path, f"not a readable SLEAP labels file ({type(err).__name__}: {err})") from err
        if not labels.skeletons:
            raise InputError(path, "has no skeleton")
        skeleton = labels.skeletons[0]
        user = [lf for lf in labels.labeled_frames if lf.user_instances]
        if not user:
            raise InputError(path, "has no user-labelled frame")
        return {"keypoints": list(skeleton.node_names), "edges": [list(e) for e in skeleton.edge_names],
                "n_frames": len(user)}
    from pipeline.inference.dlc import read_labels

    labels = read_labels(path.parent if path.is_file() else path)
    return {"keypoints": list(labels["bodyparts"]), "edges": [], "n_frames": int(labels["n_frames"])}


def model_keypoints(engine: str, model: list) -> list[str]:
    """Body parts a model predicts (from its config; no engine import needed)."""
    _check_engine(engine)
    if engine == "sleap":
        from pipeline.inference.sleap import model_info

        return list(dict.fromkeys(k for d in model for k in model_info(d)["nodes"]))
    import yaml

    config = Path(model[0])
    with open(config if config.is_file() else config / "config.yaml") as f:
        return list(yaml.safe_load(f).get("bodyparts") or [])


def check_keypoints(keypoints, skeleton_keypoints, *, source) -> None:
    """Every labelled body part must be one of the skeleton's."""
    unknown = [k for k in keypoints if k not in list(skeleton_keypoints)]
    if unknown:
        raise InputError(source, f"body part(s) {unknown} are not in the skeleton {list(skeleton_keypoints)}")


def train(engine: str, labels_path, config: dict, out_dir, *, device: str = "cpu", seed: int = 0):
    """Train a model; returns the engine's TrainingResult (model folder, curve, best epoch, duration, device).

    ``config`` for SLEAP is a full sleap-nn training config (plus ``epochs``);
    for DeepLabCut: ``net_type``, ``epochs``, ``batch_size``, ``downscale``,
    ``train_fraction``, ``shuffle``. The DeepLabCut project is copied into
    ``out_dir`` first (the original is never written to).
    """
    _check_engine(engine)
    config = dict(config)
    epochs = int(config.pop("epochs", 1))
    if engine == "sleap":
        from pipeline.inference.sleap import train_sleap

        return train_sleap(labels_path, config, out_dir, epochs=epochs, device=device, seed=seed)
    from pipeline.inference.dlc import copy_project, train_dlc

    project = Path(labels_path)
    project = project.parent if project.is_file() else project
    work = copy_project(project, Path(out_dir), downscale=float(config.pop("downscale", 1.0)))
    return train_dlc(work, shuffle=int(config.pop("shuffle", 1)), epochs=epochs, device=device, seed=seed,
                     **config)


def predict(engine: str, model: list, video_path, *, shuffle: int = 1, frames=None, max_tracks=None,
            device: str = "cpu", batch_size: int = 4):
    """Run a model on (part of) a video; returns a Prediction (pose, frame indices, seconds, device)."""
    _check_engine(engine)
    if engine == "sleap":
        from pipeline.inference.sleap import predict_sleap

        return predict_sleap([str(m) for m in model], video_path, frames=frames, tracking=bool(max_tracks),
                             max_tracks=max_tracks, max_instances=max_tracks, batch_size=batch_size, device=device)
    from pipeline.inference.dlc import predict_dlc

    return predict_dlc(model[0], video_path, shuffle=shuffle, frames=frames, device=device, batch_size=batch_size)


def evaluate(engine: str, model: list, labels_path, *, shuffle: int = 1, device: str = "cpu",
             held_out: bool = False) -> dict:
    """Pixel error, PCK, OKS mAP (overall and per body part) of a model on labelled frames.

    The result's ``"split"`` says which frames were scored: ``"held-out"``
    (the test split of the model's own training, with the train split's
    metrics under ``"train"``) or ``"all"`` (every labelled frame).

    For DeepLabCut the project's own held-out (test) split is always
    reported.  For SLEAP, ``held_out=True`` (the labels are the ones the
    model was trained on) scores only the frames sleap-nn kept for
    validation (:func:`~pipeline.inference.sleap_train.training_split`); when
    training had no separate validation frames (a single labelled frame),
    all frames are scored and ``"split_note"`` says why.
    """
    _check_engine(engine)
    if engine == "sleap":
        from pipeline.inference.sleap import evaluate_sleap
        from pipeline.inference.sleap_train import training_split

        dirs = [str(m) for m in model]
        split = next((s for s in (training_split(d) for d in reversed(dirs)) if s), None) if held_out else None
        val = sorted(set(split["val"]) - set(split["train"])) if split else []
        if not val:
            result = evaluate_sleap(dirs, labels_path, device=device)
            result["split"] = "all"
            if held_out:
                result["split_note"] = ("the model folder records no training split" if split is None else
                                        "training validated on its training frames: no held-out frame")
            return result
        result = evaluate_sleap(dirs, labels_path, device=device, frames=val)
        result["train"] = evaluate_sleap(dirs, labels_path, device=device, frames=split["train"])
        result["split"] = "held-out"
        return result
    from pipeline.inference.dlc import evaluate_dlc

    result = evaluate_dlc(model[0], shuffle=shuffle, device=device)
    test = dict(result.get("test") or result)
    test["train"] = result.get("train")
    test["split"] = "held-out" if result.get("test") else "all"
    return test


def folder_checksum(paths) -> str:
    """sha256 over every file under ``paths`` (names and bytes, in sorted order)."""
    digest = hashlib.sha256()
    for root in sorted(Path(p) for p in paths):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            digest.update(str(f.relative_to(root.parent)).encode())
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()
