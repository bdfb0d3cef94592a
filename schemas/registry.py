"""Every EthoJoint table by name: one registry for the CLI, the workers and the jobs commands."""

from __future__ import annotations

import datajoint as dj

from pipeline.errors import InputError


def modules() -> tuple:
    """The schema modules, in dependency order."""
    import schemas

    return schemas.MODULES


def table_names(module) -> list[str]:
    """Names of the master tables a schema module defines (parts excluded)."""
    return [n for n, v in vars(module).items()
            if isinstance(v, type) and issubclass(v, dj.Table) and v.__module__ == module.__name__
            and not issubclass(v, dj.Part)]


def parts(table) -> list:
    """The part tables of a master table, by name.

    Read from the class body: ``getattr`` on a table class evaluates DataJoint's class-level
    properties (``heading``, ``jobs``: queries, even a jobs table declared) for every name.
    """
    return [v for p, v in sorted(vars(table).items())
            if isinstance(v, type) and issubclass(v, dj.Part) and p[0].isupper()]


def computed_tables() -> list:
    """Every auto-populated (imported or computed) table, in dependency order."""
    return [getattr(m, n) for m in modules() for n in table_names(m)
            if issubclass(getattr(m, n), (dj.Imported, dj.Computed))]


def resolve_table(name: str):
    """'pose.PoseEstimation', 'PoseEstimation' or 'behavior.SocialBouts.Bout' → the table class."""
    by_name = {m.__name__.rsplit(".", 1)[-1]: m for m in modules()}
    head, _, rest = name.partition(".")
    candidates = [(by_name[head], rest)] if head in by_name and rest else [(m, name) for m in modules()]
    for module, path in candidates:
        found = module
        for attr in path.split("."):
            found = getattr(found, attr, None)
        if isinstance(found, type) and issubclass(found, dj.Table):
            return found
    raise InputError("table", f"unknown table {name!r} (e.g. pose.PoseEstimation, behavior.SocialBouts.Bout)")


def table_name(table) -> str:
    """'module.Class' of a table class, e.g. 'pose.PoseEstimation'."""
    return f"{table.__module__.rsplit('.', 1)[-1]}.{table.__name__}"
