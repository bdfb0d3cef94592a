"""``ethojoint classifier`` and ``ethojoint label-next``: behaviour classifiers trained on human labels.

::

    ethojoint classifier features NAME [--windows 0.2,0.6,1.5] [--statistics mean,std,min,max]
    ethojoint classifier params NAME [--feature-set default] [--algorithm hist_gradient_boosting]
        [--set KEY=VALUE ...] [--frame-step 1] [--negatives-per-positive X] [--min-bout-s 0.2]
        [--max-gap-s 0.2] [--bin-s 60] [--n-bins 3]
    ethojoint classifier training-set NAME --annotator ANN [--label-set main] [--session S ...]
        [--behavior B ...] [--pose raw] [--validation 0.2] [--test 0.2] [--seed 0] [--k-folds 0]
    ethojoint classifier add NAME --training-set T [--params default]
    ethojoint classifier list
    ethojoint classifier show NAME
    ethojoint label-next NAME [--n 20] [--segment-s 2] [--out label_next] [--include-labelled]

Then ``ethojoint populate`` (or a worker of stage ``classify``) computes
features, trains, evaluates and predicts; ``ethojoint report --rule-set
classifier:NAME`` reports the predicted bouts by group.
"""

from __future__ import annotations

import sys


def add_parsers(sub) -> None:
    """Add ``classifier`` (features, params, training-set, add, list, show) and ``label-next``."""
    clf = sub.add_parser("classifier", help="behaviour classifiers: feature sets, parameters, training sets")
    actions = clf.add_subparsers(dest="classifier_action", required=True)
    fea = actions.add_parser("features", help="a named, content-hashed feature set")
    fea.add_argument("name")
    fea.add_argument("--windows", default=None, help="window lengths in s, comma-separated (0.2,0.6,1.5)")
    fea.add_argument("--statistics", default=None, help="of mean,std,min,max (all)")
    fea.set_defaults(func=cmd_features)
    par = actions.add_parser("params", help="a named, content-hashed classifier parameter set")
    par.add_argument("name")
    par.add_argument("--feature-set", default="default")
    par.add_argument("--algorithm", default="hist_gradient_boosting", choices=("hist_gradient_boosting",
                                                                               "random_forest"))
    par.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a hyper-parameter")
    par.add_argument("--frame-step", type=int, default=1)
    par.add_argument("--negatives-per-positive", type=float, default=None)
    par.add_argument("--class-weight", default=None, choices=("balanced",))
    par.add_argument("--min-bout-s", type=float, default=0.2)
    par.add_argument("--max-gap-s", type=float, default=0.2)
    par.add_argument("--bin-s", type=float, default=60.0)
    par.add_argument("--n-bins", type=int, default=3)
    par.set_defaults(func=cmd_params)
    ts = actions.add_parser("training-set", help="annotation sets of one annotator, split by recording")
    ts.add_argument("name")
    ts.add_argument("--annotator", required=True)
    ts.add_argument("--label-set", default="main")
    ts.add_argument("--session", action="append", default=None, help="only these sessions (repeat)")
    ts.add_argument("--behavior", action="append", default=None, help="only these behaviours (repeat)")
    ts.add_argument("--pose", default="raw", help="raw, corrected, 3d or filtered:NAME")
    ts.add_argument("--validation", type=float, default=0.2)
    ts.add_argument("--test", type=float, default=0.2)
    ts.add_argument("--seed", type=int, default=0)
    ts.add_argument("--k-folds", type=int, default=0)
    ts.set_defaults(func=cmd_training_set)
    add = actions.add_parser("add", help="name a classifier: a training set under a parameter set")
    add.add_argument("name")
    add.add_argument("--training-set", required=True)
    add.add_argument("--params", default="default")
    add.set_defaults(func=cmd_add)
    lst = actions.add_parser("list", help="classifiers, whether trained, and their test F1")
    lst.set_defaults(func=cmd_list)
    show = actions.add_parser("show", help="one classifier's thresholds, test measures and learning curve")
    show.add_argument("name")
    show.set_defaults(func=cmd_show)
    nxt = sub.add_parser("label-next", help="segments where a classifier is least certain, as a labelling job")
    nxt.add_argument("name")
    nxt.add_argument("--n", type=int, default=20)
    nxt.add_argument("--segment-s", type=float, default=2.0)
    nxt.add_argument("--out", default="label_next")
    nxt.add_argument("--include-labelled", action="store_true", help="also recordings of the training set")
    nxt.set_defaults(func=cmd_label_next)


def _activate(args):
    import schemas

    return schemas.activate(getattr(args, "prefix", None))


