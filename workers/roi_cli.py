"""``ethojoint roi``: regions of interest for motion energy: define, list, and preview them on a frame.

::

    ethojoint roi add SESSION CAMERA [--set NAME] --rect face=100,80,200,160 --polygon paw="10,10;60,10;40,50"
        [--mask whisker=masks/w.png]                      # a recording's ROI set (default name 'default')
    ethojoint roi add RIG CAMERA --rig ...                # one camera of a rig: every session recorded with it
    ethojoint roi list [SESSION]
    ethojoint roi preview SESSION CAMERA [--set NAME] [--frame N] [--out FILE.png]
"""

from __future__ import annotations


def add_parsers(sub) -> None:
    """Add ``roi`` (add, list, preview) to argparse subparsers."""
    roi = sub.add_parser("roi", help="regions of interest for motion energy: add, list, preview")
    actions = roi.add_subparsers(dest="roi_action", required=True)
    add = actions.add_parser("add", help="define a named ROI set of a recording (or of a rig's camera)")
    add.add_argument("owner", help="SESSION (or RIG with --rig)")
    add.add_argument("camera")
    add.add_argument("--rig", action="store_true", help="OWNER is a camera rig: the set applies to all its sessions")
    add.add_argument("--set", dest="roi_set", default="default", help="ROI set name (default 'default')")
    add.add_argument("--rect", action="append", default=[], metavar="NAME=X,Y,W,H", help="a rectangle in pixels")
    add.add_argument("--polygon", action="append", default=[], metavar="NAME=X,Y;X,Y;X,Y", help="3+ vertices")
    add.add_argument("--mask", action="append", default=[], metavar="NAME=FILE", help="image: non-zero = inside")
    add.set_defaults(func=cmd_add)
    lst = actions.add_parser("list", help="ROI sets and where they apply")
    lst.add_argument("session", nargs="?")
    lst.set_defaults(func=cmd_list)
    pre = actions.add_parser("preview", help="write a video frame with the recording's ROIs drawn (PNG)")
    pre.add_argument("session")
    pre.add_argument("camera")
    pre.add_argument("--set", dest="roi_set", default=None, help="one ROI set (default: all that apply)")
    pre.add_argument("--frame", type=int, default=0)
    pre.add_argument("--out", default=None, help="PNG file (default roi_preview_SESSION_CAMERA.png)")
    pre.set_defaults(func=cmd_preview)


def add_report_options(rep) -> None:
    """``ethojoint report --measure motion_energy``'s own options."""
    rep.add_argument("--roi-set", default=None, help="motion_energy: only ROI sets of this name")
    rep.add_argument("--motion-params", default=None, help="motion_energy: parameter set name (default 'default')")


def report_options(args) -> dict:
    """The keyword arguments of :func:`workers.report.make_report` for motion energy."""
    return {"measures": ["motion_energy"] if args.measure == "motion_energy" else None,
            "roi_set": args.roi_set, "motion_params": args.motion_params}


def parse_rois(rects, polygons, masks) -> list[dict]:
    """ROI entries from ``NAME=...`` command-line values.

    Examples
    --------
    >>> parse_rois(["face=1,2,3,4"], ["p=0,0;4,0;0,4"], [])
    [{'roi': 'face', 'rectangle': [1, 2, 3, 4]}, {'roi': 'p', 'polygon': [[0, 0], [4, 0], [0, 4]]}]
    """
    from pipeline.errors import InputError

    def split(item, what):
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise InputError(f"--{what} {item}", f"expected NAME=VALUE ({what})")
        return name, value

    def numbers(text, where):
        try:
            return [float(v) if "." in v else int(v) for v in text.split(",")]
        except ValueError:
            raise InputError(where, "coordinates must be numbers separated by commas") from None

    out = []
    for item in rects:
        name, value = split(item, "rect")
        out.append({"roi": name, "rectangle": numbers(value, f"--rect {item}")})
    for item in polygons:
        name, value = split(item, "polygon")
        out.append({"roi": name, "polygon": [numbers(p, f"--polygon {item}") for p in value.split(";") if p]})
    for item in masks:
        name, value = split(item, "mask")
        out.append({"roi": name, "mask": value})
    return out


