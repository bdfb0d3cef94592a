"""The worker stages: names of the tables each serves (no imports, so ``ethojoint --help`` starts fast)."""

DEFAULT_POLL_S = 10.0

STAGES: dict[str, list[str]] = {
    "pose": ["pose.PoseEstimation"],
    "train": ["models.ModelTraining"],
    "eval": ["models.ModelEvaluation", "membership.TrainingMembership"],
    "quality": ["quality.FilteredPose", "quality.IdentityCheck", "quality.IdentityCorrection"],
    "behavior": ["behavior.SocialBouts", "agreement.Agreement"],
    "classify": ["features.PoseFeatures", "classifier.ClassifierTraining", "prediction.ClassifierEvaluation",
                 "prediction.BehaviorPrediction"],
    "calibration": ["calibration.CameraCalibration", "triangulation.Triangulation"],
    # everything a CPU machine should take: no model inference or training
    "analysis": ["recording.RecordingInfo", "quality.FilteredPose", "quality.IdentityCheck",
                 "quality.IdentityCorrection", "calibration.CameraCalibration", "triangulation.Triangulation",
                 "behavior.SocialBouts", "keypoints.KeypointDistance", "agreement.Agreement", "features.PoseFeatures",
                 "classifier.ClassifierTraining", "prediction.ClassifierEvaluation", "prediction.BehaviorPrediction",
                 "labeling.FrameExtraction", "labeling.LabeledVideo", "motion.MotionEnergy", "motion.MotionSVD"],
    "all": [],  # every computed table, in schemas.MODULES order (see workers.worker.stage_tables)
}
