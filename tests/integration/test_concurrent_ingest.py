"""Two `ethojoint ingest` of one manifest at the same time, on a fresh prefix: both succeed, nothing twice.

Before: one always failed with a traceback, and on a fresh prefix both did (declaring the schemas at once),
leaving sessions without poses. Now declaration and a manifest's insert each hold a server-wide lock.
"""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.integration.test_ingest import _one_session, write_manifest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("ETHOJOINT_TEST_ROUNDS", "2"))  # 10 run by hand (see the module docstring)
TABLES = {"subject": ("subject", "subject"), "session": ("session", "session"),
          "animal": ("session", "session__animal"), "task": ("pose", "pose_estimation_task"),
          "pose": ("pose", "_pose_estimation"), "individual": ("pose", "_pose_estimation__individual")}


def _counts(connection, prefix: str) -> dict:
    quote = "`" if connection.adapter.backend == "mysql" else '"'
    return {name: connection.query(f"SELECT COUNT(*) FROM {quote}{prefix}{schema}{quote}.{quote}{table}{quote}")
            .fetchone()[0] for name, (schema, table) in TABLES.items()}


def _new_rows(out: str) -> dict:
    """{'Subject': 2, ...} from the ``new rows: Subject 2, Skeleton 1, ...`` line of ``ethojoint ingest``."""
    line = next(x for x in out.splitlines() if x.startswith("new rows: "))
    return {name: int(n) for name, n in (part.rsplit(" ", 1) for part in line.removeprefix("new rows: ").split(", "))}


def _race(manifest: Path, prefix: str) -> list[tuple]:
    """Run two ``ethojoint ingest`` of ``manifest`` at once under ``prefix``; (exit code, stdout, stderr) each."""
    env = dict(os.environ, ETHOJOINT_PREFIX=prefix, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-m", "workers.cli", "ingest", str(manifest), "--quiet"],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        return [(p.wait(240), *p.communicate()) for p in procs]
    finally:
        for p in procs:
            p.kill()


def _check(results, connection, prefix: str, round_: int) -> None:
    for code, out, err in results:
        assert code == 0, f"round {round_}: exit {code}\n{out}\n{err}"
    new_tasks = sorted(_new_rows(out)["PoseEstimationTask"] for _, out, _ in results)
    assert new_tasks == [0, 1], f"round {round_}: {new_tasks}"  # the second found it all there
    assert _counts(connection, prefix) == {"subject": 2, "session": 1, "animal": 2, "task": 1, "pose": 1,
                                           "individual": 2}, f"round {round_}"


def test_two_ingests_of_one_manifest_at_once(clean, shared_data, tmp_path):
    """Round 0 on a fresh prefix (both processes declare the schemas too), the others on the test's prefix."""
    import schemas
    from schemas import pose, session, subject

    manifest = write_manifest(tmp_path, _one_session(shared_data))
    fresh = f"ejc_{uuid.uuid4().hex[:8]}_"
    try:
        _check(_race(manifest, fresh), clean["connection"], fresh, 0)
    finally:
        schemas.drop_all(fresh, clean["connection"])
    for round_ in range(1, ROUNDS):
        _check(_race(manifest, clean["prefix"]), clean["connection"], clean["prefix"], round_)
        for table in (session.Session, subject.Subject, pose.Skeleton):
            table.delete(part_integrity="cascade")
