"""``ethojoint label-next``: read a classifier's stored probabilities and write the labelling job."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def label_next(classifier: str, *, n: int = 20, segment_s: float = 2.0, out: Path,
               include_labelled: bool = False) -> pd.DataFrame:
    """Write ``out/label_next.csv`` and ``out/label_next.boris`` with the ``n`` most uncertain segments.

    Recordings of the classifier's training set are left out unless
    ``include_labelled`` (they are labelled already).

    Raises
    ------
    InputError
        An unknown or untrained classifier, ``n`` < 1 or ``segment_s`` <= 0,
        or no predicted recording to choose from.
    """
    from pipeline.classify.label_next import most_uncertain, write_boris_job
    from pipeline.errors import InputError
    from schemas import store
    from schemas.annotation import Ethogram
    from schemas.classifier import Classifier, ClassifierTraining, ClassifierTrainingSet
    from schemas.prediction import BehaviorPrediction

    where = f"label-next {classifier}"
    if n < 1 or not segment_s > 0:
        raise InputError(where, f"--n must be ≥ 1 and --segment-s > 0, got {n}, {segment_s}")
    key = {"classifier": classifier}
    if not ClassifierTraining & key:
        raise InputError(where, "no trained classifier of that name (ethojoint classifier list)")
    thresholds = {r["behavior"]: float(r["threshold"]) for r in (ClassifierTraining.Behavior & key).to_dicts()}
    clf = (Classifier * ClassifierTrainingSet & key).fetch1()
    labelled = {(r["session"], r["camera"]) for r in (ClassifierTrainingSet.Recording
                                                       & {"training_set": clf["training_set"]}).to_dicts()}
    recordings, videos = [], {}
    for p in (BehaviorPrediction & key).to_dicts(order_by=["session", "pose_version"]):
        camera = p["pose_version"].split("/", 1)[0]
        if (p["session"], camera) in labelled and not include_labelled:
            continue
        name = f"{p['session']}/{p['pose_version']}"
        series = {}
        for s in (BehaviorPrediction.Series & {**key, "session": p["session"],
                                                "pose_version": p["pose_version"]}).to_dicts():
            values = store.load_array(store.metadata(s["probability"]))
            series[s["series"]] = {b: values[:, i] for i, b in enumerate(s["behaviors"])}
        recordings.append({"recording": name, "fps": p["fps"], "frame_offset": p["frame_offset"],
                           "thresholds": thresholds, "series": series})
        videos[name] = _video(p["session"], camera, p)
    if not recordings:
        raise InputError(where, "no predicted recording outside the training set "
                                "(populate prediction.BehaviorPrediction, or --include-labelled)")
    job = most_uncertain(recordings, n=n, segment_s=segment_s)
    out.mkdir(parents=True, exist_ok=True)
    job.to_csv(out / "label_next.csv", index=False)
    behaviors = {r["behavior"]: bool(r["directed"]) for r in (Ethogram.Behavior & {"ethogram": clf["ethogram"]})
                 .to_dicts()}
    write_boris_job(job, out / "label_next.boris", videos=videos, behaviors=behaviors)
    return job


def _video(session: str, camera: str, prediction: dict) -> dict:
    from schemas.recording import VideoRecording

    path = (VideoRecording & {"session": session, "camera": camera}).fetch1("video_path")
    return {"file": path or f"{session}_{camera}.mp4", "fps": prediction["fps"],
            "length_s": (prediction["frame_offset"] + prediction["n_frames"]) / prediction["fps"]}
