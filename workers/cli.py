"""The ``ethojoint`` command line."""

from __future__ import annotations

import argparse
import json
import sys
import time

from workers import annotations_cli, classifier_cli, roi_cli, rules_cli, store_cli


def _activate(args):
    import schemas

    return schemas.activate(getattr(args, "prefix", None))


def cmd_db(args) -> int:
    import schemas  # before datajoint: it silences DataJoint's import-time "No datajoint.json" warning
    from schemas.config import current, describe
    from schemas.database import server_version
    from schemas.registry import parts, table_names

    if args.action == "grant" or _grant_role(args):
        return cmd_grant(args)
    connection = _activate(args)
    if args.action == "init":
        from schemas import behavior

        behavior.SocialRuleSet.add("default")
        print(f"schemas declared under prefix {current().prefix!r}")
    facts = describe(schemas.dj.config, current())
    facts["server_version"] = server_version(connection)
    print(json.dumps(facts, indent=2))
    if args.action == "status":
        for module in schemas.MODULES:
            print(f"{module.schema.database}:")
            for name in table_names(module):
                table = getattr(module, name)
                print(f"  {name:<28} {len(table()):>8} rows")
                for part in parts(table):
                    print(f"  {name + '.' + part.__name__:<28} {len(part()):>8} rows")
        print_not_scorable()
    return 0


def _grant_role(args) -> tuple[str, str] | None:
    from schemas.grants import ROLES

    given = [(role, getattr(args, role)) for role in ROLES if getattr(args, role, None) is not None]
    return given[0] if given else None


def cmd_grant(args) -> int:
    """``db grant --analyst|--worker|--admin USER [--password PW]`` on the configured prefix."""
    from pipeline.errors import InputError
    from schemas.config import current
    from schemas.grants import check_user, grant, summary_lines

    role_user = _grant_role(args)
    if args.action != "grant" or role_user is None:
        raise InputError("db", "--analyst, --worker and --admin go with `db grant` (one of them)")
    role, user = role_user
    check_user(user)  # before connecting
    password = sys.stdin.readline().rstrip("\n") if args.password == "-" else args.password
    connection = _activate(args)
    for line in summary_lines(grant(connection, role, user, prefix=current().prefix, password=password)):
        print(line)
    return 0


