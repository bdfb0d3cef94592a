"""``ethojoint qc <session>``: a quality report per recording of a session."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import InputError


def missing_table(row: dict, positions: np.ndarray, confidence: np.ndarray) -> pd.DataFrame:
    """Missing fraction and median confidence per individual and body part."""
    missing = np.isnan(positions).any(axis=-1)  # (time, individual, keypoint)
    rows = []
    for i, ind in enumerate(row["individuals"]):
        for k, kp in enumerate(row["keypoints"]):
            conf = confidence[:, i, k]
            rows.append({"individual": ind, "keypoint": kp, "missing_fraction": float(missing[:, i, k].mean()),
                         "median_confidence": float(np.nanmedian(conf)) if np.isfinite(conf).any() else np.nan})
    return pd.DataFrame(rows)


def qc_plots(row, positions, confidence, events: pd.DataFrame, out: Path, *, filtered=None,
             corrected=None) -> list[Path]:
    """Trajectories (raw, filtered, identity-corrected), confidence histograms, identity timeline.

    ``corrected`` is ``(positions, identity names)`` of an IdentityCorrection.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stem = f"{row['session']}_{row['camera']}_{row['pose_source']}"
    paths = []
    panels = [("raw", positions, row["individuals"])]
    panels += [("filtered", filtered, row["individuals"])] if filtered is not None else []
    panels += [("identity-corrected", *corrected)] if corrected is not None else []
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 5), squeeze=False)
    for ax, (title, arr, names) in zip(axes[0], panels):
        centre = np.nanmean(arr, axis=2)  # (time, individual, space)
        for i, ind in enumerate(names[:10]):
            ax.plot(centre[:, i, 0], centre[:, i, 1], lw=0.6, label=ind)
        ax.set_title(f"{title} trajectories (mean of body parts)")
        ax.set_xlabel(f"x ({row['space_units']})")
        ax.set_ylabel(f"y ({row['space_units']})")
        ax.invert_yaxis()
        ax.set_aspect("equal", adjustable="datalim")
    axes[0][0].legend(fontsize=7, loc="best")
    paths.append(_save(fig, out / f"qc_{stem}_trajectories.png"))

    n = len(row["keypoints"])
    cols = min(n, 6)
    fig, axes = plt.subplots(int(np.ceil(n / cols)), cols, figsize=(2.6 * cols, 2.2 * np.ceil(n / cols)),
                             squeeze=False)
    for k, kp in enumerate(row["keypoints"]):
        ax = axes[k // cols][k % cols]
        values = confidence[:, :, k].ravel()
        ax.hist(values[np.isfinite(values)], bins=30, range=(0, 1), color="tab:blue")
        ax.set_title(kp, fontsize=8)
        ax.set_xlabel("confidence", fontsize=7)
    for k in range(n, axes.size):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle("confidence per body part (count of points)", fontsize=10)
    paths.append(_save(fig, out / f"qc_{stem}_confidence.png"))

    present = ~np.isnan(positions).all(axis=(2, 3))  # (time, individual)
    fig, ax = plt.subplots(figsize=(10, 0.25 * len(row["individuals"]) + 1.5))
    ax.imshow(present.T, aspect="auto", interpolation="nearest", cmap="Greys")
    ax.set_yticks(range(len(row["individuals"])), row["individuals"], fontsize=6)
    for kind, color in (("exchange", "red"), ("velocity_spike", "orange")):
        for frame in events.loc[events["kind"] == kind, "frame"] if len(events) else []:
            ax.axvline(frame, color=color, lw=0.8)
    ax.set_xlabel("frame (red: probable swap, orange: coincident velocity spike)")
    ax.set_title("identity timeline: frames where each track is present")
    paths.append(_save(fig, out / f"qc_{stem}_identity.png"))
    return paths


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_qc(session: str, out) -> int:
    """Print the session's quality tables and write the plots (it computes nothing: populate first)."""
    from schemas import pose, quality

    out = Path(out)
    keys = (pose.PoseEstimation & {"session": session}).keys()
    if not keys:
        raise InputError(f"session {session!r}", "no pose estimation")
    todo = [t.__name__ for t in (quality.IdentityCheck, quality.FilteredPose)
            if len(t.key_source & {"session": session}) > len(t & {"session": session})]
    if todo:  # a report does not populate tables as a side effect
        print(f"not computed yet for session {session!r}: {', '.join(todo)} "
              f"(run `ethojoint populate {' '.join('quality.' + t for t in todo)}`)")
    for key in keys:
        row, positions, confidence = pose.load_pose(key)
        events = (quality.IdentityCheck.Event & key).to_pandas().reset_index() if \
            (quality.IdentityCheck.Event & key) else pd.DataFrame(columns=["frame", "kind"])
        filtered_rows = (quality.FilteredPose & key).to_dicts(limit=1)
        filtered = np.asarray(filtered_rows[0]["positions"], float) if filtered_rows else None
        fixed = (quality.IdentityCorrection & key).to_dicts()
        corrected = (np.asarray(fixed[0]["positions"], float), fixed[0]["individuals"]) if fixed else None
        table = missing_table(row, positions, confidence)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"{key['session']}_{key['camera']}_{key['pose_source']}"
        table.to_csv(out / f"qc_{stem}_missing.csv", index=False)
        print(f"== {stem}: {row['n_frames']} frames, {row['n_individuals']} tracks")
        print(table.groupby("keypoint")[["missing_fraction", "median_confidence"]].mean().round(3).to_string())
        counts = events["kind"].value_counts().to_dict() if len(events) else {}
        print(f"identity events: {counts or 'none'}")
        if fixed:
            rep = fixed[0]["report"]
            gate = rep.get("gate") or {}
            print(f"identity correction: {rep['n_input_tracks']} tracks -> {rep['n_identities']} identities, "
                  f"{rep['exchanges']} exchanges undone; motion gate "
                  + (", ".join(f"{name} {n} detections blanked ({gate['kept_fraction'][name]:.1%} kept)"
                               for name, n in gate["rejected"].items()) if gate else "off"))
        for fr in filtered_rows:
            for s in fr["step_stats"]:
                print(f"filter {s['step']}: " + ", ".join(f"{k} {v}" for k, v in s.items() if k != "step"))
        for path in qc_plots(row, positions, confidence, events, out, filtered=filtered, corrected=corrected):
            print(f"wrote {path}")
    return 0


def run_compare(session: str, names: list[str], out, *, keypoints=None, k: float = 5.0,
                min_spread: float = 0.5) -> int:
    """``qc SESSION --compare-filters A,B``: the named filter chains side by side on each pose of the session.

    A chain's stored ``FilteredPose`` is used where it exists; otherwise the
    chain runs here on the pose (nothing is stored) and the output says so.
    Writes ``qc_<pose>_filters.csv`` (:func:`pipeline.quality.compare.compare_filters`)
    and ``qc_<pose>_filters.png`` (traces of ``keypoints``, default the first two).
    """
    from pipeline.quality import apply_chain
    from pipeline.quality.compare import compare_filters, plot_traces
    from schemas import pose, quality

    out = Path(out)
    chains = _chains(names)
    keys = (pose.PoseEstimation & {"session": session}).keys()
    if not keys:
        raise InputError(f"session {session!r}", "no pose estimation")
    for key in keys:
        raw = quality._pose_data(pose.fetch_pose(key))
        chosen = list(keypoints or raw.keypoints[:2])
        unknown = [kp for kp in chosen if kp not in raw.keypoints]
        if unknown:
            raise InputError("--keypoints", f"{unknown} not in the pose (its keypoints: {list(raw.keypoints)})")
        filtered, stem = {}, f"{key['session']}_{key['camera']}_{key['pose_source']}"
        for name, row in chains.items():
            stored = (quality.FilteredPose & key & {"filter_set": row["filter_set"]}).to_dicts()
            if stored:
                filtered[name] = replace(raw, positions=np.asarray(stored[0]["positions"], float),
                                         confidence=np.asarray(stored[0]["confidence"], float))
            else:
                filtered[name] = apply_chain(raw, row["steps"])[0]
                print(f"{stem}: chain {name!r} computed here, not stored "
                      f"(ethojoint populate quality.FilteredPose keeps it)")
        table = compare_filters(raw, filtered, k=k, min_spread=min_spread)
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / f"qc_{stem}_filters.csv", index=False)
        summary = table.groupby("chain", sort=False).agg(
            spikes_before=("spikes_before", "sum"), spikes_after=("spikes_after", "sum"),
            residual_rms=("residual_rms", "median"), lag_frames=("lag_frames", "median"),
            hf_power_removed=("hf_power_removed", "median"))
        print(f"== {stem}: filter chains (spikes summed over keypoints; medians otherwise; spike = jump > "
              f"{k:g} robust SD that returns within 5 frames)")
        print(summary.round(3).to_string())
        print(f"wrote {out / f'qc_{stem}_filters.csv'}")
        plot = plot_traces(raw, filtered, out / f"qc_{stem}_filters.png", keypoints=chosen, k=k, min_spread=min_spread)
        print(f"wrote {plot}")
    return 0


def _chains(names: list[str]) -> dict:
    """Filter chains by name (or id) -> their FilterParamSet rows; InputError naming the unknown or ambiguous ones."""
    from schemas import quality

    rows = quality.FilterParamSet.to_dicts()
    found = {}
    for name in names:
        match = [r for r in rows if name in (r["filter_set_name"], r["filter_set"])]
        if len(match) != 1:
            known = sorted({r["filter_set_name"] for r in rows})
            why = "is not a filter chain" if not match else f"names {len(match)} chains (give the id)"
            raise InputError("--compare-filters", f"{name!r} {why}; known: {', '.join(known) or 'none'} "
                                                  "(add one with quality.FilterParamSet.add)")
        found[name] = match[0]
    return found
