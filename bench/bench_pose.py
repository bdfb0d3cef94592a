"""Benchmark: the same SLEAP model on the same clip, sleap-nn's own predict vs our PoseEstimation populate.

(a) ``sleap_nn.inference.predict(video, model_paths=..., frames=...)`` -- the
    engine's own call (model loading included);
(b) ``pose.PoseEstimation.populate()`` of a trigger task running that model
    on the same frames -- fetch, model lookup, inference (through
    pipeline.inference.sleap), conversion, storage of the arrays, insert.

Both run after one small warm-up call (torch start-up is paid once), twice
each in alternating order; the best of each is reported. Prints frames/s of
both and the ratio ours / sleap-nn (target >= 0.95). Run on a GPU machine
with ``--device cuda``.

Run::

    python bench/bench_pose.py [--frames 50] [--device cpu] [--model topdown|bottomup]
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

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sleap_nn_models"
MODELS = {"topdown": ["minimal_instance_centroid", "minimal_instance_centered_instance"],
          "bottomup": ["minimal_instance_bottomup"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", choices=sorted(MODELS), default="topdown")
    ap.add_argument("--data", type=Path, default=DATA, help="the sleap_nn_models folder")
    args = ap.parse_args(argv)
    video = args.data / "datasets" / "centered_pair_small.mp4"
    dirs = [str(args.data / m) for m in MODELS[args.model]]
    frames = list(range(args.frames))

    from sleap_nn.inference import predict

    def direct():
        t0 = time.perf_counter()
        predict(str(video), model_paths=dirs, device=args.device, batch_size=4, frames=frames)
        return time.perf_counter() - t0

    predict(str(video), model_paths=dirs, device=args.device, batch_size=4, frames=[0, 1])  # warm-up

    with tempfile.TemporaryDirectory(prefix="ej_benchpose_") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)
        os.environ.update(ETHOJOINT_DATA_ROOTS=str(args.data), ETHOJOINT_STORE=str(tmp / "store"),
                          ETHOJOINT_PREFIX=(prefix := f"benchpose_{uuid.uuid4().hex[:6]}_"),
                          ETHOJOINT_DB="embedded", ETHOJOINT_HOME=str(tmp / "home"))
        import schemas
        from schemas import models, pose, recording, session, subject

        connection = schemas.activate()
        try:
            subject.Subject.insert([{"subject": s, "sex": "F", "age_group": "adult"} for s in ("f1", "f2")])
            pose.Skeleton.insert1({"skeleton": "AB", "keypoints": ["A", "B"], "edges": [["A", "B"]]})
            models.PoseModel.import_model("bench", "sleap", dirs, skeleton="AB")
            runs = []

            def ours(i):
                key = {"session": f"s{i}"}
                session.Session.insert1(dict(key, session_datetime="2026-01-01 00:00:00"))
                session.Session.Animal.insert([dict(key, subject=s) for s in ("f1", "f2")])
                recording.VideoRecording.insert1(dict(key, camera="top", video_path=video.relative_to(args.data)
                                                      .as_posix()))
                recording.RecordingInfo.populate(key)
                models.add_inference(key, "top", "bench", frame_stop=args.frames)
                t0 = time.perf_counter()
                pose.PoseEstimation.populate(key, suppress_errors=False)
                return time.perf_counter() - t0

            for i in range(2):
                runs.append((direct(), ours(i)))
        finally:
            schemas.drop_all(prefix, connection)

    best_direct = min(r[0] for r in runs)
    best_ours = min(r[1] for r in runs)
    n = args.frames
    print(f"{args.model} model, {n} frames of {video.name} on {args.device}")
    print(f"(a) sleap-nn predict          : best {best_direct:6.2f} s  {n / best_direct:7.2f} frames/s   "
          f"(runs: {', '.join(f'{r[0]:.2f}' for r in runs)})")
    print(f"(b) PoseEstimation.populate   : best {best_ours:6.2f} s  {n / best_ours:7.2f} frames/s   "
          f"(runs: {', '.join(f'{r[1]:.2f}' for r in runs)})")
    print(f"ratio ours / sleap-nn (frames/s): {best_direct / best_ours:.3f}  (target >= 0.95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
