"""``ethojoint db grant`` (issue 13 §2): what an analyst, a worker and an admin can do, on every backend.

Users are created by the command (with a password), then used through a raw
driver connection (on the embedded PostgreSQL through its socket, with the
password: only ``postgres`` gets in without one, and only for its owner).
"""

import uuid

import pytest

pytestmark = pytest.mark.integration

DENIED_MYSQL = (1142, 1044)  # table access denied (INSERT/DELETE/CREATE/DROP/ALTER ...), database access denied
FK_MISSING = {"mysql": 1452, "postgresql": "23503"}  # the statement got past the privilege check


def connect_as(connection, user: str, password: str):
    info = connection.conn_info
    if connection.adapter.backend == "mysql":
        import pymysql

        return pymysql.connect(host=info["host"], port=int(info["port"]), user=user, password=password,
                               autocommit=True)
    import psycopg2

    conn = psycopg2.connect(host=info["host"], port=int(info["port"]), user=user, password=password,
                            dbname=info.get("database_name") or "postgres")
    conn.autocommit = True
    return conn


def sql(conn, query: str) -> list:
    with conn.cursor() as cur:
        cur.execute(query)
        return [tuple(row) for row in cur.fetchall()] if cur.description else []


def error_code(conn, query: str):
    """The driver's error code of ``query`` (MySQL errno, PostgreSQL SQLSTATE); fails if it succeeds."""
    try:
        sql(conn, query)
    except Exception as err:  # noqa: BLE001 -- both drivers' errors, told apart by their code
        return getattr(err, "pgcode", None) or err.args[0]
    pytest.fail(f"expected an error from {query}")


def assert_denied(backend, conn, query):
    code = error_code(conn, query)
    assert code in DENIED_MYSQL if backend == "mysql" else code == "42501", (code, query)


def name(backend, *parts):
    mark = "`" if backend == "mysql" else '"'
    return ".".join(f"{mark}{p}{mark}" for p in parts)


@pytest.fixture
def users(db):
    """Three fresh user names and a password; the users (and what they made) are dropped afterwards."""
    import datajoint as dj

    tag = uuid.uuid4().hex[:8]
    made = {role: f"ej{role[:2]}_{tag}" for role in ("analyst", "worker", "admin")}
    yield made, f"pw_{tag}"
    conn = dj.conn()
    if db["backend"] == "mysql":
        conn.query(f"DROP DATABASE IF EXISTS `{outside_prefix(db['prefix'])}`")
    for user in made.values():
        if db["backend"] == "mysql":
            conn.query(f"DROP USER IF EXISTS '{user}'@'%%'")
        elif conn.query("SELECT COUNT(*) FROM pg_roles WHERE rolname = %s", (user,)).fetchone()[0]:
            conn.query(f'DROP OWNED BY "{user}"')  # its grants and the objects it made
            conn.query(f'DROP ROLE "{user}"')


def outside_prefix(prefix: str) -> str:
    """A schema name just outside ``prefix`` that ``prefix_%`` would match if its ``_`` were not escaped."""
    return prefix[:-1] + "xg"


def run_grant(role, user, password, capsys):
    from workers.cli import main

    assert main(["db", "grant", f"--{role}", user, "--password", password]) == 0
    out = capsys.readouterr().out
    assert f"granted {role}" in out and "run this command again" in out
    return out