def _activate(args):
    import schemas

    return schemas.activate(getattr(args, "prefix", None))


def cmd_add(args) -> int:
    from pathlib import Path

    from pipeline.errors import InputError

    rois = parse_rois(args.rect, args.polygon, args.mask)
    if not rois:
        raise InputError("roi add", "give at least one --rect, --polygon or --mask")
    _activate(args)
    from schemas import motion

    owner = {"rig": args.owner} if args.rig else {"session": args.owner}
    roi_set = motion.define_roi_set(args.roi_set, rois, camera=args.camera, base=Path.cwd(), **owner)
    print(f"ROI set {args.roi_set!r} ({roi_set}) of {'rig' if args.rig else 'recording'} {args.owner}/{args.camera}:"
          f" {', '.join(r['roi'] for r in rois)}; `ethojoint populate motion.MotionEnergy` computes it")
    return 0


def cmd_list(args) -> int:
    _activate(args)
    from schemas import motion

    recs = motion.RecordingROISet * motion.ROISet.proj("n_rois")
    if args.session:
        recs = recs & {"session": args.session}
    for r in recs.to_dicts(order_by=("session", "camera", "roi_set_name")):
        names = (motion.ROISet.ROI & {"roi_set": r["roi_set"]}).to_dicts(order_by="roi")
        print(f"{r['session']}/{r['camera']}  {r['roi_set_name']}  ({r['roi_set'][:8]}): "
              + ", ".join(f"{n['roi']} ({n['kind']})" for n in names))
    for r in (motion.RigROISet * motion.ROISet.proj("n_rois")).to_dicts(order_by=("rig", "camera", "roi_set_name")):
        print(f"rig {r['rig']}/{r['camera']}  {r['roi_set_name']}  ({r['roi_set'][:8]}): {r['n_rois']} ROI(s)")
    return 0


def cmd_preview(args) -> int:
    import cv2

    from pipeline.errors import InputError
    from pipeline.motion import draw_rois, read_frame, roi_mask
    from pipeline.paths import resolve

    _activate(args)
    from schemas import motion, recording
    from schemas.config import data_roots

    where = f"recording {args.session}/{args.camera}"
    key = {"session": args.session, "camera": args.camera}
    videos = (recording.VideoRecording & key).to_dicts()
    if not videos or not videos[0]["video_path"]:
        raise InputError(where, "unknown recording, or one without a video file")
    sets = motion.roi_sets_of(args.session, args.camera)
    if args.roi_set is not None:
        if args.roi_set not in sets:
            raise InputError(where, f"no ROI set {args.roi_set!r} (sets: {sorted(sets) or 'none'})")
        sets = {args.roi_set: sets[args.roi_set]}
    if not sets:
        raise InputError(where, "no ROI set applies to it: `ethojoint roi add` or the manifest's rois:")
    frame = read_frame(resolve(videos[0]["video_path"], data_roots()), args.frame)
    height, width = frame.shape[:2]
    masks = {}
    for name, roi_set in sets.items():
        for r in (motion.ROISet.ROI & {"roi_set": roi_set}).to_dicts(order_by="roi"):
            path = resolve(r["spec"]["mask"], data_roots()) if r["kind"] == "mask" else None
            label = r["roi"] if len(sets) == 1 else f"{name}:{r['roi']}"
            masks[label] = roi_mask(r["spec"], width=width, height=height, source=where, mask_path=path)
    out = args.out or f"roi_preview_{args.session}_{args.camera}.png"
    if not cv2.imwrite(str(out), draw_rois(frame, masks)):
        raise InputError(out, "could not write the PNG")
    print(f"wrote {out}: frame {args.frame} ({width}x{height}) with "
          + ", ".join(f"{n} ({int(m.sum())} px)" for n, m in masks.items()))
    return 0
