"""Motion energy and motion SVD of regions of interest in videos (facemap-style), without datajoint.

- :mod:`pipeline.motion.rois`: ROI entries (rectangle, polygon, mask) checked, rasterised and drawn;
- :mod:`pipeline.motion.energy`: motion energy of all ROIs in one streaming pass over the video, and its
  join with pose-derived features on the video frame;
- :mod:`pipeline.motion.svd`: the top components of one ROI's motion frames.
"""

from .energy import (
    DEFAULT_PARAMS,
    REDUCE,
    MotionEnergy,
    check_params,
    motion_energy,
    motion_features,
    read_frame,
    with_motion,
)
from .rois import KINDS, check_roi, check_roi_set, draw_rois, read_mask, roi_mask
from .svd import METHODS, motion_svd

__all__ = ["DEFAULT_PARAMS", "KINDS", "METHODS", "REDUCE", "MotionEnergy", "check_params", "check_roi",
           "check_roi_set", "draw_rois", "motion_energy", "motion_features", "motion_svd", "read_frame", "read_mask",
           "roi_mask", "with_motion"]
