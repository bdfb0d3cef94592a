"""Training membership: which subjects' frames a model that EthoJoint trained was trained on.

:class:`TrainingMembership` reads, for each ``models.ModelTraining``, the
videos of its ``LabeledFrameSet``'s frames and the training split the
engine recorded (:mod:`pipeline.inference.membership`). A subject is then,
for a pose estimation made by that model (:func:`subject_membership`):

- ``training``: an animal of a session whose recording's video had frames
  the training used (in a session of several animals, all of them: the
  labels do not say whose instance is whose subject);
- ``labelled_not_trained``: only held-out (validation / test) frames;
- ``held_out``: no labelled frame.

Videos are matched to recordings when asked, by file name (SLEAP) or stem
(DeepLabCut), so recordings added later count.
"""

from __future__ import annotations

from dataclasses import dataclass

import datajoint as dj

from pipeline import provenance
from pipeline.errors import InputError
from pipeline.inference.membership import labelled_videos, match_recordings
from pipeline.paths import resolve

from . import models, pose, recording, session, store, versions  # noqa: F401  (named by definitions)
from .config import data_roots

schema = dj.Schema()
LABELS = ("training", "labelled_not_trained", "held_out")


@schema
class TrainingMembership(dj.Computed):
    """One row: the videos whose labelled frames one trained model used or held out, and how that was known."""

    definition = """
    -> models.ModelTraining
    ---
    split : varchar(255)               # how the split was known (the engine's split files, or none)
    provenance : json
    """

    class Video(dj.Part):
        """One row: one video with labelled frames of the model's labels, counted by use."""

        definition = """
        -> master
        video : varchar(255)           # file name (SLEAP) or stem (DeepLabCut)
        ---
        frames_used : int32
        frames_held_out : int32
        """

    def make_fetch(self, key):
        trained = store.small((models.ModelTraining & key).fetch1())
        labels = (models.LabeledFrameSet & key).fetch1()
        config = (models.TrainingParamSet & key).fetch1("config")
        source = {"engine": labels["engine_format"], "model_paths": None, "shuffle": int(config.get("shuffle", 1)),
                  "weights_sha256": trained["weights_sha256"], "model": trained["model"],
                  "model_subpaths": trained["model_subpaths"], "trained_sha256": trained["weights_sha256"]}
        return (MembershipJob(source=source, labels_path=labels["labels_path"],
                              labels_sha256=labels["labels_sha256"]),)

    def make_compute(self, key, job):
        started = provenance.now()
        engine, paths, shuffle = models.model_files(job.source)
        found = labelled_videos(engine, resolve(job.labels_path, data_roots()), paths, shuffle=shuffle)
        master = dict(key, split=found["split"][:255],
                      provenance=provenance.record(started=started, inputs={job.labels_path: job.labels_sha256},
                                                   params={"engine": engine, "shuffle": shuffle,
                                                           "weights_sha256": job.source["weights_sha256"]}))
        parts = [dict(key, video=v[:255], frames_used=c["used"], frames_held_out=c["held_out"])
                 for v, c in found["videos"].items()]
        return master, parts

    def make_insert(self, key, master, parts):
        self.insert1(master)
        self.Video.insert(parts)


@dataclass(frozen=True)
class MembershipJob:
    """What TrainingMembership.make_fetch reads: the model's files (store metadata) and its labels."""

    source: dict
    labels_path: str
    labels_sha256: str


def pose_models(version_keys) -> dict:
    """``(session, pose_version) -> ModelTraining key`` of versions made by a model trained here (others absent)."""
    tasks = (pose.PoseEstimationTask & "task_mode = 'trigger'") * models.PoseInference * models.PoseModel
    trained = tasks & "labeled_set IS NOT NULL"
    out = {}
    for part in (versions.PoseVersion.Raw, versions.PoseVersion.Filtered, versions.PoseVersion.Corrected):
        for r in (part * trained.proj("labeled_set", "training_params") & version_keys).to_dicts():
            out[(r["session"], r["pose_version"])] = {"labeled_set": r["labeled_set"],
                                                      "training_params": r["training_params"]}
    return out


def subject_membership(training_key: dict) -> dict:
    """``(session, subject) -> label`` (:data:`LABELS`) for every animal in the database, for one trained model.

    Raises
    ------
    InputError
        The model's TrainingMembership is not computed yet, or a labelled
        video matches several recordings.
    """
    if not TrainingMembership & training_key:
        raise InputError(f"model trained on {training_key['labeled_set']!r}", "training membership not computed "
                                                                            "yet: run `ethojoint populate "
                                                                            "membership.TrainingMembership`")
    engine = (models.LabeledFrameSet & training_key).fetch1("engine_format")
    videos = {r["video"]: {"used": r["frames_used"], "held_out": r["frames_held_out"]}
              for r in (TrainingMembership.Video & training_key).to_dicts()}
    matched, _ = match_recordings(videos, recording.VideoRecording.proj("video_path").to_dicts(), engine=engine)
    sessions: dict[str, str] = {}
    for r in matched:
        label = "training" if r["used"] else "labelled_not_trained"
        if sessions.get(r["session"]) != "training":
            sessions[r["session"]] = label
    return {(a["session"], a["subject"]): sessions.get(a["session"], "held_out")
            for a in session.Session.Animal.proj().to_dicts()}


def add_membership(rows):
    """``rows`` (with ``session, pose_version, subject``) plus a ``training_membership`` column.

    Raises
    ------
    InputError
        A pose version not made by a model that EthoJoint trained, or
        versions made by several trained models (membership is relative to one).
    """
    keys = rows[["session", "pose_version"]].drop_duplicates().to_dict("records")
    made_by = pose_models(keys)
    other = sorted({f"{k['session']}/{k['pose_version']}" for k in keys} - {f"{s}/{v}" for s, v in made_by})
    if other:
        raise InputError("--by training_membership", f"{len(other)} pose version(s) were not made by a model "
                                                     f"EthoJoint trained (e.g. {', '.join(other[:3])})")
    trainings = {tuple(sorted(t.items())) for t in made_by.values()}
    if len(trainings) > 1:
        raise InputError("--by training_membership", f"the pose versions come from {len(trainings)} trained models "
                                                     f"{sorted(dict(t)['labeled_set'] for t in trainings)}; "
                                                     "membership is relative to one model")
    labels = subject_membership(dict(next(iter(trainings))))
    return rows.assign(training_membership=[labels.get((s, a), "held_out")
                                            for s, a in zip(rows["session"], rows["subject"])])
