"""Benchmark: our Triangulation populate vs a direct aniposelib call, in the same run.

10 min × 30 fps × 4 cameras × 2 animals × 6 keypoints = 216,000 3D points
(864,000 2D observations) from the project's synthetic rig (lens distortion,
1 px noise). Both sides triangulate the same 2D points with the same cameras
(linear DLT after undistortion):

* aniposelib: ``CameraGroup.triangulate`` on the whole array (jax; the first
  call compiles for the input shape, so it is timed cold and warm);
* ours: ``Triangulation.populate()`` on a fresh database (embedded PostgreSQL
  in a temporary folder unless ``--server``) -- fetching the four
  PoseEstimation arrays from the store, triangulating in fixed-size chunks,
  reprojecting into every camera for the residuals, and inserting the result.
  File ingestion is not timed.

Prints points/s of both and the ratio ours / aniposelib-warm (target >= 0.9).

Run::

    python bench/bench_triangulation.py [--minutes 10] [--server]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def aniposelib_group(cameras):
    from aniposelib.cameras import Camera as ACamera
    from aniposelib.cameras import CameraGroup

    return CameraGroup([ACamera(name=c.name, size=list(c.size), matrix=c.matrix, dist=c.distortion,
                                rvec=c.rotation, tvec=c.translation) for c in cameras])


def write_views(folder: Path, cameras, views, keypoints, edges) -> dict:
    """One SLEAP analysis file per camera and the manifest that ingests them."""
    from pipeline.synthetic import write_camera_views

    files = write_camera_views(views, cameras, folder, individuals=("a", "b"), keypoints=keypoints, fps=30.0)
    recordings = [{"camera": cam, "fps": 30, "pose": [
        {"source": "synthetic", "skeleton": "chain", "file": str(path), "tracks": {"a": "m1", "b": "m2"}}]}
        for cam, path in files.items()]
    return {"subjects": [{"subject": "m1", "sex": "M", "age_group": "adult"},
                         {"subject": "m2", "sex": "F", "age_group": "adult"}],
            "skeletons": [{"skeleton": "chain", "keypoints": keypoints,
                           "edges": [[keypoints[a], keypoints[b]] for a, b in edges]}],
            "sessions": [{"session": "bench3d", "datetime": "2026-05-01 10:00:00",
                          "animals": [{"subject": "m1"}, {"subject": "m2"}], "recordings": recordings}]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--server", action="store_true", help="use the configured database server, not embedded")
    args = ap.parse_args(argv)

    from pipeline.calibration import write_calibration_toml
    from pipeline.manifest_load import dump_manifest
    from pipeline.synthetic.rig import observe, synthetic_animals_3d, synthetic_rig

    n_frames = int(round(args.minutes * 60 * 30))
    cameras = synthetic_rig(n_cameras=4, seed=1)
    truth, edges = synthetic_animals_3d(n_frames=n_frames, n_individuals=2, keypoints=6, seed=1)
    views = observe(truth, cameras, noise_px=1.0, missing=0.0, seed=1)
    n_points = truth.shape[0] * truth.shape[1] * truth.shape[2]
    print(f"{n_frames} frames x 2 animals x 6 keypoints = {n_points:,} 3D points from 4 cameras")

    group = aniposelib_group(cameras)
    flat = views.reshape(len(cameras), -1, 2)
    t0 = time.perf_counter()
    direct = group.triangulate(flat)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    direct = group.triangulate(flat)
    warm = time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="ej_bench3d_") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)  # pgserver may run PostgreSQL as another user
        os.environ["ETHOJOINT_DATA_ROOTS"] = str(tmp)
        os.environ["ETHOJOINT_STORE"] = str(tmp / "store")
        os.environ["ETHOJOINT_PREFIX"] = prefix = f"bench3d_{uuid.uuid4().hex[:6]}_"
        if not args.server:
            os.environ.update(ETHOJOINT_DB="embedded", ETHOJOINT_HOME=str(tmp / "home"))
        import schemas
        from schemas import calibration, triangulation
        from schemas.ingest import ingest

        connection = schemas.activate()
        try:
            keypoints = [f"k{j}" for j in range(6)]
            manifest = tmp / "manifest.yaml"
            manifest.write_text(dump_manifest(write_views(tmp, cameras, views, keypoints, edges)))
            ingest(manifest, progress=False)
            write_calibration_toml(tmp / "rig.toml", cameras)
            key = calibration.add_calibration("bench", rig="bench", kind="toml", toml_path=tmp / "rig.toml")
            calibration.CameraCalibration.populate(suppress_errors=False)
            params = triangulation.TriangulationParamSet.add("dlt")
            triangulation.TriangulationTask.insert1(dict(key, **params, session="bench3d", pose_source="synthetic"))
            t0 = time.perf_counter()
            triangulation.Triangulation.populate(suppress_errors=False)
            ours = time.perf_counter() - t0
            ours_positions = np.asarray((triangulation.Triangulation & key).fetch1("positions"), dtype=np.float64)
        finally:
            schemas.drop_all(prefix, connection)

    agree = np.nanmax(np.abs(ours_positions.reshape(-1, 3) - direct))
    rms = float(np.sqrt(np.nanmean(np.sum((ours_positions - truth) ** 2, axis=-1))))
    print(f"aniposelib triangulate (cold, incl. jax compile): {cold:7.2f} s  {n_points / cold:>12,.0f} points/s")
    print(f"aniposelib triangulate (warm)                   : {warm:7.2f} s  {n_points / warm:>12,.0f} points/s")
    print(f"ours: Triangulation.populate (fetch, DLT, residuals, insert): {ours:7.2f} s  "
          f"{n_points / ours:>12,.0f} points/s")
    print(f"ratio ours / aniposelib-warm: {warm / ours:.2f}  (target >= 0.9);  vs cold: {cold / ours:.2f}")
    print(f"max |ours - aniposelib| = {agree:.2e} mm (ours stored as float32); RMS error to truth {rms:.3f} mm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
