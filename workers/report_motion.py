"""``ethojoint report --measure motion_energy``: mean motion energy per ROI, by group."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def motion_rows(*, first_minutes=None, roi_set=None, motion_params=None) -> pd.DataFrame:
    """The per-recording rows of the report, checked (InputError when bad or when there are none)."""
    from pipeline.errors import InputError
    from schemas import motion_stats

    rows = motion_stats.per_recording(roi_set=roi_set, motion_params=motion_params, first_minutes=first_minutes)
    if rows.empty:
        raise InputError("report", "no motion energy computed yet: define ROIs (manifest rois: or `ethojoint roi "
                                   "add`) and run `ethojoint populate motion.MotionEnergy`")
    return rows


def motion_report(*, group_by: list[str], first_minutes=None, out=None, roi_set=None, motion_params=None,
                  rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Print n, mean, SEM of the mean motion energy per ROI and group, and the between-group tests.

    n counts recordings (one animal per session: animals); see :func:`schemas.motion_stats.per_recording`.
    ``rows``: those of :func:`motion_rows`, when already read.
    """
    from pipeline import plots
    from pipeline.stats import group_table, group_tests
    from schemas import motion_stats

    if rows is None:
        rows = motion_rows(first_minutes=first_minutes, roi_set=roi_set, motion_params=motion_params)
    measure = motion_stats.MEASURE
    rows = rows.assign(roi=rows["roi_set_name"] + ":" + rows["roi"])
    left_out = rows[rows[group_by].isna().any(axis=1)]
    table = group_table(rows, group_by=group_by, value=measure, by=("roi",)).assign(measure=measure,
                                                                                     per="recording")
    tests = group_tests(rows.dropna(subset=group_by), group_by=group_by, value=measure, by="roi")
    window = f"first {float(first_minutes):g} min of each video" if first_minutes is not None else "whole videos"
    with pd.option_context("display.width", 160, "display.max_rows", 200, "display.float_format", "{:.3f}".format):
        print(f"\nMotion energy (mean over frames of the sum of |grey frame difference| over the ROI's pixels, "
              f"or per pixel if the parameter set says 'mean'), per recording (n = recordings), {window}")
        print(table.to_string(index=False))
        if len(left_out):
            print(f"left out of groups (their animals differ in {', '.join(group_by)}): "
                  + ", ".join(sorted(set(left_out["session"]))))
        print("\nBetween-group tests of motion energy (Holm-corrected across ROIs):")
        print(tests.to_string(index=False))
    if out:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        rows.to_csv(out / "per_recording_motion.csv", index=False)
        table.to_csv(out / "group_table_motion.csv", index=False)
        tests.to_csv(out / "group_tests_motion.csv", index=False)
        plots.group_plot(rows.rename(columns={"roi": "behavior"}), out / "group_motion_energy.png",
                         group_by=group_by, value=measure, title=f"mean motion energy per recording, {window}")
    return table
