"""Tables and profile summaries for ``bench_scale.py``.

A row is one measure: its value, its target and ok / MISSED (or ``info``
where the issue sets no number). Where a target is missed the bench profiles
the step (cProfile) and adds one line saying what bounds it: the share of
the step's own time by area (database socket waits, the database drivers,
DataJoint, HDF5, imports, our code ...) and the three functions of ours with
the most cumulative time below the step itself.
"""

from __future__ import annotations

import pstats
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

_OURS = ("pipeline", "schemas", "workers")
_SOCKET = ("recv_into", "recv", "sendall", "poll", "select", "_socket")


@dataclass
class Row:
    measure: str
    value: str
    target: str = ""
    ok: bool | None = None       # None: no target (information)
    bound: str = ""              # what bounds it, when missed (from a profile)
    notes: list = field(default_factory=list)

    @property
    def status(self) -> str:
        return "info" if self.ok is None else ("ok" if self.ok else "MISSED")


def table(backend: str, rows: list[Row], header: str = "") -> str:
    """The per-backend table, then one 'bounded by' line per missed target."""
    widths = [max(len(r.measure) for r in rows), max(len(r.value) for r in rows), max(len(r.target) for r in rows)]
    widths = [max(w, len(h)) for w, h in zip(widths, ("measure", "value", "target"))]
    rule = "-" * (sum(widths) + 16)
    lines = [f"== {backend} {header}".rstrip(), rule,
             f"{'measure':<{widths[0]}}  {'value':>{widths[1]}}  {'target':<{widths[2]}}  status", rule]
    for r in rows:
        lines.append(f"{r.measure:<{widths[0]}}  {r.value:>{widths[1]}}  {r.target:<{widths[2]}}  {r.status}")
    lines.append(rule)
    for r in rows:
        for note in r.notes:
            lines.append(f"  note: {r.measure}: {note}")
        if r.ok is False and r.bound:
            lines.append(f"  bounded by: {r.measure}: {r.bound}")
    return "\n".join(lines)


_BUILTIN_AREAS = (  # (words in a built-in's name, area), first match wins
    (("psycopg2", "pymysql"), "database queries (driver waits)"),
    (("time.sleep",), "sleeps (lock polling)"),
    (_SOCKET, "socket waits (database round trips)"),
    (("posix", "_io.", "open"), "file system"),
    (("marshal", "_imp", "builtins.compile"), "imports"),
)


def _area(file: str, func: str) -> str:
    """Where a profiled function's own time goes, in words."""
    if file == "~":
        return next((area for words, area in _BUILTIN_AREAS if any(w in func for w in words)), "builtins")
    if "importlib" in file or "<frozen" in file:
        return "imports"
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    parts = Path(file).parts
    ours = next((o for o in _OURS if o in parts), None)
    if ours:
        return f"ethojoint {ours}"
    return "the bench" if "bench" in parts else f"stdlib {Path(file).stem}"


def bound_line(profile: str | Path, *, top: int = 4) -> str:
    """One line: the step's own time by area, and our functions with the most cumulative time."""
    stats = pstats.Stats(str(profile))
    total = stats.total_tt or 1e-9
    areas: dict[str, float] = defaultdict(float)
    ours = []
    for (file, _line, func), (_, _, tt, ct, _) in stats.stats.items():
        areas[_area(file, func)] += tt
        if any(p in Path(file).parts for p in _OURS) and ct < 0.9 * total:
            ours.append((ct, f"{Path(file).parent.name}/{Path(file).name}:{func}"))
    shares = ", ".join(f"{name} {100 * t / total:.0f}%" for name, t in sorted(areas.items(), key=lambda a: -a[1])[:top])
    mine = "; ".join(f"{name} {ct:.2f} s" for ct, name in sorted(ours, reverse=True)[:3])
    return f"{total:.2f} s profiled: {shares}" + (f"; our heaviest: {mine}" if mine else "") + f" [{profile}]"


def merge_profiles(paths: list[Path], out: Path) -> Path:
    """Several cProfile files (one per worker) as one."""
    existing = [str(p) for p in paths if Path(p).exists()]
    stats = pstats.Stats(*existing)
    stats.dump_stats(str(out))
    return out


def fmt(value: float, unit: str, digits: int = 2) -> str:
    return f"{value:.{digits}f} {unit}"
