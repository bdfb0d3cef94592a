"""Labelled frames, training, pose models, their evaluation, and model-driven pose estimation.

Engine-agnostic (SLEAP via sleap-nn, DeepLabCut 3 PyTorch). Training and
inference run in three-part makes, outside any transaction; trained model
folders live in the store (``<object@ethojoint>``).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import datajoint as dj

from pipeline import provenance
from pipeline.errors import InputError
from pipeline.inference import engines
from pipeline.io.checksum import file_checksum
from pipeline.paths import resolve, to_relative

from . import pose, store
from .config import data_roots
from .model_files import device, model_files, prune_cache, run_model  # noqa: F401  (public here too)

schema = dj.Schema()


def _relative(path) -> str:
    roots = data_roots()
    return to_relative(path, roots) if Path(path).is_absolute() else to_relative(resolve(path, roots), roots)


@schema
class LabeledFrameSet(dj.Manual):
    """One row: one set of human-labelled frames (a SLEAP .slp/.pkg.slp or a DeepLabCut project)."""

    definition = """
    labeled_set : varchar(64)
    ---
    engine_format : enum('sleap', 'deeplabcut')
    labels_path : varchar(512)          # relative: .slp / .pkg.slp, or the DLC project's config.yaml
    -> pose.Skeleton
    n_frames : int32                    # labelled frames
    keypoints : json
    labels_sha256 : char(64)
    """

    @classmethod
    def add(cls, name: str, path, *, engine: str, skeleton: str | None = None) -> dict:
        """Read and check a labelled-frame set, then register it (nothing written on bad input).

        Without ``skeleton`` a skeleton named ``name`` is made from the labels.
        """
        rel = _relative(path)
        full = resolve(rel, data_roots())
        info = engines.read_labels_summary(engine, full)
        if skeleton is None:
            skeleton = name
            pose.Skeleton.insert1({"skeleton": skeleton, "keypoints": info["keypoints"], "edges": info["edges"]},
                                  skip_duplicates=True)
        sk = (pose.Skeleton & {"skeleton": skeleton}).to_dicts()
        if not sk:
            raise InputError(full, f"skeleton {skeleton!r} is not in the database")
        engines.check_keypoints(info["keypoints"], sk[0]["keypoints"], source=full)
        cls.insert1({"labeled_set": name, "engine_format": engine, "labels_path": rel, "skeleton": skeleton,
                     "n_frames": info["n_frames"], "keypoints": info["keypoints"],
                     "labels_sha256": file_checksum(full) if engine == "sleap"
                     else engines.folder_checksum([full.parent / "labeled-data"])}, skip_duplicates=True)
        return {"labeled_set": name}


@schema
class TrainingParamSet(dj.Lookup):
    """One row: one content-hashed training configuration of one engine (its full config as JSON)."""

    definition = """
    training_params : char(36)
    ---
    training_params_name : varchar(64)
    engine : enum('sleap', 'deeplabcut')
    config : json
    """

    @classmethod
    def add(cls, name: str, engine: str, config: dict) -> dict:
        if engine not in engines.ENGINES:
            raise ValueError(f"engine must be one of {engines.ENGINES}, not {engine!r}")
        key = {"training_params": provenance.params_hash({"engine": engine, "config": config})}
        cls.insert1(dict(key, training_params_name=name, engine=engine, config=config), skip_duplicates=True)
        return key


@schema
class TrainingTask(dj.Manual):
    """One row: train one parameter set on one labelled-frame set (same engine)."""

    definition = """
    -> LabeledFrameSet
    -> TrainingParamSet
    ---
    task_notes = '' : varchar(255)
    """


@schema
class ModelTraining(dj.Computed):
    """One row: one trained model (its folder in the store), with curve, best epoch, duration and device."""

    definition = """
    -> TrainingTask
    ---
    model : <object@ethojoint>          # the engine's model folder (DLC: the project copy)
    model_subpaths : json               # what inside ``model`` to load (SLEAP: model folders; DLC: config.yaml)
    curve : json                        # [{epoch, train_loss, val_loss}]
    best_epoch : int32
    duration_s : float64
    device : varchar(32)
    weights_sha256 : char(64)
    provenance : json
    """

    def make_fetch(self, key):
        labels = (LabeledFrameSet & key).fetch1()
        params = (TrainingParamSet & key).fetch1()
        if params["engine"] != labels["engine_format"]:
            raise InputError(labels["labels_path"], f"labels are {labels['engine_format']}, "
                                                    f"training parameters are {params['engine']}")
        return (TrainingJob(engine=params["engine"], labels_path=labels["labels_path"],
                            labels_sha256=labels["labels_sha256"], config=params["config"]),)

    def make_compute(self, key, job):
        work = Path(tempfile.mkdtemp(prefix="ethojoint_train_"))
        try:  # the engine writes into work/; the store keeps its own copy, uploaded here (before the insert)
            result = engines.train(job.engine, resolve(job.labels_path, data_roots()), job.config, work / "model",
                                   device=device())
            root, subpaths = _model_root(job.engine, Path(result.model_dir))
            facts = dict(subpaths=subpaths, curve=provenance.jsonable(list(result.curve)),
                         best_epoch=int(result.best_epoch), duration_s=float(result.duration_s),
                         device=str(result.device), weights_sha256=engines.folder_checksum([root]),
                         provenance=provenance.record(inputs={job.labels_path: job.labels_sha256},
                                                      params={"engine": job.engine, "config": job.config}))
            model = store.upload(self, key, "model", root)  # last: nothing after it can fail and orphan it
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return (TrainedModel(model=model, **facts),)

    def make_insert(self, key, trained):
        with store.removed_on_error(trained.model):
            self.insert1(dict(key, model=trained.model, model_subpaths=trained.subpaths, curve=trained.curve,
                              best_epoch=trained.best_epoch, duration_s=trained.duration_s, device=trained.device,
                              weights_sha256=trained.weights_sha256, provenance=trained.provenance))


@dataclass(frozen=True)
class TrainingJob:
    """What ModelTraining.make_fetch reads: the engine, the labels and the training configuration."""

    engine: str
    labels_path: str
    labels_sha256: str
    config: dict


@dataclass(frozen=True)
class TrainedModel:
    """What ModelTraining.make_compute produced: the model folder already in the store (its metadata), and facts."""

    model: dict
    subpaths: list
    curve: list
    best_epoch: int
    duration_s: float
    device: str
    weights_sha256: str
    provenance: dict


def _model_root(engine: str, folder: Path) -> tuple[Path, list[str]]:
    """The folder to store and what inside it to load (SLEAP: the model folder; DLC: the project copy)."""
    if engine == "sleap":
        return folder, ["."]
    # the DLC project copy: config.yaml + dlc-models-pytorch + training-datasets
    return next(p for p in [folder, *folder.parents] if (p / "config.yaml").exists()), ["config.yaml"]


@schema
class PoseModel(dj.Manual):
    """One row: one usable pose model — trained here (ModelTraining) or imported from folders.

    Imported SLEAP models list their model folders (top-down: centroid and
    centered-instance); imported DeepLabCut models name the project's
    config.yaml and a shuffle. Paths are relative to a data root.
    """

    definition = """
    pose_model : varchar(64)
    ---
    engine : enum('sleap', 'deeplabcut')
    -> pose.Skeleton
    -> [nullable] ModelTraining
    model_paths = null : json           # imported: relative paths
    shuffle = 1 : int32                 # DeepLabCut shuffle
    weights_sha256 : char(64)
    """

    @classmethod
    def from_training(cls, name: str, training_key: dict) -> dict:
        row = (ModelTraining * TrainingParamSet * LabeledFrameSet & training_key).fetch1()
        cls.insert1({"pose_model": name, "engine": row["engine"], "skeleton": row["skeleton"],
                     "labeled_set": row["labeled_set"], "training_params": row["training_params"],
                     "weights_sha256": row["weights_sha256"]}, skip_duplicates=True)
        return {"pose_model": name}

    @classmethod
    def import_model(cls, name: str, engine: str, paths: list, *, skeleton: str, shuffle: int = 1) -> dict:
        """Register existing model folders (SLEAP) or a DLC project config.yaml, with a checksum."""
        rel = [_relative(p) for p in paths]
        full = [resolve(p, data_roots()) for p in rel]
        for p in full:
            if engine == "sleap" and not (p / "training_config.yaml").exists() and not (p / "best.ckpt").exists():
                raise InputError(p, "is not a SLEAP model folder (no training_config.yaml / best.ckpt)")
        if not pose.Skeleton & {"skeleton": skeleton}:
            raise InputError(f"pose model {name}", f"skeleton {skeleton!r} is not in the database")
        engines.check_keypoints(engines.model_keypoints(engine, full), (pose.Skeleton & {"skeleton": skeleton})
                                .fetch1("keypoints"), source=full[0])
        weights = full if engine == "sleap" else [full[0].parent / "dlc-models-pytorch"]
        cls.insert1({"pose_model": name, "engine": engine, "skeleton": skeleton, "model_paths": rel,
                     "shuffle": int(shuffle), "weights_sha256": engines.folder_checksum(weights)},
                    skip_duplicates=True)
        return {"pose_model": name}


def model_source(key) -> dict:
    """Where a PoseModel's files are, read from the database only (what a make_fetch returns).

    ``{engine, model_paths, shuffle, weights_sha256}``, and for a trained
    model ``model`` (the stored folder's metadata), ``model_subpaths`` and
    ``trained_sha256``. :func:`model_files` turns it into local paths.
    """
    row = (PoseModel & {"pose_model": key["pose_model"]}).fetch1()
    source = {k: row[k] for k in ("engine", "model_paths", "shuffle", "weights_sha256")}
    if not row["model_paths"]:
        model, subpaths, sha = (ModelTraining & {k: row[k] for k in ("labeled_set", "training_params")}).fetch1(
            "model", "model_subpaths", "weights_sha256")
        source.update(model=store.metadata(model), model_subpaths=subpaths, trained_sha256=sha)
    return source


def model_location(key) -> tuple[str, list[Path], int]:
    """(engine, local model paths, shuffle) of a PoseModel (reads the database: not for make_compute)."""
    return model_files(model_source(key))


def prune_model_cache(*, min_age_hours: float = 24.0, dry_run: bool = False) -> list[Path]:
    """Delete this machine's cached model folders that no ModelTraining row uses any more.

    See :func:`model_files.prune_cache`; the folders in use are those of this database's ModelTraining rows.
    """
    used = {sha[:16] for sha in ModelTraining().to_arrays("weights_sha256")}
    return prune_cache(used, min_age_hours=min_age_hours, dry_run=dry_run)


@schema
class EvaluationTask(dj.Manual):
    """One row: evaluate one pose model on one labelled-frame set."""

    definition = """
    -> PoseModel
    -> LabeledFrameSet
    """


@schema
class ModelEvaluation(dj.Computed):
    """One row: the accuracy of one model on labelled frames (px error, PCK, OKS mAP, per body part).

    When the model was trained on this labelled set, only the frames its
    training held out are scored (``split = 'held-out'``; the train split's
    figures are in ``metrics["train"]``); otherwise every labelled frame
    (``split = 'all'``).
    """

    definition = """
    -> EvaluationTask
    ---
    split : varchar(16)                 # frames scored: held-out | all
    n_frames : int32
    mean_px = null : float64
    median_px = null : float64
    pck : json                          # {threshold_px: fraction}
    oks_map = null : float64
    per_keypoint : json
    metrics : json                      # everything the evaluation returned
    device : varchar(32)
    provenance : json
    """

    def make_fetch(self, key):
        # explicit keys: PoseModel's nullable ModelTraining reference also has a labeled_set column
        labels = (LabeledFrameSet & {"labeled_set": key["labeled_set"]}).fetch1()
        owner = (PoseModel & {"pose_model": key["pose_model"]}).fetch1("labeled_set")
        return (EvaluationJob(labels_path=labels["labels_path"], labels_sha256=labels["labels_sha256"],
                              own=owner == key["labeled_set"],  # trained on these labels: score its held-out frames
                              model=model_source(key)),)

    def make_compute(self, key, job):
        engine, paths, shuffle = model_files(job.model)
        dev = device()
        metrics = engines.evaluate(engine, paths, resolve(job.labels_path, data_roots()), shuffle=shuffle, device=dev,
                                   held_out=job.own)
        prov = provenance.record(inputs={job.labels_path: job.labels_sha256},
                                 params={"weights_sha256": job.model["weights_sha256"], "held_out": job.own})
        return provenance.jsonable(metrics), dev, prov

    def make_insert(self, key, metrics, device, prov):
        self.insert1(dict(key, split=metrics["split"], n_frames=int(metrics.get("n_frames") or 0),
                          mean_px=metrics.get("mean_px"),
                          median_px=metrics.get("median_px"), pck=metrics.get("pck") or {},
                          oks_map=metrics.get("oks_map"), per_keypoint=metrics.get("per_keypoint") or {},
                          metrics=metrics, device=device, provenance=prov))


@dataclass(frozen=True)
class EvaluationJob:
    """What ModelEvaluation.make_fetch reads: the labels, whether the model was trained on them, the model."""

    labels_path: str
    labels_sha256: str
    own: bool
    model: dict                         # model_source()


@schema
class PoseInference(dj.Manual):
    """One row: the model (and frame range) a PoseEstimationTask in mode 'trigger' runs."""

    definition = """
    -> pose.PoseEstimationTask
    ---
    -> PoseModel
    frame_start = 0 : int32
    frame_stop = null : int32           # exclusive; null = to the end
    max_tracks = null : int32           # SLEAP tracking: at most this many tracks; null = no tracking
    batch_size = 4 : int32
    """


def add_inference(session_key: dict, camera: str, pose_model: str, *, pose_source: str | None = None,
                  frame_start: int = 0, frame_stop: int | None = None, max_tracks: int | None = None,
                  tracks: dict | None = None) -> dict:
    """Register a PoseEstimationTask in mode 'trigger' and its PoseInference, in one transaction."""
    model = (PoseModel & {"pose_model": pose_model}).fetch1()
    key = {"session": session_key["session"], "camera": camera, "pose_source": pose_source or pose_model[:32]}
    with pose.PoseEstimationTask.connection.transaction:
        pose.PoseEstimationTask.insert1(dict(key, skeleton=model["skeleton"], task_mode="trigger"))
        pose.PoseEstimationTask.Track.insert(dict(key, track=t, subject=s) for t, s in (tracks or {}).items())
        PoseInference.insert1(dict(key, pose_model=pose_model, frame_start=int(frame_start),
                                   frame_stop=frame_stop, max_tracks=max_tracks))
    return key


def inference_source(key) -> dict:
    """What running a trigger task's model needs, read from the database (PoseEstimation.make_fetch)."""
    row = (PoseInference & key).fetch1()
    inference = {k: row[k] for k in ("pose_model", "frame_start", "frame_stop", "max_tracks", "batch_size")}
    return dict(inference, model=model_source(row))


# PoseEstimation (upstream) runs trigger tasks through these; it does not import this module
pose.set_trigger(PoseInference, fetch=inference_source, run=run_model)
