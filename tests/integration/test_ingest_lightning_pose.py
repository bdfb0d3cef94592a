"""An eks-smoothed Lightning Pose file through ingest: likelihood as confidence, variances in their part table."""

import numpy as np
import pytest

from tests.integration.test_ingest import write_manifest
from tests.unit.test_io_lightning_pose import EKS, write_lp

pytestmark = pytest.mark.integration


def test_eks_file_keeps_its_variances(clean, tmp_path, capsys):
    from schemas import pose
    from schemas.ingest import ingest

    write_lp(tmp_path / "eks.csv", EKS, scorer="ensemble-kalman_tracker")
    ingest(write_manifest(tmp_path, {
        "subjects": [{"subject": "m1", "sex": "F", "age_group": "young"}],
        "sessions": [{"session": "s1", "datetime": "2026-03-01 10:00:00", "animals": [{"subject": "m1"}],
                      "recordings": [{"camera": "side", "fps": 60,
                                      "pose": [{"source": "lp", "file": "eks.csv"}]}]}]}))
    assert "eks (2025 and later" in capsys.readouterr().out
    row = pose.PoseEstimation.fetch1()
    assert row["source_software"] == "Lightning Pose"
    assert row["provenance"]["params"]["reading"]["format"] == "lightning_pose"
    np.testing.assert_allclose(np.asarray(row["confidence"]), 0.9, rtol=1e-6)
    parts = {r["quantity"]: r for r in pose.PoseEstimation.Uncertainty.to_dicts()}
    assert {q: r["units"] for q, r in parts.items()} == {
        "ensemble_median": "px", "ensemble_variance": "px^2", "posterior_variance": "px^2"}
    variance = np.asarray(parts["ensemble_variance"]["data"])
    assert variance.shape == (6, 1, 3, 2)
    np.testing.assert_allclose(variance[3, 0, 0], [50.3, 60.3], rtol=1e-6)
