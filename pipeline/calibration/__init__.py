"""Multi-camera calibration (Anipose-compatible): boards, cameras, calibration, plots.

Pure computation and file I/O; no database.
"""

from pipeline.calibration.board import Board, read_board_toml, to_aniposelib
from pipeline.calibration.calibrate import Calibration, calibrate, reprojection_errors, triangulate_normalized
from pipeline.calibration.cameras import (
                                            Camera,
                                            camera_centers,
                                            check_cameras,
                                            project,
                                            read_calibration_toml,
                                            undistort,
                                            write_calibration_toml,
)
from pipeline.calibration.detect import detect_boards, frame_key
from pipeline.calibration.plots import plot_calibration_report, plot_trajectories_3d

__all__ = ["Board", "Calibration", "Camera", "calibrate", "camera_centers", "check_cameras",
           "detect_boards", "frame_key", "plot_calibration_report", "plot_trajectories_3d",
           "project", "read_board_toml", "read_calibration_toml", "reprojection_errors",
           "to_aniposelib", "triangulate_normalized", "undistort", "write_calibration_toml"]
