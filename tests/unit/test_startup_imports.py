"""What the command line imports before it has work to do (issue 13 §5: start-up is part of every command).

``ethojoint --help`` and argument parsing need neither the database layer nor the
numerical libraries; the schemas need no scipy until something filters, tests or
triangulates. Each check runs in a fresh interpreter, so earlier imports cannot hide one.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("datajoint", "scipy", "movement", "pandas", "schemas", "workers.worker")


def _loaded_after(code: str) -> list[str]:
    probe = (f"import sys\n{code}\nimport json\n"
             f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_parser_imports_no_database_or_numerics():
    assert _loaded_after("import workers.cli as c\nc.build_parser().parse_args(['jobs'])") == []


def test_help_exits_without_heavy_imports():
    code = "import workers.cli as c\ntry:\n    c.main(['--help'])\nexcept SystemExit:\n    pass"
    assert _loaded_after(code) == []


def test_schemas_import_without_scipy():
    loaded = _loaded_after("import schemas")
    assert "scipy" not in loaded and "movement" not in loaded
    assert "datajoint" in loaded  # the probe does see what is imported


def test_reading_a_pose_file_compiles_no_grammars():
    """movement.io imports jsonschema, whose optional rfc3987_syntax compiles Lark grammars (2.3 s) at import."""
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / "sleap_flies" / "small_robot.000_small_robot_3_frame.analysis.h5"
    code = ("from pipeline.io import read_pose\n"
            f"assert read_pose({str(path)!r}, fps=30).n_frames == 3\n"
            "import json\nloaded = sorted(m for m in ('rfc3987_syntax', 'lark') if m in sys.modules)\n"
            "import jsonschema, rfc3987_syntax  # both still importable and working afterwards\n"
            "jsonschema.validate({'a': 1}, {'type': 'object'})\n"
            "print(json.dumps(loaded))")
    out = subprocess.run([sys.executable, "-c", "import sys\n" + code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
