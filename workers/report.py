"""``ethojoint report``: group table, tests, CSVs and plots."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def make_report(*, group_by: list[str], behaviors=None, first_minutes=None, out=None, rule_set=None,
                pose: str = "raw", measures=None, roi_set=None, motion_params=None) -> pd.DataFrame:
    """Print the group table and tests; write CSVs and PNGs to ``out``.

    ``pose`` chooses the pose version: raw (default), corrected, 3d or filtered:NAME. ``measures``: the
    social measures (default all) and/or ``motion_energy`` (mean motion energy per ROI: see
    :func:`workers.report_motion.motion_report`, with ``roi_set`` and ``motion_params``).
    """
    from pipeline import plots
    from pipeline.errors import InputError
    from pipeline.stats import group_table, group_tests
    from schemas import sources, stats, versions

    measures = list(dict.fromkeys(measures or stats.MEASURES))
    known = [*stats.MEASURES, "motion_energy"]
    if any(m not in known for m in measures):
        raise InputError("--measure", f"unknown measure(s) {[m for m in measures if m not in known]}; "
                                      f"known: {', '.join(known)}")
    social = [m for m in measures if m in stats.MEASURES]
    motion_rows = None
    if "motion_energy" in measures:  # checked (and read) before anything is printed or written
        from workers.report_motion import motion_report
        from workers.report_motion import motion_rows as read_motion

        group_by = stats.check_group_by(group_by)
        motion_rows = read_motion(first_minutes=first_minutes, roi_set=roi_set, motion_params=motion_params)
    if not social:  # motion energy alone needs no rule set
        return motion_report(group_by=group_by, first_minutes=first_minutes, out=out, rows=motion_rows)
    rule_set = stats.resolve_rule_set(rule_set)
    name = sources.info(rule_set)["name"]
    what = f"classifier {name[len(sources.CLASSIFIER):]!r}" if sources.is_classifier(rule_set) else \
        f"rule set {name!r} ({rule_set})"
    group_by = stats.check_group_by(group_by)  # each refused in one line before anything is computed
    stats.check_behaviors(rule_set, behaviors)
    if first_minutes is not None:
        stats.first_bins(rule_set, first_minutes)
    animals = stats.per_animal(rule_set=rule_set, first_minutes=first_minutes, behaviors=behaviors, pose=pose)
    if animals.empty:
        table = "prediction.BehaviorPrediction" if sources.is_classifier(rule_set) else "behavior.SocialBouts"
        raise InputError("report", f"nothing scored with {what} on {pose} poses yet: "
                                   f"run `ethojoint populate {table}`")
    window = (f"first {float(first_minutes):g} min of each recording's pose data" if first_minutes is not None
              else "whole pose data of each recording")
    print(f"{what[:1].upper()}{what[1:]}, {pose} poses. Times count from each recording's first covered frame; "
          "latency = time from there to the first bout.")
    print_coverage(stats.coverage(rule_set, pose=pose), animals)
    tables = [group_table(animals, group_by=group_by, value=v).assign(measure=v, per="animal")
              for v in social]
    table = pd.concat(tables, ignore_index=True)
    tests = pd.concat([group_tests(animals, group_by=group_by, value=v) for v in social], ignore_index=True)
    with pd.option_context("display.width", 160, "display.max_rows", 200, "display.float_format", "{:.3f}".format):
        print(f"Per animal (n = animals: summed over partners, a mutual bout for both), {window}; "
              "bout_count = bouts (not frames), total_duration_s = seconds in contact")
        print(table.pivot_table(index=["behavior", *group_by], columns="measure", values=["n", "mean", "sem"])
              .round(3).to_string())
        print("\nBetween-group tests (Holm-corrected across behaviours):")
        print(tests.to_string(index=False))
    if out:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        animals.to_csv(out / "per_animal.csv", index=False)
        stats.per_pair(rule_set=rule_set, first_minutes=first_minutes, behaviors=behaviors,
                       pose=pose).to_csv(out / "per_pair.csv", index=False)
        stats.per_session(rule_set=rule_set, first_minutes=first_minutes, behaviors=behaviors,
                          group_by=group_by, pose=pose).to_csv(out / "per_session.csv", index=False)
        table.to_csv(out / "group_table.csv", index=False)
        tests.to_csv(out / "group_tests.csv", index=False)
        for v in social:
            plots.group_plot(animals, out / f"group_{v}.png", group_by=group_by, value=v,
                             title=f"{plots.UNITS[v]} per animal, {window}")
        scored = sources.table(rule_set)
        first = (scored & sources.restriction(rule_set) & versions.selection(pose).proj()).to_dicts(limit=1)
        if first:
            key = {k: first[0][k] for k in scored.primary_key}
            bouts = (scored.Bout & key).to_pandas().reset_index()
            units = f" ({first[0]['units']})" if "units" in first[0] else ""
            plots.ethogram(bouts, out / f"ethogram_{key['session']}.png",
                           duration_s=first[0]["n_frames"] / first[0]["fps"],
                           title=f"session {key['session']}, {what}{units}")
        print(f"\nwrote CSVs and plots to {out}")
    if motion_rows is not None:
        motion = motion_report(group_by=group_by, first_minutes=first_minutes, out=out, rows=motion_rows)
        table = pd.concat([table, motion.rename(columns={"roi": "behavior"})], ignore_index=True)
    return table


def print_coverage(recordings: pd.DataFrame, animals: pd.DataFrame) -> None:
    """How much pose data there is, and which animals have none in the window (not the same as 0 bouts)."""
    covered = recordings["covered_s"]
    late = recordings[recordings["frame_offset"] > 0]
    print(f"Pose data: {len(recordings)} recording(s), {covered.min():.1f}-{covered.max():.1f} s each"
          + (f"; {len(late)} start(s) after video frame 0 (first at {late['first_covered_s'].min():.1f} s)"
             if len(late) else ""))
    missing = animals[animals["no_data"]]
    if len(missing):
        pairs = sorted({f"{r.session}/{r.agent}" for r in missing.itertuples()})
        print(f"NO DATA (left out of n, not counted as 0 bouts) for {len(pairs)} animal(s) in this window: "
              + ", ".join(pairs[:10]) + (" ..." if len(pairs) > 10 else ""))


DISTANCE_MEASURES = ("variance", "mad", "spike_count", "mean")


def distance_report(*, group_by: list[str], pair_set=None, pose: str = "raw", out=None) -> pd.DataFrame:
    """``report --measure keypoint_distance``: per-animal distance variance, MAD and spikes by group.

    One value per animal, recording and pair (``schemas.keypoints.per_animal``);
    group table and between-group tests per pair, as for behaviour.
    """
    from pipeline import plots
    from pipeline.errors import InputError
    from pipeline.stats import group_table, group_tests
    from schemas import keypoints, stats

    membership = "training_membership" in group_by
    others = [g for g in group_by if g != "training_membership"]
    group_by = (stats.check_group_by(others) if others or not membership else []) + (
        ["training_membership"] if membership else [])
    animals = keypoints.per_animal(pair_set=pair_set, pose=pose)
    if animals.empty:
        raise InputError("report", f"no keypoint distance on {pose} poses yet: run "
                                   "`ethojoint populate keypoints.KeypointDistance`")
    if membership:
        from schemas.membership import add_membership

        animals = add_membership(animals)
    units = animals["units"].iloc[0]
    animals = animals.rename(columns={"pair": "behavior"})  # the group functions split by 'behavior'
    table = pd.concat([group_table(animals, group_by=group_by, value=v).assign(measure=v)
                       for v in DISTANCE_MEASURES], ignore_index=True).rename(columns={"behavior": "pair"})
    tests = pd.concat([group_tests(animals, group_by=group_by, value=v) for v in DISTANCE_MEASURES],
                      ignore_index=True).rename(columns={"behavior": "pair"})
    print(f"Keypoint distances ({units}), {pose} poses, one value per animal and recording: variance "
          f"({units}²), mad = median absolute deviation ({units}), spike_count = spikes of the distance")
    with pd.option_context("display.width", 160, "display.max_rows", 200, "display.float_format", "{:.3f}".format):
        print(table.pivot_table(index=["pair", *group_by], columns="measure", values=["n", "mean", "sem"])
              .round(3).to_string())
        print("\nBetween-group tests:")
        print(tests.to_string(index=False))
    if out:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        animals.rename(columns={"behavior": "pair"}).to_csv(out / "keypoint_distance_per_animal.csv", index=False)
        table.to_csv(out / "keypoint_distance_group_table.csv", index=False)
        tests.to_csv(out / "keypoint_distance_group_tests.csv", index=False)
        for v in DISTANCE_MEASURES[:3]:
            plots.group_plot(animals, out / f"keypoint_distance_{v}.png", group_by=group_by, value=v,
                             title=f"keypoint distance {v} per animal ({units})")
        print(f"\nwrote CSVs and plots to {out}")
    return table
