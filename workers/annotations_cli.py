"""``ethojoint annotations`` and ``ethojoint agreement``: human labels in, out, and compared.

::

    ethojoint annotations ethogram NAME attack:directed groom ...     # a vocabulary
    ethojoint annotations import SESSION CAMERA FILE --annotator ANN --ethogram NAME [--format F]
        [--label-set main] [--subject FILE_NAME=SUBJECT ...] [--behavior FILE_NAME=BEHAVIOR ...]
        [--option KEY=VALUE ...]
    ethojoint annotations list [SESSION]
    ethojoint annotations export SESSION CAMERA --annotator ANN [--label-set main] --format boris|deepethogram|csv
        --out FILE
    ethojoint agreement SESSION CAMERA A B [--map-a NEW=OLD,OLD ...] [--map-b ...] [--pool-animals]

A and B are ``annotation:ANNOTATOR[/LABEL_SET]``, ``rules:RULE_SET[@POSE_VERSION]`` or
``classifier:NAME[@POSE_VERSION]``.
"""

from __future__ import annotations

import json
import sys


def add_parsers(sub) -> None:
    """Add ``annotations`` (ethogram, import, list, export) and ``agreement`` to argparse subparsers."""
    ann = sub.add_parser("annotations", help="human behaviour labels: ethograms, import, list, export")
    actions = ann.add_subparsers(dest="annotations_action", required=True)
    eth = actions.add_parser("ethogram", help="define a vocabulary: NAME behaviour[:directed] ...")
    eth.add_argument("name")
    eth.add_argument("behaviors", nargs="+", help="NAME (solo) or NAME:directed (agent toward a target)")
    eth.set_defaults(func=cmd_ethogram)
    imp = actions.add_parser("import", help="check and store one annotation file of one recording")
    for name in ("session", "camera", "file"):
        imp.add_argument(name)
    imp.add_argument("--annotator", required=True)
    imp.add_argument("--ethogram", required=True)
    imp.add_argument("--format", default=None, help="boris, boris_project, bento, deepethogram, simba, csv")
    imp.add_argument("--label-set", default="main")
    imp.add_argument("--subject", action="append", default=None, metavar="FILE_NAME=SUBJECT")
    imp.add_argument("--behavior", action="append", default=None, metavar="FILE_NAME=BEHAVIOR")
    imp.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                     help="reader option, e.g. observation=obs1, channel=Ch1, units=s, subject=m1")
    imp.set_defaults(func=cmd_import)
    lst = actions.add_parser("list", help="imported annotation sets (bout counts per behaviour)")
    lst.add_argument("session", nargs="?")
    lst.set_defaults(func=cmd_list)
    exp = actions.add_parser("export", help="write one annotation set as BORIS, DeepEthogram or CSV")
    exp.add_argument("session")
    exp.add_argument("camera")
    exp.add_argument("--annotator", required=True)
    exp.add_argument("--label-set", default="main")
    exp.add_argument("--format", required=True, choices=("boris", "deepethogram", "csv"))
    exp.add_argument("--out", required=True)
    exp.set_defaults(func=cmd_export)
    agr = sub.add_parser("agreement", help="frame and bout agreement of two bout sources on one recording")
    agr.add_argument("session")
    agr.add_argument("camera")
    agr.add_argument("a", help="reference: annotation:ANNOTATOR[/LABEL_SET], rules:RULE_SET[@POSE_VERSION] or "
                               "classifier:NAME[@POSE_VERSION]")
    agr.add_argument("b", help="the source judged against A")
    agr.add_argument("--map-a", action="append", default=None, metavar="NEW=OLD,OLD")
    agr.add_argument("--map-b", action="append", default=None, metavar="NEW=OLD,OLD")
    agr.add_argument("--pool-animals", action="store_true", help="pool every agent and target")
    agr.add_argument("--min-iou", type=float, default=0.5)
    agr.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    agr.add_argument("--store", action="store_true",
                     help="also store it (agreement.AgreementTask + Agreement), for reports and audits")
    agr.set_defaults(func=cmd_agreement)


def _activate(args):
    import schemas

    return schemas.activate(getattr(args, "prefix", None))


def pairs(items, what: str, *, many: bool = False) -> dict | None:
    """``["a=b", ...]`` as a dict (``many``: values split on commas); None when not given."""
    from pipeline.errors import InputError

    if items is None:
        return None
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name in out:
            raise InputError(what, f"write NAME=VALUE, each name once; got {item!r}")
        out[name] = [v for v in value.split(",") if v] if many else value
    return out


def cmd_ethogram(args) -> int:
    from schemas.annotation import Ethogram

    _activate(args)
    Ethogram.add(args.name, args.behaviors)
    print(f"ethogram {args.name!r}: {', '.join(args.behaviors)}")
    return 0


def cmd_import(args) -> int:
    from schemas.annotation_import import import_annotation

    _activate(args)
    options = pairs(args.option, "--option") or {}
    if "target_modifier" in options:
        options["target_modifier"] = int(options["target_modifier"])
    key = import_annotation(args.file, session=args.session, camera=args.camera, annotator=args.annotator,
                            ethogram=args.ethogram, fmt=args.format, label_set=args.label_set,
                            subjects=pairs(args.subject, "--subject"), behaviors=pairs(args.behavior, "--behavior"),
                            options=options)
    new = key.pop("new")
    print(f"{'imported' if new else 'already imported (same file)'}: {json.dumps(key)}")
    return 0


def cmd_list(args) -> int:
    from schemas.annotation import AnnotationSet

    _activate(args)
    sets = AnnotationSet & ({"session": args.session} if args.session else {})
    for row in sets.to_dicts(order_by="session, camera, annotator, label_set"):
        bouts = (AnnotationSet.Bout & row).to_arrays("behavior")
        counts = {b: int((bouts == b).sum()) for b in sorted(set(bouts))}
        print(f"{row['session']}/{row['camera']} annotation:{row['annotator']}/{row['label_set']} "
              f"{row['file_format']} {row['file_path']} bouts {json.dumps(counts)}")
    return 0


def cmd_export(args) -> int:
    from schemas.annotation_import import export_annotation

    _activate(args)
    key = {"session": args.session, "camera": args.camera, "annotator": args.annotator, "label_set": args.label_set}
    print(f"wrote {export_annotation(key, args.out, fmt=args.format)}")
    return 0


def cmd_agreement(args) -> int:
    from schemas.agreement import compare

    _activate(args)
    options = {"map_a": pairs(args.map_a, "--map-a", many=True), "map_b": pairs(args.map_b, "--map-b", many=True),
               "pool_animals": args.pool_animals, "min_iou": args.min_iou}
    table, meta = compare(args.a, args.b, session=args.session, camera=args.camera, **options)
    if args.store:
        from schemas.agreement import store

        key, status = store(args.a, args.b, session=args.session, camera=args.camera, **options)
        print(f"{status}: agreement.Agreement {json.dumps(key)}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps({"compared": meta, "rows": table.to_dict(orient="records")}, default=str))
        return 0
    print(f"A = {args.a}, B = {args.b} on {args.session}/{args.camera}, frames {meta['frames'][0]}-"
          f"{meta['frames'][1] - 1} at {meta['fps']:g} fps; bouts matched at IoU >= {args.min_iou:g}")
    shown = table[["behavior", "agent", "target", "precision", "recall", "f1", "kappa", "n_bouts_a", "n_bouts_b",
                   "matched", "bout_f1", "time_s_a", "time_s_b"]]
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.3f}", na_rep="NaN"))
    return 0