def _numbers(text: str | None, what: str) -> list[float] | None:
    from pipeline.errors import InputError

    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(what, f"comma-separated numbers, got {text!r}") from None


def _value(text: str):
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_features(args) -> int:
    from schemas.features import FeatureParamSet

    _activate(args)
    params = {}
    if args.windows is not None:
        params["windows_s"] = _numbers(args.windows, "--windows")
    if args.statistics is not None:
        params["statistics"] = [s for s in args.statistics.split(",") if s]
    print(f"feature set {args.name!r}: {FeatureParamSet.add(args.name, params)}")
    return 0


def cmd_params(args) -> int:
    from schemas.classifier import ClassifierParamSet
    from workers.annotations_cli import pairs

    _activate(args)
    hyper = {k: _value(v) for k, v in (pairs(args.set, "--set") or {}).items()}
    params = {"algorithm": args.algorithm, "hyperparameters": hyper, "frame_step": args.frame_step,
              "negatives_per_positive": args.negatives_per_positive, "class_weight": args.class_weight,
              "min_bout_s": args.min_bout_s, "max_gap_s": args.max_gap_s}
    ident = ClassifierParamSet.add(args.name, params, feature_set=args.feature_set, bin_s=args.bin_s,
                                   n_bins=args.n_bins)
    print(f"classifier parameters {args.name!r}: {ident}")
    return 0


def cmd_training_set(args) -> int:
    from schemas.annotation import AnnotationSet
    from schemas.classifier import ClassifierTrainingSet

    _activate(args)
    sets = AnnotationSet & {"annotator": args.annotator, "label_set": args.label_set}
    if args.session:
        sets = sets & [{"session": s} for s in args.session]
    name = ClassifierTrainingSet.create(args.name, sets, behaviors=args.behavior, pose_kind=args.pose,
                                        validation=args.validation, test=args.test, seed=args.seed,
                                        k_folds=args.k_folds)
    parts = ClassifierTrainingSet.Recording & {"training_set": name}
    for part in ("train", "validation", "test"):
        rows = (parts & {"part": part}).to_dicts(order_by=["session", "camera"])
        print(f"{part}: {len(rows)} recording(s) " + ", ".join(f"{r['session']}/{r['camera']}" for r in rows))
    return 0


def cmd_add(args) -> int:
    from schemas.classifier import Classifier

    _activate(args)
    Classifier.add(args.name, training_set=args.training_set, params=args.params)
    print(f"classifier {args.name!r}: training set {args.training_set!r}, parameters {args.params!r}; "
          "now run `ethojoint populate` (or a worker of stage classify)")
    return 0


def cmd_list(args) -> int:
    import pandas as pd

    from schemas.classifier import Classifier, ClassifierTraining
    from schemas.prediction import BehaviorPrediction, ClassifierEvaluation

    _activate(args)
    rows = []
    for c in Classifier.to_dicts(order_by="classifier"):
        key = {"classifier": c["classifier"]}
        f1 = ClassifierEvaluation.Behavior & key
        rows.append({"classifier": c["classifier"], "training_set": c["training_set"],
                     "trained": bool(ClassifierTraining & key),
                     "test_f1": ", ".join(f"{r['behavior']} {r['f1']:.3f}" for r in f1.to_dicts(order_by="behavior")
                                          if r["f1"] is not None) or "-",
                     "predicted_recordings": len(BehaviorPrediction & key)})
    print(pd.DataFrame(rows).to_string(index=False) if rows else "no classifiers")
    return 0


def cmd_show(args) -> int:
    import pandas as pd

    from pipeline.errors import InputError
    from schemas.classifier import ClassifierTraining
    from schemas.prediction import ClassifierEvaluation

    _activate(args)
    key = {"classifier": args.name}
    if not ClassifierTraining & key:
        raise InputError(f"classifier {args.name!r}", "is not trained (or does not exist)")
    with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
        print((ClassifierTraining.Behavior & key).to_pandas().reset_index().drop(columns="classifier").to_string(
            index=False))
        for part in (ClassifierEvaluation.Behavior, ClassifierEvaluation.LearningCurve):
            table = (part & key).to_pandas().reset_index()
            print("\n" + (table.drop(columns="classifier").to_string(index=False) if len(table) else
                          f"no {part.__name__} rows (populate prediction.ClassifierEvaluation)"))
    return 0


def cmd_label_next(args) -> int:
    from pathlib import Path

    from workers.label_next import label_next

    _activate(args)
    job = label_next(args.name, n=args.n, segment_s=args.segment_s, out=Path(args.out),
                     include_labelled=args.include_labelled)
    print(job.to_string(index=False) if len(job) else "no predicted segment to label", file=sys.stdout)
    return 0
