"""Train a sleap-nn model from a full training config (offline, CPU or GPU).

Re-exported by :mod:`pipeline.inference.sleap`; torch, Lightning and
sleap-nn are imported inside the functions.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.errors import InputError
from pipeline.inference.sleap import _load_labels, load_training_config

__all__ = ["TrainingResult", "train_sleap", "training_split"]


@dataclass
class TrainingResult:
    """A trained model folder and how training went (``curve``: one dict per epoch)."""

    model_dir: Path
    curve: list[dict]
    best_epoch: int
    duration_s: float
    device: str
    config: dict = field(repr=False)


def train_sleap(labels_path, config: dict, out_dir, *, epochs=1, device="cpu", seed=0,
                val_fraction=0.2) -> TrainingResult:
    """Train a sleap-nn model from a full training config.

    Parameters
    ----------
    labels_path : str or Path
        ``.slp`` / ``.pkg.slp`` with user-labelled frames.
    config : dict
        A complete sleap-nn training config (e.g. :func:`load_training_config`
        of a shipped model).  Its data paths, epochs, seed, device and save
        folder are overridden; logging to wandb, progress bars and prediction
        plots are switched off.  A file with a single labelled frame
        validates on the training frame.
    out_dir : str or Path
        The new model folder; must not exist or be empty.
    epochs, device, seed, val_fraction
        Epochs, ``"cpu"``/``"cuda"``/``"cuda:N"``, seed, held-out fraction.

    Returns
    -------
    TrainingResult
        ``curve`` holds ``{"epoch", "train_loss", "val_loss"}`` per epoch;
        ``best_epoch`` is the one with the lowest validation loss.
    """
    from omegaconf import OmegaConf

    labels_path, out_dir = Path(labels_path), Path(out_dir)
    n_labelled = sum(bool(lf.user_instances) for lf in _load_labels(labels_path))
    if n_labelled == 0:
        raise InputError(labels_path, "no user-labelled frames to train on")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise InputError(out_dir, "output folder exists and is not empty")
    cfg = copy.deepcopy(config)
    data, trainer = cfg.setdefault("data_config", {}), cfg.setdefault("trainer_config", {})
    data.update(train_labels_path=[str(labels_path)], val_labels_path=None, validation_fraction=val_fraction,
                use_same_data_for_val=n_labelled < 2)
    kind, _, index = device.partition(":")
    trainer.update(max_epochs=int(epochs), seed=int(seed), ckpt_dir=str(out_dir.parent), run_name=out_dir.name,
                   save_ckpt=True, use_wandb=False, enable_progress_bar=False, visualize_preds_during_training=False,
                   keep_viz=False, trainer_accelerator="cpu" if kind == "cpu" else ("gpu" if kind == "cuda" else kind),
                   trainer_devices=1, trainer_device_indices=[int(index)] if index else None)
    trainer_class = _recording_trainer()
    recorder = trainer_class.recorder
    start = time.perf_counter()
    trainer_class.get_model_trainer_from_config(OmegaConf.create(cfg)).train()
    duration = time.perf_counter() - start
    curve = [{"epoch": e, "train_loss": recorder.train.get(e, np.nan), "val_loss": recorder.val.get(e, np.nan)}
             for e in sorted(set(recorder.train) | set(recorder.val))]
    val = np.array([c["val_loss"] for c in curve], dtype=float)
    best = int(curve[int(np.nanargmin(val))]["epoch"]) if np.isfinite(val).any() else len(curve) - 1
    return TrainingResult(model_dir=out_dir, curve=curve, best_epoch=best, duration_s=duration, device=device,
                          config=load_training_config(out_dir))


def _recording_trainer():
    """sleap-nn's ModelTrainer plus a callback recording epoch losses (``.recorder``)."""
    from lightning.pytorch.callbacks import Callback
    from sleap_nn.training.model_trainer import ModelTrainer

    class Recorder(Callback):  # epoch-mean train/loss is in callback_metrics only after on_train_epoch_end
        def __init__(self):
            self.train, self.val, self.epoch = {}, {}, None

        def _take_train(self, trainer):
            if self.epoch is not None and (v := trainer.callback_metrics.get("train/loss")) is not None:
                self.train[self.epoch] = float(v)

        def on_train_epoch_start(self, trainer, pl_module):
            self._take_train(trainer)
            self.epoch = trainer.current_epoch

        def on_train_end(self, trainer, pl_module):
            self._take_train(trainer)

        def on_validation_end(self, trainer, pl_module):
            if not trainer.sanity_checking and (v := trainer.callback_metrics.get("val/loss")) is not None:
                self.val[trainer.current_epoch] = float(v)

    class Trainer(ModelTrainer):
        recorder = Recorder()

        def _setup_loggers_callbacks(self, *args, **kwargs):
            loggers, callbacks = super()._setup_loggers_callbacks(*args, **kwargs)
            return loggers, list(callbacks) + [self.recorder]

    return Trainer


def training_split(model_dir) -> dict | None:
    """The labelled frames sleap-nn trained and validated on, from the split files it saves.

    sleap-nn writes ``labels_gt.train.0.slp`` and ``labels_gt.val.0.slp`` in
    the model folder; their user-labelled frame indices (of the first video)
    are returned as ``{"train": [...], "val": [...]}``, or None when the
    folder has no such files (e.g. a model trained elsewhere and shipped
    without them).

    Raises
    ------
    InputError
        A split file exists but cannot be read.
    """
    model_dir = Path(model_dir)
    out = {}
    for part in ("train", "val"):
        path = model_dir / f"labels_gt.{part}.0.slp"
        if not path.is_file():
            return None
        labels = _load_labels(path)
        first = labels.videos[0] if labels.videos else None
        out[part] = sorted(int(lf.frame_idx) for lf in labels.labeled_frames
                           if lf.user_instances and lf.video is first)
    return out
