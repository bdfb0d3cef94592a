"""Pose-model inference, training and evaluation (SLEAP via sleap-nn).

Importing this package needs only numpy/scipy; torch, sleap-nn, Lightning
and OpenCV are imported inside the functions that use them.

Examples
--------
>>> from pipeline.inference import predict_sleap, keypoint_metrics
>>> p = predict_sleap(["centroid", "centered_instance"], "clip.mp4",
...                   frames=range(20))                     # doctest: +SKIP
"""

from pipeline.inference.frames import resolve_frames, select_frames_kmeans, write_sleap_package
from pipeline.inference.metrics import keypoint_metrics
from pipeline.inference.sleap import (
    Prediction,
    evaluate_sleap,
    load_training_config,
    model_checksum,
    model_info,
    predict_sleap,
)
from pipeline.inference.sleap_train import TrainingResult, train_sleap, training_split

__all__ = ["Prediction", "TrainingResult", "evaluate_sleap", "keypoint_metrics", "load_training_config",
           "model_checksum", "model_info", "predict_sleap", "resolve_frames", "select_frames_kmeans",
           "train_sleap", "training_split", "write_sleap_package"]
