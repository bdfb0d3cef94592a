"""The manifest's per-recording ``rois:`` entries (regions of interest for motion energy), as plan rows.

::

    sessions:
      - session: s01
        recordings:
          - camera: face
            video: videos/s01_face.mp4
            rois:                                   # one set, named 'default'
              - {roi: face, rectangle: [100, 80, 200, 160]}          # x, y, width, height
              - {roi: whiskers, polygon: [[300, 90], [380, 120], [330, 200]]}
              - {roi: paw, mask: masks/paw.png}                      # non-zero pixels
            # or several named sets:  rois: {face: [...], body: [...]}

Each ROI is checked against the video's frame size here, so a plan that passes can be inserted whole.
"""

from __future__ import annotations

from pathlib import Path

from . import provenance
from .errors import InputError
from .manifest_values import text
from .motion.energy import DEFAULT_PARAMS
from .motion.rois import check_roi_set, roi_mask
from .paths import to_relative

DEFAULT_SET = "default"


def roi_set_rows(name: str, rois: list[dict]) -> tuple[dict, list[dict]]:
    """The ROISet row (id: a uuid of the name and the ROIs) and its ROI part rows.

    Examples
    --------
    >>> s, parts = roi_set_rows("default", [{"roi": "a", "kind": "rectangle", "rectangle": [0, 0, 2, 2]}])
    >>> s["n_rois"], parts[0]["roi"], parts[0]["roi_set"] == s["roi_set"]
    (1, 'a', True)
    """
    roi_set = provenance.params_hash({"name": name, "rois": rois})
    parts = [{"roi_set": roi_set, "roi": r["roi"], "kind": r["kind"], "spec": r} for r in rois]
    return {"roi_set": roi_set, "roi_set_name": name, "n_rois": len(rois)}, parts


def relative_masks(rois: list[dict], roots: list[Path], where: str) -> list[dict]:
    """Mask ROIs with their image path relative to a data root (as stored)."""
    return [dict(r, mask=text(to_relative(r["mask"], roots), f"{where}: ROI {r['roi']!r}", "mask path",
                              "video_path")) if r["kind"] == "mask" else r for r in rois]


def check_in_frame(rois: list[dict], *, width: int, height: int, where: str, roots=None) -> None:
    """Every ROI inside a ``width`` × ``height`` frame (masks: of that size), or one InputError."""
    for r in rois:
        path = None
        if r["kind"] == "mask" and roots is not None and not Path(r["mask"]).is_absolute():
            from .paths import resolve

            path = resolve(r["mask"], roots)
        roi_mask(r, width=width, height=height, source=where, mask_path=path)


def motion_param_row() -> dict:
    """The ``default`` MotionParamSet row (inserted with any ROI set)."""
    return {"motion_params": provenance.params_hash(DEFAULT_PARAMS), "motion_params_name": "default",
            "params": dict(DEFAULT_PARAMS)}


def plan_rois(plan, r: dict, where: str, rec: dict, *, base: Path, roots: list[Path],
              size: tuple[int, int] | None) -> None:
    """The ROI sets of one recording entry, checked against its video's frame size, as rows of the plan."""
    given = r.get("rois")
    if given is None:
        return
    where = f"{where}.rois"
    if not rec["video_path"] or size is None:
        raise InputError(where, "ROIs need the recording's video file (video: ...)")
    sets = given if isinstance(given, dict) else {DEFAULT_SET: given}
    for name, entries in sets.items():
        name = text(str(name), where, "ROI set name", "roi_set_name")
        if not name:
            raise InputError(where, "an ROI set needs a name")
        rois = check_roi_set(entries, source=f"{where}.{name}" if isinstance(given, dict) else where, base=base)
        check_in_frame(rois, width=size[0], height=size[1], where=f"{where} ({rec['video_path']})")
        master, parts = roi_set_rows(name, relative_masks(rois, roots, where))
        if master not in plan.roi_sets:
            plan.roi_sets.append(master)
            plan.roi_parts.extend(parts)
        plan.recording_roi_sets.append({"session": rec["session"], "camera": rec["camera"], "roi_set_name": name,
                                        "roi_set": master["roi_set"]})
    if motion_param_row() not in plan.motion_param_sets:
        plan.motion_param_sets.append(motion_param_row())
