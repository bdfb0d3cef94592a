"""Multi-camera 3D triangulation (Anipose-compatible), on plain numpy arrays.

2D pre-filters (:mod:`.filters2d`), linear DLT (:mod:`.dlt`), exhaustive
camera-pair RANSAC (:mod:`.ransac`), spatio-temporal optimisation
(:mod:`.optim`), reprojection residuals (:mod:`.reproject`) and one entry
point, :func:`triangulate` (:mod:`.triangulate`).

Arrays: ``points2d`` is (camera, time, individual, keypoint, 2) in distorted
pixels with NaN for missing points; 3D results are in the calibration's units
(mm).
"""

from pipeline.triangulation.dlt import triangulate_dlt
from pipeline.triangulation.filters2d import median_filter, score_threshold, viterbi_filter
from pipeline.triangulation.optim import triangulate_optim
from pipeline.triangulation.ransac import triangulate_ransac
from pipeline.triangulation.reproject import reprojection_errors
from pipeline.triangulation.triangulate import METHODS, Triangulated, triangulate

__all__ = ["METHODS", "Triangulated", "median_filter", "reprojection_errors", "score_threshold",
           "triangulate", "triangulate_dlt", "triangulate_optim", "triangulate_ransac",
           "viterbi_filter"]
