"""Database roles for one schema prefix: ``ethojoint db grant --analyst|--worker|--admin USER``.

Three roles, granted by someone who may grant (MySQL: ``GRANT OPTION``;
PostgreSQL: the owner of the schemas or a superuser):

- **analyst**: reads every schema of the prefix (``SELECT``), writes nothing.
- **worker**: reads every schema; ``INSERT``, ``UPDATE`` and ``DELETE`` only on
  what populate writes: the auto-populated tables, their part tables, their
  DataJoint jobs tables (``~~name``; declared here first, so a worker never
  needs ``CREATE``) and the manual tables of :data:`POPULATE_WRITES`.  No
  ``CREATE``, ``DROP`` or ``ALTER``.
- **admin**: all privileges on the prefix's schemas, creating and dropping
  them included (MySQL: the database pattern ``prefix\\_%``).

The statements are built by pure functions (:func:`grant_statements`,
:func:`create_user_statements`) and run by :func:`grant`.  They are DB-API
``format`` strings: a literal ``%`` is written ``%%`` and the only value
passed separately is the password, so nothing a user types is spliced into
SQL except a user name that matched :data:`USER_PATTERN`.

Grants name the tables (and, on PostgreSQL, the schemas) that exist when they
run: tables declared later (a new version's ``db init``, a new computed
table, a new prefix schema) need the grant run again.  On MySQL the read and
admin grants are a database pattern and also cover schemas created later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import datajoint as dj

from pipeline.errors import InputError

ROLES = ("analyst", "worker", "admin")
USER_PATTERN = re.compile(r"[A-Za-z0-9_]{1,32}")

# Manual tables that populate writes besides the auto-populated tables, their parts and jobs tables.
# Add a table here when a make() starts writing one (e.g. a "versions.PoseVersion" table).
# SocialBouts registers pose versions; workers stamp their heartbeat
POPULATE_WRITES = ("behavior.NotScorable", "versions.PoseVersion", "operations.WorkerHeartbeat")

Statement = tuple[str, tuple]  # (DB-API format string, arguments)


def check_user(user: str) -> str:
    """A user (role) name: 1-32 of A-Z, a-z, 0-9 and ``_``; anything else is refused."""
    if not isinstance(user, str) or not USER_PATTERN.fullmatch(user):
        raise InputError("user", f"{user!r}: use 1-32 of A-Z, a-z, 0-9 and _ only")
    return user


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError("role", f"{role!r}: one of {', '.join(ROLES)}")
    return role


def quote(backend: str, name: str) -> str:
    """One identifier, quoted for ``backend`` (MySQL backticks, PostgreSQL double quotes), ``%`` escaped."""
    mark = "`" if backend == "mysql" else '"'
    return (mark + name.replace(mark, mark * 2) + mark).replace("%", "%%")


def table_ref(backend: str, schema: str, table: str) -> str:
    return f"{quote(backend, schema)}.{quote(backend, table)}"


def mysql_pattern(prefix: str) -> str:
    """MySQL database pattern of every schema under ``prefix``: ``_`` escaped, ``%`` appended."""
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


def _mysql_user(user: str) -> str:
    return f"'{check_user(user)}'@'%%'"


def create_user_statements(backend: str, user: str, password: str) -> list[Statement]:
    """Create ``user`` with a login; the password is passed as an argument, never part of the SQL text."""
    if backend == "mysql":
        return [(f"CREATE USER IF NOT EXISTS {_mysql_user(user)} IDENTIFIED BY %s", (str(password),))]
    return [(f"CREATE ROLE {quote(backend, check_user(user))} LOGIN PASSWORD %s", (str(password),))]


def user_exists_statement(backend: str, user: str) -> Statement:
    if backend == "mysql":
        return "SELECT COUNT(*) FROM mysql.user WHERE User = %s AND Host = '%%'", (check_user(user),)
    return "SELECT COUNT(*) FROM pg_roles WHERE rolname = %s", (check_user(user),)


def grant_statements(backend: str, role: str, user: str, *, prefix: str, schemas: Iterable[str] = (),
                     writable: Iterable[tuple[str, str]] = (), database: str | None = None) -> list[Statement]:
    """The GRANT statements of ``role`` for ``user`` on the schemas under ``prefix``.

    ``schemas``: the prefix's existing schemas (PostgreSQL grants name each one);
    ``writable``: (schema, table) pairs a worker writes; ``database``: the
    PostgreSQL database (``CONNECT``, and ``CREATE`` for an admin).
    """
    check_role(role)
    check_user(user)
    schemas, writable = list(schemas), list(writable)
    if any(not s.startswith(prefix) for s in schemas) or any(not s.startswith(prefix) for s, _ in writable):
        raise InputError("schemas", f"only schemas under the prefix {prefix!r} can be granted")
    if backend == "mysql":
        return _mysql_grants(role, user, prefix, writable)
    if backend == "postgresql":
        return _postgres_grants(role, user, schemas, writable, database)
    raise InputError("backend", f"{backend!r}: mysql or postgresql")


def _mysql_grants(role, user, prefix, writable) -> list[Statement]:
    on_prefix = f"{quote('mysql', mysql_pattern(prefix))}.*"
    to = _mysql_user(user)
    if role == "admin":
        return [(f"GRANT ALL PRIVILEGES ON {on_prefix} TO {to}", ())]
    statements = [(f"GRANT SELECT ON {on_prefix} TO {to}", ())]
    if role == "worker":
        statements += [(f"GRANT INSERT, UPDATE, DELETE ON {table_ref('mysql', s, t)} TO {to}", ())
                       for s, t in writable]
    return statements


def _postgres_grants(role, user, schemas, writable, database) -> list[Statement]:
    to = quote("postgresql", user)
    q = [quote("postgresql", s) for s in schemas]
    db_privileges = "CONNECT, CREATE" if role == "admin" else "CONNECT"
    statements = [(f"GRANT {db_privileges} ON DATABASE {quote('postgresql', database)} TO {to}", ())] \
        if database else []
    if role == "admin":
        for s in q:
            statements += [(f"GRANT ALL PRIVILEGES ON SCHEMA {s} TO {to}", ()),
                           (f"GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA {s} TO {to}", ()),
                           (f"GRANT ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA {s} TO {to}", ())]
        return statements
    for s in q:
        statements += [(f"GRANT USAGE ON SCHEMA {s} TO {to}", ()),
                       (f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {to}", ())]
    if role == "worker":
        statements += [(f"GRANT INSERT, UPDATE, DELETE ON TABLE {table_ref('postgresql', s, t)} TO {to}", ())
                       for s, t in writable]
    return statements


def worker_tables() -> list:
    """Every table a worker writes (table instances): auto-populated tables, their parts, their jobs
    tables (declared now where missing) and :data:`POPULATE_WRITES` with their parts."""
    from .registry import computed_tables, parts, resolve_table

    tables = []
    for table in computed_tables():
        tables += [table(), *(p() for p in parts(table)), table.jobs]  # .jobs declares the jobs table
    for name in POPULATE_WRITES:
        table = resolve_table(name)
        tables += [table(), *(p() for p in parts(table))]
    return tables


def grant(connection, role: str, user: str, *, prefix: str, password: str | None = None) -> dict:
    """Grant ``role`` to ``user`` on the schemas under ``prefix`` (run by a user allowed to grant).

    The user must exist, or is created (with a login) when ``password`` is
    given; an existing user keeps its password.  Returns what was done:
    ``backend``, ``created``, ``schemas``, ``writable`` ('schema.table'),
    ``statements`` (their SQL, without the password).

    Raises
    ------
    InputError
        Bad role or user name, no such user and no password, no schema under the prefix.
    """
    from . import check_prefix

    check_role(role)
    check_user(user)
    check_prefix(prefix)
    backend = connection.adapter.backend
    schemas = sorted(s for s in dj.list_schemas(connection=connection) if s.startswith(prefix))
    if not schemas:
        raise InputError("prefix", f"no schema under {prefix!r}: run `ethojoint db init` first")
    exists = connection.query(*user_exists_statement(backend, user)).fetchone()[0] > 0
    if not exists and password is None:
        raise InputError("user", f"no user {user!r} on the server: give --password to create it")
    statements = [] if exists else create_user_statements(backend, user, password)
    writable = [(t.database, t.table_name) for t in worker_tables()] if role == "worker" else []
    database = connection.query("SELECT current_database()").fetchone()[0] if backend == "postgresql" else None
    statements += grant_statements(backend, role, user, prefix=prefix, schemas=schemas, writable=writable,
                                   database=database)
    for sql, args in statements:
        connection.query(sql, args)
    return {"backend": backend, "role": role, "user": user, "created": not exists, "schemas": schemas,
            "writable": [f"{s}.{t}" for s, t in writable], "statements": [sql.replace("%%", "%")
                                                                          for sql, _ in statements]}


def summary_lines(result: dict) -> list[str]:
    """What :func:`grant` did, for the command line."""
    who = f"'{result['user']}'@'%'" if result["backend"] == "mysql" else repr(result["user"])
    lines = [f"{'created' if result['created'] else 'existing'} user {who}"
             + ("" if result["created"] else " (password unchanged)"),
             f"granted {result['role']} on {len(result['schemas'])} schema(s): {', '.join(result['schemas'])}"]
    if result["role"] == "worker":
        lines.append(f"writes (INSERT, UPDATE, DELETE) on {len(result['writable'])} tables: "
                     "auto-populated tables, their parts and jobs tables, " + ", ".join(POPULATE_WRITES))
    lines += [f"  {sql}" for sql in result["statements"]]
    if result["backend"] == "mysql":
        lines.append("note: a worker's writes name the tables that exist now; reads and admin rights are a pattern "
                     "on the prefix and cover schemas created later")
    else:
        lines.append("note: the grants name the schemas and tables that exist now")
        if result["role"] == "admin":
            lines.append("note: PostgreSQL lets only a table's or schema's owner drop or alter it: this admin can "
                         "create schemas (of any name) and tables and drop its own, not the existing ones")
    lines.append("tables declared after this grant (a new version's `ethojoint db init`, a new computed table) "
                 "are not covered: run this command again then")
    return lines
