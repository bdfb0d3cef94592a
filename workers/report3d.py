"""``ethojoint report3d <session>``: calibration quality and 3D trajectories of a session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def run_report3d(session: str, out: str | Path) -> int:
    """Write, for every triangulation of ``session``: its calibration report, 3D plot and residual CSVs."""
    from pipeline.calibration import plot_calibration_report, plot_trajectories_3d
    from schemas import calibration, triangulation

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = (triangulation.Triangulation * triangulation.TriangulationParamSet.proj("tri_params_name")
            & {"session": session}).to_dicts()
    if not rows:
        print(f"no triangulation of session {session!r}; populate triangulation.Triangulation first")
        return 1
    written, calibrations = [], {}
    for row in rows:
        ckey = {"calibration": row["calibration"]}
        if row["calibration"] not in calibrations:
            cams = (calibration.CameraCalibration.Camera & ckey).to_dicts(order_by="camera_index")
            table = pd.DataFrame([{k: c[k] for k in ("camera", "width", "height", "median_error_px",
                                                     "mean_error_px", "n_detections")} for c in cams])
            table.to_csv(out / f"calibration_{row['calibration']}.csv", index=False)
            errors = {c["camera"]: c["median_error_px"] for c in cams if c["median_error_px"] is not None}
            path = out / f"calibration_{row['calibration']}.png"
            plot_calibration_report(calibration.cameras_of(ckey), errors, path=path,
                                    title=f"calibration {row['calibration']}")
            calibrations[row["calibration"]] = table
            written += [path]
        stem = f"{session}_{row['pose_source']}_{row['calibration']}_{row['tri_params_name']}"
        positions = np.asarray(row["positions"], dtype=np.float64)
        path = out / f"trajectories3d_{stem}.png"
        plot_trajectories_3d(positions, individuals=row["individuals"], keypoints=row["keypoints"], path=path)
        residuals = pd.DataFrame(triangulation.residual_table(row))
        residuals.to_csv(out / f"residuals_{stem}.csv", index=False)
        written += [path]
        print(f"{stem}: {row['n_frames']} frames, individuals {row['individuals']}, "
              f"{100 * row['triangulated_fraction']:.1f} % of points triangulated, "
              f"median reprojection {_fmt(row['median_reprojection_px'])} px")
        for r in residuals.itertuples():
            print(f"  {r.camera:<12} median residual {_fmt(r.median_residual_px)} px  ({r.n_points} points)")
    for name, table in calibrations.items():
        print(f"calibration {name}:\n{table.to_string(index=False)}")
    print(f"wrote {len(written)} plots to {out}")
    return 0


def _fmt(value) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.2f}"