def cmd_ingest(args) -> int:
    from schemas.ingest import ingest

    _activate(args)
    counts = ingest(args.manifest, progress=not args.quiet)
    print("new rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_populate(args) -> int:
    from schemas.registry import computed_tables, resolve_table

    _activate(args)
    tables = [resolve_table(t) for t in args.tables] if args.tables else computed_tables()
    failed = 0
    for table in tables:
        result = table.populate(display_progress=True, suppress_errors=True, reserve_jobs=args.reserve_jobs)
        for key, error in result["error_list"]:
            failed += 1
            print(f"{table.__name__} {key}: {error}", file=sys.stderr)
        print(f"{table.__name__}: {result['success_count']} made, {len(result['error_list'])} failed")
    return 1 if failed else 0


def cmd_audit(args) -> int:
    from schemas.audit import format_chain, upstream
    from schemas.registry import resolve_table

    _activate(args)
    table = resolve_table(args.table)
    key = _parse_key(args.key)
    chain = upstream(table(), key)  # InputError for an unknown attribute or a non-scalar value
    if not chain:
        print(f"no row of {args.table} matches {key}", file=sys.stderr)
        return 1
    print(format_chain(chain))
    return 0


def _parse_key(text: str) -> dict:
    """'session=s1,camera=top' or a JSON object → dict."""
    from pipeline.errors import InputError

    if text.strip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError("key", f"not valid JSON: {err}") from None
    pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
    if any(len(p) != 2 for p in pairs):
        raise InputError("key", f"must be JSON or a=b,c=d; got {text!r}")
    key = {k.strip(): v.strip() for k, v in pairs}
    if len(key) != len(pairs):
        raise InputError("key", f"an attribute is given twice in {text!r}")
    return key


def cmd_report(args) -> int:
    from workers.report import make_report

    _activate(args)
    if args.measure == "keypoint_distance":
        from workers.report import distance_report

        distance_report(group_by=[g.strip() for g in args.group_by.split(",") if g.strip()],
                        pair_set=args.pair_set, pose=args.pose, out=args.out)
        return 0
    make_report(group_by=[g.strip() for g in args.group_by.split(",") if g.strip()],
                behaviors=args.behavior or None, first_minutes=args.first_minutes, out=args.out,
                rule_set=args.rule_set, pose=args.pose, **roi_cli.report_options(args))
    return 0


def cmd_skeleton(args) -> int:
    """``skeleton roles NAME role=kp ...`` sets roles; ``skeleton show NAME`` prints keypoints and roles."""
    from pipeline.errors import InputError
    from schemas import pose

    _activate(args)
    if args.action == "roles":
        pose.set_roles(args.skeleton, dict(parse_role(a) for a in args.roles))
    row = (pose.Skeleton & {"skeleton": args.skeleton}).to_dicts()
    if not row:
        raise InputError("skeleton", f"no skeleton {args.skeleton!r}")
    print(f"skeleton {args.skeleton}: keypoints {row[0]['keypoints']}")
    for r in (pose.SkeletonRole & {"skeleton": args.skeleton}).to_dicts(order_by="role"):
        print(f"  {r['role']:<12} {json.dumps(pose.decode_spec(r['spec']))}  ({r['resolved']})")
    return 0


def parse_role(text: str) -> tuple[str, object]:
    """``tail_base=TTI``, ``neck=Ear_L+Ear_R`` (centroid), ``body=a,b,c`` (set), ``c=median:a,b,c`` -> (role, spec).

    Examples
    --------
    >>> parse_role("center=median:nose,neck,tail")
    ('center', {'median': ['nose', 'neck', 'tail']})
    """
    from pipeline.errors import InputError

    role, sep, value = text.partition("=")
    if not sep or not role or not value:
        raise InputError(text, "write ROLE=KEYPOINT, ROLE=A+B (their centroid), ROLE=A,B,C (a set) or "
                               "ROLE=median:A,B,C")
    kind, colon, points = value.partition(":")
    if colon and kind in ("median", "centroid"):
        return role, {kind: points.split(",")}
    if "+" in value:
        return role, {"centroid": value.split("+")}
    return role, value.split(",") if "," in value else value


def cmd_qc(args) -> int:
    from workers.qc import run_compare, run_qc

    _activate(args)
    if args.compare_filters:
        return run_compare(args.session, args.compare_filters, args.out, keypoints=args.keypoints,
                           k=args.spike_k, min_spread=args.spike_min_spread)
    return run_qc(args.session, args.out)


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give one or more names separated by commas")
    return names


def _stage(text: str) -> str:
    from workers.stages import STAGES

    if not text or any(s.strip() not in STAGES for s in text.split(",")):
        raise argparse.ArgumentTypeError(f"unknown stage {text!r}; known: {', '.join(STAGES)}")
    return text


def cmd_worker(args) -> int:
    from workers.worker import pin_gpu, run_worker

    pin_gpu(args.gpu)  # CUDA_VISIBLE_DEVICES before anything imports torch
    _activate(args)
    return run_worker(args.stage, gpu=args.gpu, max_idle_min=args.max_idle, poll_s=args.poll,
                      orphan_timeout_s=args.orphan_timeout, once=args.once, stale_s=args.stale_after,
                      retry_s=args.db_retry, beat_s=args.beat)


def cmd_jobs(args) -> int:
    from workers.jobs import format_reservations, format_summary, reservations, retry_errors, summary

    _activate(args)
    if args.retry_errors:
        print(f"{retry_errors(args.table)} error job(s) back to pending")
    print(format_summary(summary(args.table)))
    print(format_reservations(reservations(args.table)))
    print_not_scorable()
    return 0


def print_not_scorable() -> None:
    """Recordings recorded as not scorable under a rule set, with the reason (not retried until inputs change)."""
    from schemas import behavior

    rows = behavior.not_scorable()
    if len(rows):
        print(f"\nnot scorable ({len(rows)}; retried only when their inputs change):")
        for r in rows.itertuples():
            retry = " [inputs changed: next populate retries]" if r.retry else ""
            print(f"  {r.session}/{r.pose_version} under {r.rule_set_name!r}: {r.reason}{retry}")


def cmd_cache(args) -> int:
    from schemas.models import prune_model_cache

    _activate(args)
    removed = prune_model_cache(min_age_hours=args.min_age_hours, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for folder in removed:
        print(f"{verb} {folder}")
    print(f"{verb} {len(removed)} cached model folder(s)")
    return 0


def cmd_report3d(args) -> int:
    from workers.report3d import run_report3d

    _activate(args)
    return run_report3d(args.session, args.out)


def cmd_demo(args) -> int:
    from workers.demo import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ethojoint", description=__doc__)
    parser.add_argument("--prefix", help="schema name prefix (default from config, else 'ethojoint_')")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database status, initialisation, or a user's role (grant)")
    db.add_argument("action", choices=["status", "init", "grant"])
    who = db.add_mutually_exclusive_group()
    who.add_argument("--analyst", metavar="USER", help="grant: read-only on every schema of the prefix")
    who.add_argument("--worker", metavar="USER", help="grant: read all; write only what populate writes")
    who.add_argument("--admin", metavar="USER", help="grant: all privileges on the prefix's schemas")
    db.add_argument("--password", metavar="PW", default=None,
                    help="grant: create the user with this password if missing ('-': read it from stdin)")
    db.set_defaults(func=cmd_db)

    ing = sub.add_parser("ingest", help="validate and insert a manifest (YAML or CSV)")
    ing.add_argument("manifest")
    ing.add_argument("--quiet", action="store_true")
    ing.set_defaults(func=cmd_ingest)

    pop = sub.add_parser("populate", help="populate computed tables (all by default)")
    pop.add_argument("tables", nargs="*", help="e.g. pose.PoseEstimation")
    pop.add_argument("--reserve-jobs", action="store_true", help="coordinate through the jobs tables")
    pop.set_defaults(func=cmd_populate)

    aud = sub.add_parser("audit", help="print the upstream chain of a row")
    aud.add_argument("table", help="e.g. pose.PoseEstimation")
    aud.add_argument("key", help='JSON or a=b,c=d, e.g. session=s1,camera=top,pose_source=sleap')
    aud.set_defaults(func=cmd_audit)

    rep = sub.add_parser("report", help="group table, tests, CSVs and plots of social behaviour")
    rep.add_argument("--group-by", "--by", default="sex,age_group", help="subject/session attributes, comma-separated")
    rep.add_argument("--measure", choices=["social", "keypoint_distance", "motion_energy"], default="social",
                     help="social (default), keypoint_distance (variance, MAD, spikes), motion_energy (per ROI)")
    rep.add_argument("--pair-set", default=None, help="keypoint pair set name or id (--measure keypoint_distance)")
    rep.add_argument("--behavior", action="append", help="restrict to a behaviour (repeatable)")
    rep.add_argument("--first-minutes", type=float, default=None,
                     help="only the first N minutes of each recording's pose data: a whole number of the "
                          "rule set's time bins, within them (default rule set: 1..3)")
    rep.add_argument("--rule-set", default=None,
                     help="bout source: a rule set name or id (default: the one named 'default'), "
                          "or classifier:NAME")
    rep.add_argument("--pose", default="raw",
                     help="pose version scored: raw (default), corrected, 3d or filtered:NAME (a filter chain)")
    rep.add_argument("--out", default=None, help="folder for CSVs and PNG plots")
    roi_cli.add_report_options(rep)
    rep.set_defaults(func=cmd_report)

    rules_cli.add_parsers(sub)
    annotations_cli.add_parsers(sub)
    classifier_cli.add_parsers(sub)
    roi_cli.add_parsers(sub)
    store_cli.add_parsers(sub)

    sk = sub.add_parser("skeleton", help="body-part roles of a skeleton: set them or show them")
    sk.add_argument("action", choices=["roles", "show"])
    sk.add_argument("skeleton")
    sk.add_argument("roles", nargs="*", help="ROLE=KEYPOINT, ROLE=A+B (centroid), ROLE=A,B,C (set), ROLE=median:A,B,C")
    sk.set_defaults(func=cmd_skeleton)

    qc = sub.add_parser("qc", help="trajectory quality report of a session's pose estimations")
    qc.add_argument("session")
    qc.add_argument("--out", default="qc", help="folder for CSVs and PNG plots")
    qc.add_argument("--compare-filters", type=_names, metavar="A,B,...",
                    help="compare these filter chains (FilterParamSet names): spikes, residual, lag, HF power")
    qc.add_argument("--keypoints", type=_names, metavar="K1,K2", help="keypoints to plot (default: the first two)")
    qc.add_argument("--spike-k", type=float, default=5.0, help="spike threshold in robust SDs (default 5)")
    qc.add_argument("--spike-min-spread", type=float, default=0.5,
                    help="floor of the robust SD, position units (default 0.5)")
    qc.set_defaults(func=cmd_qc)

    from workers.stages import DEFAULT_POLL_S, STAGES

    wrk = sub.add_parser("worker", help="long-running populate worker of one stage (jobs-table coordinated)")
    wrk.add_argument("--stage", required=True, type=_stage, help=f"one of {', '.join(STAGES)}, or several: train,eval")
    wrk.add_argument("--gpu", type=int, default=None, help="sets CUDA_VISIBLE_DEVICES; run one worker per GPU")
    wrk.add_argument("--max-idle", type=float, default=None, help="exit after MIN minutes without work")
    wrk.add_argument("--poll", type=float, default=DEFAULT_POLL_S, help="seconds between passes when idle")
    wrk.add_argument("--orphan-timeout", type=float, default=None,
                     help="seconds before a reserved job of a dead worker is pending again "
                          "(default ETHOJOINT_ORPHAN_TIMEOUT_S or 6 h)")
    wrk.add_argument("--stale-after", type=float, default=None,
                     help="seconds without a heartbeat before a worker's reserved job is pending again "
                          "(default ETHOJOINT_HEARTBEAT_STALE_S or 120)")
    wrk.add_argument("--db-retry", type=float, default=None,
                     help="seconds to keep reconnecting after losing the database before exiting 3 "
                          "(default ETHOJOINT_DB_RETRY_S or 900)")
    wrk.add_argument("--beat", type=float, default=10.0, help="seconds between heartbeats (10)")
    wrk.add_argument("--once", action="store_true", help="exit as soon as there is nothing left to do")
    wrk.set_defaults(func=cmd_worker)

    jbs = sub.add_parser("jobs", help="job counts per table and error messages")
    jbs.add_argument("--table", default=None, help="e.g. quality.FilteredPose (default: all computed tables)")
    jbs.add_argument("--retry-errors", action="store_true", help="put error jobs back to pending")
    jbs.set_defaults(func=cmd_jobs)

    cch = sub.add_parser("cache", help="delete this machine's cached copies of models no training row uses")
    cch.add_argument("action", choices=["prune"])
    cch.add_argument("--min-age-hours", type=float, default=24.0, help="keep folders used more recently (24)")
    cch.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    cch.set_defaults(func=cmd_cache)

    r3d = sub.add_parser("report3d", help="calibration report, 3D trajectories and residuals of a session")
    r3d.add_argument("session")
    r3d.add_argument("--out", default="report3d", help="folder for CSVs and PNG plots")
    r3d.set_defaults(func=cmd_report3d)

    demo = sub.add_parser("demo", help="synthetic cohort end to end on the configured database")
    demo.add_argument("--out", default="ethojoint_demo", help="folder for generated files and plots")
    demo.add_argument("--sessions-per-group", type=int, default=4)
    demo.add_argument("--seed", type=int, default=2026)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv=None) -> int:
    from pipeline.errors import InputError

    args = build_parser().parse_args(argv)
    started = time.time()
    try:
        code = args.func(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.command == "demo":
        print(f"done in {time.time() - started:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
