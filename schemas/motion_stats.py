"""Motion energy as a group measure: mean motion energy per recording and ROI, with the animals' attributes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipeline.errors import InputError

from . import motion, recording, session, store

MEASURE = "motion_energy"


def resolve_params(name_or_id: str | None) -> str:
    """A MotionParamSet id from its name or id (default: the one named ``default``)."""
    wanted = name_or_id or "default"
    rows = [r for r in motion.MotionParamSet.to_dicts()
            if wanted in (r["motion_params"], r["motion_params_name"])]
    if len(rows) != 1:
        known = sorted(r["motion_params_name"] for r in motion.MotionParamSet.to_dicts())
        raise InputError("--motion-params", f"{wanted!r} names {len(rows)} motion parameter sets (known: {known})")
    return rows[0]["motion_params"]


def per_recording(*, roi_set: str | None = None, motion_params: str | None = None,
                  first_minutes: float | None = None) -> pd.DataFrame:
    """One row per recording × ROI: the mean motion energy over its frames, with the session's animals.

    The mean leaves out NaN frames (frame 0).  With ``first_minutes`` only the frames in the first N
    minutes of the video count.  Group attributes (sex, age group, ...) are those of the session's animals:
    a session with one animal gives that animal (``agent``); with several, an attribute on which they all
    agree is kept and one on which they differ is NaN (such a recording is left out of groups by it).
    A recording's ROI set named ``roi_set`` only (default: every set).

    Raises
    ------
    InputError
        ``first_minutes`` not positive, an unknown parameter set.
    """
    if first_minutes is not None and not (math.isfinite(float(first_minutes)) and float(first_minutes) > 0):
        raise InputError("--first-minutes", f"{first_minutes!r}: must be a positive number of minutes")
    rows = (motion.MotionEnergy * motion.ROISet * recording.RecordingInfo.proj("fps")
            & {"motion_params": resolve_params(motion_params)})
    if roi_set:
        rows = rows & {"roi_set_name": roi_set}
    out = []
    for r in rows.to_dicts():
        energy = store.load_array(store.metadata(r["energy"]))
        if first_minutes is not None:
            energy = energy[:max(int(round(float(first_minutes) * 60 * r["fps"])), 0)]
        for i, roi in enumerate(r["rois"]):
            column = energy[:, i]
            valid = np.isfinite(column)
            out.append({"session": r["session"], "camera": r["camera"], "roi_set_name": r["roi_set_name"],
                        "roi": roi, MEASURE: float(column[valid].mean()) if valid.any() else np.nan,
                        "frames": int(valid.sum()), "pixels": r["pixels"][i]})
    df = pd.DataFrame(out, columns=["session", "camera", "roi_set_name", "roi", MEASURE, "frames", "pixels"])
    return df.merge(session_attributes(), on="session", how="left")


def session_attributes() -> pd.DataFrame:
    """Per session: ``n_animals``, ``agent`` (the animal when there is one) and each group attribute."""
    animals = session.animals().to_pandas().reset_index()
    attrs = [c for c in animals.columns if c not in ("session", "subject")]
    rows = []
    for sid, group in animals.groupby("session"):
        row = {"session": sid, "n_animals": len(group), "agent": group["subject"].iloc[0] if len(group) == 1 else ""}
        for a in attrs:
            values = group[a].dropna().unique()
            row[a] = values[0] if len(values) == 1 and group[a].notna().all() else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["session", "n_animals", "agent", *attrs])
