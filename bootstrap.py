"""Set up the virtual environment and run the demo or the tests.

Needs only Python 3.11:  ``python3.11 bootstrap.py demo`` / ``python3.11 bootstrap.py test``.
The environment lives in ``.venv`` and is reinstalled when pyproject.toml changes.
Extra arguments go to the command (``bootstrap.py test -k ingest``).
``bootstrap.py fix-opencv`` leaves exactly one OpenCV build in the running Python.
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
        fix_opencv(str(BIN / "python"))
        stamp.write_text(digest)


_OPENCV = r"""
import subprocess, sys
from importlib.metadata import PackageNotFoundError, version
WANTED, SPEC = "opencv-contrib-python-headless", "opencv-contrib-python-headless>=4.10,<5"
ALL = ("opencv-python", "opencv-python-headless", "opencv-contrib-python", WANTED)
def installed():
    found = {}
    for name in ALL:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found
found = installed()
if list(found) != [WANTED] or int(found[WANTED].split(".")[0]) >= 5:
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    if found:
        subprocess.run(pip + ["uninstall", "-y", *found], check=True)
    subprocess.run(pip + ["install", "--force-reinstall", "--no-deps", SPEC], check=True)
import cv2
removed = sorted(set(found) - {WANTED}) or "none"
print(f"cv2 {cv2.__version__} from {WANTED} {installed()[WANTED]} (the only OpenCV build; removed: {removed})")
"""


def fix_opencv(python: str) -> None:
    """Keep exactly one cv2 build: opencv-contrib-python-headless < 5.

    aniposelib asks for opencv-contrib-python and movement (via pyvideoreader)
    for opencv-python-headless; pip unpacks both into the same ``cv2`` folder
    and the last one wins (today OpenCV 5, which finds the same ChArUco corners
    about 5x slower). Every OpenCV wheel is removed and the single
    contrib-headless 4.x build installed; it provides the ``cv2`` module the
    others need (``pip check`` still names the removed distributions).
    """
    subprocess.run([python, "-c", _OPENCV], check=True)


def main(argv) -> int:
    if argv and argv[0] == "fix-opencv":  # for images built without the venv (docker/)
        fix_opencv(sys.executable)
        return 0
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