def test_roles(clean, users, capsys):
    import datajoint as dj

    from schemas import behavior, recording, subject

    backend, prefix = clean["backend"], clean["prefix"]
    made, password = users
    jobs = recording.RecordingInfo.jobs
    jobs_name = name(backend, jobs.database, jobs.table_name)
    jobs.drop_quick()  # the grant must declare it again, so that a worker never needs CREATE
    subjects = name(backend, subject.Subject().database, subject.Subject().table_name)
    not_scorable = name(backend, behavior.NotScorable().database, behavior.NotScorable().table_name)
    rule_sets = name(backend, behavior.SocialRuleSet().database, behavior.SocialRuleSet().table_name)
    for role, user in made.items():
        assert "created user" in run_grant(role, user, password, capsys)
    out = run_grant("worker", made["worker"], password, capsys)  # again: the user is kept as it is
    assert "existing user" in out and "password unchanged" in out

    connection = dj.conn()  # main() reconnected: the current connection's address
    add_subject = f"INSERT INTO {subjects} (subject, sex, age_group) VALUES ('g_subject', 'F', 'young')"
    add_job = f"INSERT INTO {jobs_name} (session, camera, status, priority) VALUES ('g', 'top', 'pending', 5)"
    in_subject_schema = name(backend, prefix + "subject", "g_table")

    analyst = connect_as(connection, made["analyst"], password)
    assert sql(analyst, f"SELECT rule_set_name FROM {rule_sets}") == [("default",)]
    assert_denied(backend, analyst, add_subject)
    assert_denied(backend, analyst, f"DELETE FROM {rule_sets}")
    assert_denied(backend, analyst, add_job)
    assert_denied(backend, analyst, f"CREATE TABLE {in_subject_schema} (x int)")
    analyst.close()

    worker = connect_as(connection, made["worker"], password)
    assert sql(worker, f"SELECT COUNT(*) FROM {subjects}") == [(0,)]
    sql(worker, add_job)  # the jobs table the grant declared
    sql(worker, f"UPDATE {jobs_name} SET status = 'ignore' WHERE session = 'g'")
    assert sql(worker, f"SELECT status FROM {jobs_name} WHERE session = 'g'") == [("ignore",)]
    sql(worker, f"DELETE FROM {jobs_name} WHERE session = 'g'")
    assert sql(worker, f"SELECT COUNT(*) FROM {jobs_name} WHERE session = 'g'") == [(0,)]
    # the manual table populate writes: past the privilege check, stopped by the missing pose version
    assert error_code(worker, f"INSERT INTO {not_scorable} (session, pose_version, rule_set, reason, "
                              f"inputs_hash) SELECT 'g', 'top/x', rule_set, 'r', 'h' FROM {rule_sets}"
                      ) == FK_MISSING[backend]
    assert sql(worker, f"DELETE FROM {not_scorable} WHERE session = 'g'") == []
    assert_denied(backend, worker, add_subject)
    assert_denied(backend, worker, f"DELETE FROM {rule_sets}")
    assert_denied(backend, worker, f"DROP TABLE {jobs_name}")
    assert_denied(backend, worker, f"ALTER TABLE {jobs_name} ADD COLUMN g_extra int")
    assert_denied(backend, worker, f"CREATE TABLE {in_subject_schema} (x int)")
    worker.close()

    admin = connect_as(connection, made["admin"], password)
    sql(admin, f"CREATE TABLE {in_subject_schema} (x int)")
    sql(admin, f"INSERT INTO {in_subject_schema} (x) VALUES (1)")
    assert sql(admin, f"SELECT x FROM {in_subject_schema}") == [(1,)]
    sql(admin, f"DROP TABLE {in_subject_schema}")
    assert sql(admin, f"DELETE FROM {subjects} WHERE subject = 'nobody'") == []
    create = "CREATE DATABASE" if backend == "mysql" else "CREATE SCHEMA"
    sql(admin, f"{create} {name(backend, prefix + 'g_extra')}")
    sql(admin, f"{create.replace('CREATE', 'DROP')} {name(backend, prefix + 'g_extra')}")
    if backend == "mysql":  # the pattern is the prefix with '_' escaped: nothing outside it
        assert_denied(backend, admin, f"CREATE DATABASE {name(backend, outside_prefix(prefix))}")
    admin.close()


def test_grant_refuses_bad_input(db, capsys):
    from workers.cli import main

    assert main(["db", "grant", "--analyst", "bob'; DROP TABLE x; --"]) == 2
    assert "use 1-32 of A-Z" in capsys.readouterr().err
    assert main(["db", "grant", "--worker", f"nobody_{uuid.uuid4().hex[:8]}"]) == 2  # no such user, no password
    assert "give --password" in capsys.readouterr().err
    assert main(["db", "grant"]) == 2
    assert main(["db", "status", "--admin", "bob"]) == 2
