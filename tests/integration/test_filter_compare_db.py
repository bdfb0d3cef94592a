"""``ethojoint qc SESSION --compare-filters A,B`` on the real fly predictions (issue 15 §3)."""

import pandas as pd
import pytest

pytestmark = pytest.mark.integration


def test_compare_filters_cli(clean, shared_data, tmp_path, capsys):
    from schemas import quality
    from schemas.ingest import ingest
    from tests.integration.test_ingest import write_manifest
    from workers.cli import main

    ingest(write_manifest(tmp_path, {
        "subjects": [{"subject": "f", "sex": "F", "age_group": "adult"},
                     {"subject": "m", "sex": "M", "age_group": "adult"}],
        "sessions": [{"session": "clip", "datetime": "2026-04-01 10:00:00",
                      "animals": [{"subject": "f"}, {"subject": "m"}],
                      "recordings": [{"camera": "top", "fps": 30, "pose": [
                          {"source": "sleap", "file": str(shared_data / "sleap_flies/clip.predictions.slp"),
                           "tracks": {"female": "f", "male": "m"}}]}]}]}))
    gauss = quality.FilterParamSet.add("gauss", [{"step": "gaussian", "sigma_frames": 2}])
    quality.FilterParamSet.add("kalman", [{"step": "kalman_rts", "process_noise": 1.0, "measurement_noise": 4.0}])
    quality.FilteredPose.populate({"filter_set": gauss})       # kalman is left to the report
    capsys.readouterr()
    out = tmp_path / "qc"
    assert main(["qc", "clip", "--compare-filters", "gauss,kalman", "--keypoints", "head", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "chain 'kalman' computed here, not stored" in text and "chain 'gauss' computed" not in text
    assert len(quality.FilteredPose()) == 1                    # a report stores nothing
    table = pd.read_csv(out / "qc_clip_top_sleap_filters.csv")
    assert len(table) == 2 * 2 * 2 and set(table["chain"]) == {"gauss", "kalman"}
    head = table[(table["individual"] == "female") & (table["keypoint"] == "head")].set_index("chain")
    assert head.loc["gauss", "spikes_before"] == head.loc["kalman", "spikes_before"] > 0
    assert (out / "qc_clip_top_sleap_filters.png").stat().st_size > 20000
    assert main(["qc", "clip", "--compare-filters", "gauss,savgol", "--out", str(out)]) == 2
    assert "'savgol' is not a filter chain; known: gauss, kalman" in capsys.readouterr().err
