"""Integration tests run once per backend in ETHOJOINT_TEST_BACKENDS.

``postgresql`` is the embedded PostgreSQL (pgserver) in a temporary folder;
``mysql`` is the server at ETHOJOINT_TEST_MYSQL_HOST (default 127.0.0.1:3306,
user/password ETHOJOINT_TEST_MYSQL_USER/_PASS, default ethojoint/ethojoint).
A listed backend that cannot be reached fails every test that needs it.
Each run uses its own schema prefix and drops it at the end.
"""

import os
import uuid

import pytest

from tests.conftest import SHARED_DATA

BACKENDS = [b.strip() for b in os.environ.get("ETHOJOINT_TEST_BACKENDS", "postgresql").split(",") if b.strip()]
_ENV_KEYS = ("DJ_HOST", "DJ_USER", "DJ_PASS", "DJ_BACKEND", "DJ_PORT", "ETHOJOINT_DB", "ETHOJOINT_HOME",
             "ETHOJOINT_DATA_ROOTS", "ETHOJOINT_STORE", "ETHOJOINT_PREFIX", "ETHOJOINT_SAFEMODE")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        # engine-heavy tests (training a network) run on the first backend only: the engine's work does not
        # depend on the database, and the same table code runs on every backend in the lighter tests
        one = metafunc.definition.get_closest_marker("first_backend_only") is not None
        metafunc.parametrize("backend", BACKENDS[:1] if one else BACKENDS, scope="session")


def backend_env(backend: str, base, data_root) -> dict:
    roots = os.pathsep.join([str(SHARED_DATA), str(data_root)])
    # tests delete rows between tests: no confirmation prompt (safemode is on by default for a server)
    env = {"ETHOJOINT_DATA_ROOTS": roots, "ETHOJOINT_STORE": str(base / f"store_{backend}"), "ETHOJOINT_SAFEMODE": "0"}
    if backend == "postgresql":
        # pgserver runs PostgreSQL as a separate system user when we are root:
        # let it traverse pytest's private temporary folders to stop cleanly.
        for folder in (base, *base.parents):
            if str(folder).startswith(("/tmp/pytest-of-", str(data_root))) and folder.is_dir():
                folder.chmod(folder.stat().st_mode | 0o011)
        env.update(ETHOJOINT_DB="embedded", ETHOJOINT_HOME=str(base / "home"))
    elif backend == "mysql":
        host = os.environ.get("ETHOJOINT_TEST_MYSQL_HOST", "127.0.0.1:3306")
        h, _, port = host.partition(":")
        env.update(ETHOJOINT_DB="server", DJ_BACKEND="mysql", DJ_HOST=h, DJ_PORT=port or "3306",
                   DJ_USER=os.environ.get("ETHOJOINT_TEST_MYSQL_USER", "ethojoint"),
                   DJ_PASS=os.environ.get("ETHOJOINT_TEST_MYSQL_PASS", "ethojoint"))
    else:
        raise pytest.UsageError(f"unknown backend {backend!r} in ETHOJOINT_TEST_BACKENDS")
    return env


@pytest.fixture(scope="session")
def db(backend, tmp_path_factory):
    """Schemas declared on ``backend`` under a fresh prefix; dropped afterwards."""
    import schemas

    base = tmp_path_factory.mktemp(f"db_{backend}")
    saved = {k: os.environ.get(k) for k in _ENV_KEYS}
    for k in _ENV_KEYS:
        os.environ.pop(k, None)
    prefix = f"ejt_{uuid.uuid4().hex[:8]}_"
    os.environ.update(backend_env(backend, base, tmp_path_factory.getbasetemp()), ETHOJOINT_PREFIX=prefix)
    try:
        connection = schemas.activate()
    except Exception as err:  # unreachable backend: fail, never skip
        pytest.fail(f"backend {backend!r} listed in ETHOJOINT_TEST_BACKENDS is unreachable: {err}")
    print(f"\n[{backend}] {connection!r} prefix {prefix}")
    yield {"backend": backend, "prefix": prefix, "base": base, "connection": connection}
    schemas.drop_all(prefix, connection)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def clean(db):
    """An empty pipeline on the current backend (rows of earlier tests deleted)."""
    empty_pipeline()
    return db


def empty_pipeline() -> None:
    """Delete every row but the built-in ``default`` rule set (for fixtures of any scope)."""
    from schemas import (
        agreement,
        annotation,
        behavior,
        calibration,
        models,
        motion,
        pose,
        quality,
        session,
        subject,
        triangulation,
    )

    for table in (agreement.AgreementTask, annotation.AnnotationSet, annotation.Annotator, annotation.Ethogram,
                  calibration.CameraRig, calibration.CalibrationBoard, triangulation.TriangulationParamSet,
                  models.PoseModel, models.LabeledFrameSet, models.TrainingParamSet,
                  session.Session, subject.Subject, pose.Skeleton, quality.FilterParamSet,
                  behavior.SocialRuleSet & "rule_set_name <> 'default'", motion.ROISet, motion.MotionSVDParamSet):
        table.delete(part_integrity="cascade")  # (a source row takes its pose version along)


def row_counts() -> dict:
    """Rows in every EthoJoint table (masters and parts)."""
    import schemas
    from schemas.registry import parts, table_names

    counts = {}
    for module in schemas.MODULES:
        for name in table_names(module):
            table = getattr(module, name)
            counts[name] = len(table())
            for part in parts(table):
                counts[f"{name}.{part.__name__}"] = len(part())
    return counts
