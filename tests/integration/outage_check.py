"""Run in a subprocess against a test's private database: ``setup MANIFEST`` or ``check``; prints JSON.

``setup`` ingests the manifest and adds the filter set of the outage test;
``check`` reports the quality tables' rows and jobs, and whether each stored
FilteredPose equals the filter chain recomputed here from the stored pose (an
undisturbed run of the same computation).
"""

import json
import sys

import numpy as np

STEPS = [{"step": "kalman_rts", "process_noise": 1.0, "measurement_noise": 4.0}]


def setup(manifest: str) -> dict:
    from schemas import quality
    from schemas.ingest import ingest

    ingest(manifest)
    return {"filter_set": str(quality.FilterParamSet.add("outage", STEPS))}


def check() -> dict:
    from pipeline.quality import apply_chain
    from schemas import pose, quality
    from schemas.quality import _pose_data

    out = {"rows": {}, "jobs": {}, "equal": []}
    for table in (quality.FilteredPose, quality.IdentityCheck):
        out["rows"][table.__name__] = len(table())
        out["jobs"][table.__name__] = {k: v for k, v in table.jobs.progress().items() if v}
    for row in quality.FilteredPose.to_dicts():
        key = {k: row[k] for k in quality.FilteredPose.primary_key}
        steps = (quality.FilterParamSet & key).fetch1("steps")
        expected, _ = apply_chain(_pose_data(pose.fetch_pose(key)), steps)
        out["equal"].append(all(_same(row[name], getattr(expected, name)) for name in ("positions", "confidence")))
    return out


def _same(stored, computed) -> bool:
    stored = np.asarray(stored)
    return bool(np.array_equal(stored, computed.astype(stored.dtype), equal_nan=True))


def main(argv) -> int:
    import schemas

    schemas.activate()
    result = setup(argv[1]) if argv[0] == "setup" else check()
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
