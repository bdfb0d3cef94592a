"""Set up the virtual environment and run the demo or the tests.

Needs only Python 3.11:  ``python3.11 bootstrap.py demo`` / ``python3.11 bootstrap.py test``.
The environment lives in ``.venv`` and is reinstalled when pyproject.toml changes.
Extra arguments go to the command (``bootstrap.py test -k ingest``).
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"


def ensure_env() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"EthoJoint needs Python 3.11; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        print("installing EthoJoint and its dependencies into .venv (first run: a few minutes) ...", flush=True)
        pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run(pip + ["-U", "pip"], check=True)
        subprocess.run(pip + ["-e", f"{ROOT}[test]"], check=True)
        stamp.write_text(digest)


def main(argv) -> int:
    if not argv or argv[0] not in ("demo", "test", "env"):
        print(__doc__)
        return 2
    ensure_env()
    os.chdir(ROOT)
    if argv[0] == "demo":
        return subprocess.call([str(BIN / "ethojoint"), "demo", *argv[1:]])
    if argv[0] == "test":
        return subprocess.call([str(BIN / "python"), "-m", "pytest", "-ra", *argv[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
