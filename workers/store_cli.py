"""``ethojoint store gc``: list (``--dry-run``) or delete store objects that no row references.

Uploads happen before the insert transaction (:mod:`schemas.store`), so a
worker killed between its upload and its insert leaves an object that no row
references.  Only objects older than ``--min-age-hours`` are deleted: the
upload of a job that is still running is not referenced yet.
"""

from __future__ import annotations


def add_parsers(sub) -> None:
    """Add the ``store`` subcommand (``gc``) to an argparse subparsers object."""
    store = sub.add_parser("store", help="the object store: find and delete objects that no row references")
    actions = store.add_subparsers(dest="store_action", required=True)
    gc = actions.add_parser("gc", help="delete (or with --dry-run, list) unreferenced store objects")
    gc.add_argument("--dry-run", action="store_true", help="list them, delete nothing")
    gc.add_argument("--min-age-hours", type=float, default=24.0,
                    help="only objects last written longer ago than this (24; longer than your longest job)")
    gc.set_defaults(func=cmd_store_gc)


def cmd_store_gc(args) -> int:
    import schemas
    from schemas import store

    schemas.activate(getattr(args, "prefix", None))
    modules = [m.schema for m in schemas.MODULES]
    if args.dry_run:
        found = store.orphans(modules, min_age_hours=args.min_age_hours)
    else:
        found = store.collect(modules, min_age_hours=args.min_age_hours)
    verb = "unreferenced" if args.dry_run else "deleted"
    for item in found:
        print(f"{verb} {item['path']} ({item['bytes']} bytes)")
    print(f"{verb}: {len(found)} object(s), {sum(i['bytes'] for i in found)} bytes "
          f"(older than {args.min_age_hours:g} h)")
    return 0
