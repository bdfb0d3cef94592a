"""Benchmark (issue 13 §5): what a lab with 1,000 sessions does every day, on MySQL and PostgreSQL.

Synthetic two-mouse sessions in bulk (:mod:`bench.scale_data`), ingested into
a throw-away schema prefix (dropped at the end) on each backend, then:

* ``ethojoint ingest`` (the command, a process of its own: start-up included)
  of a one-file manifest of one hour of two-animal pose, and its no-op
  re-run; of a manifest of ``--sessions`` sessions (s/file), and its no-op re-run
  (which must recognise the files by size/time/checksum, not read them);
* job overhead per job on a queue of ``--jobs`` trivial jobs with one worker
  process, and the throughput of two workers relative to one (:mod:`bench.scale_jobs`);
* ``SocialBouts`` populate of everything ingested: hours of pose scored per
  second, extrapolated to 1,000 one-hour sessions (stated as extrapolated),
  the rows per second the inserts reach and the TimeBin part's share of the
  insert time;
* the per-animal group statistics over ``--group-sessions`` sessions and
  ``ethojoint db status``.

One table per backend (:mod:`bench.scale_report`); a missed target is
profiled and gets a line saying what bounds it. Run::

    python bench/bench_scale.py --quick                 # both backends, a few minutes each
    python bench/bench_scale.py --backend mysql --full  # 100 one-hour sessions, 10,000 jobs, 1,000 sessions

MySQL: ``--mysql-host`` (127.0.0.1:3306), ``--mysql-user`` (root),
``--mysql-pass`` ('') or ETHOJOINT_TEST_MYSQL_HOST/_USER/_PASS. PostgreSQL: the
embedded server, in a temporary folder.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import scale_steps  # noqa: E402
from bench.scale_report import table  # noqa: E402

SIZES = {  # --quick / default / --full
    "quick": {"sessions": 100, "minutes": 2.0, "jobs": 500, "group_sessions": 0},
    "default": {"sessions": 100, "minutes": 10.0, "jobs": 2000, "group_sessions": 300},
    "full": {"sessions": 100, "minutes": 60.0, "jobs": 10000, "group_sessions": 1000},
}
_ENV_KEYS = ("DJ_HOST", "DJ_USER", "DJ_PASS", "DJ_BACKEND", "DJ_PORT", "ETHOJOINT_DB", "ETHOJOINT_HOME",
             "ETHOJOINT_DATA_ROOTS", "ETHOJOINT_STORE", "ETHOJOINT_PREFIX", "ETHOJOINT_SAFEMODE", "ETHOJOINT_CONFIG")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=["mysql", "postgresql", "both"], default="both")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", dest="size", const="quick",
                      help="100 two-minute sessions, 500 jobs, group query over what is there (minutes per backend)")
    size.add_argument("--full", action="store_const", dest="size", const="full",
                      help="100 one-hour sessions, 10,000 jobs, group query over 1,000 sessions (long)")
    p.set_defaults(size="default")
    p.add_argument("--sessions", type=int, help="sessions of the manifest (default 100)")
    p.add_argument("--minutes", type=float, help="minutes of pose per manifest session")
    p.add_argument("--jobs", type=int, help="trivial jobs in the queue")
    p.add_argument("--group-sessions", type=int,
                   help="sessions in the database for the group query (extra short ones are added; 0: no extra)")
    p.add_argument("--group-minutes", type=float, default=3.0, help="minutes of pose of the extra sessions (3)")
    p.add_argument("--profile-dir", default="/tmp/ethojoint_bench_profiles", help="cProfile files of missed targets")
    p.add_argument("--mysql-host", default=os.environ.get("ETHOJOINT_TEST_MYSQL_HOST", "127.0.0.1:3306"))
    p.add_argument("--mysql-user", default=os.environ.get("ETHOJOINT_TEST_MYSQL_USER", "root"))
    p.add_argument("--mysql-pass", default=os.environ.get("ETHOJOINT_TEST_MYSQL_PASS", ""))
    args = p.parse_args(argv)
    for name, value in SIZES[args.size].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def backend_env(args, backend: str, work: Path, data: Path, prefix: str) -> dict:
    """The environment that points EthoJoint (this process and the commands it starts) at ``backend``."""
    env = {k: v for k, v in os.environ.items() if k not in _ENV_KEYS}
    env.update(ETHOJOINT_DATA_ROOTS=str(data), ETHOJOINT_STORE=str(work / "store"), ETHOJOINT_SAFEMODE="0",
               ETHOJOINT_PREFIX=prefix, ETHOJOINT_CONFIG=str(work / "no_config.json"),
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    if backend == "postgresql":
        env.update(ETHOJOINT_DB="embedded", ETHOJOINT_HOME=str(work / "home"))
    else:
        host, _, port = args.mysql_host.partition(":")
        env.update(ETHOJOINT_DB="server", DJ_BACKEND="mysql", DJ_HOST=host, DJ_PORT=port or "3306",
                   DJ_USER=args.mysql_user, DJ_PASS=args.mysql_pass, ETHOJOINT_HOME=str(work / "home"))
    return env


def run_backend(args, backend: str) -> int:
    """Every measure on one backend, under a throw-away prefix; prints its table."""
    from bench.scale_data import cache_folder

    work = Path(tempfile.mkdtemp(prefix=f"ejbench_{backend}_"))
    prefix = f"ejb_{uuid.uuid4().hex[:8]}_"
    env = backend_env(args, backend, work, cache_folder(), prefix)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(work)  # the commands find no configuration file of the repository's
    atexit.register(shutil.rmtree, work, True)  # registered first, so it runs after the embedded server's exit hooks
    import schemas

    if backend == "postgresql":  # pgserver runs as another user when we are root: let it into the folder
        work.chmod(0o711)
    started = time.time()
    connection = schemas.activate(prefix)
    steps = scale_steps.Steps(args, backend, prefix, env, work, Path(args.profile_dir))
    try:
        rows = steps.run_all(connection)
    finally:
        schemas.drop_all(prefix, connection)
        if backend == "postgresql":
            from schemas.database import stop_embedded

            stop_embedded()
    header = (f"({args.size}: {args.sessions} sessions x {args.minutes:g} min, {args.jobs} jobs; "
              f"prefix {prefix} dropped; {time.time() - started:.0f} s)")
    print(table(backend, rows, header), flush=True)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.backend != "both":
        return run_backend(args, args.backend)
    code = 0
    for backend in ("mysql", "postgresql"):  # each in a process of its own: a clean environment per backend
        argv_b = [a for a in (argv if argv is not None else sys.argv[1:])]
        if "--backend" in argv_b:
            i = argv_b.index("--backend")
            del argv_b[i:i + 2]
        code |= subprocess.call([sys.executable, __file__, "--backend", backend, *argv_b])
    return code


if __name__ == "__main__":
    sys.exit(main())
