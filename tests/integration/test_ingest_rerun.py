"""Re-running ingest when nothing is new (issue 13 §5): a pose file is recognised by the size, modification
time and SHA-256 recorded in its PoseEstimation provenance, not read again; a changed file is."""

import os

import pytest

from pipeline.errors import InputError
from pipeline.io.checksum import file_checksum
from tests.integration.conftest import row_counts

pytestmark = pytest.mark.integration


def _manifest(folder):
    from pipeline.synthetic import simulate_cohort
    from workers.demo import build_manifest

    cohort = simulate_cohort(seed=3, sessions_per_group=1, duration_s=20, groups=(("F", "young"),))
    return build_manifest(cohort, folder), folder / "pose" / "ses-001.analysis.h5"


def _garble_keeping_size(path, *, keep_mtime: bool):
    """Overwrite the file with bytes no reader accepts, of the same size (and, if asked, the same mtime)."""
    st = path.stat()
    path.write_bytes(b"\0not a pose file\0" * (st.st_size // 17) + b"\0" * (st.st_size % 17))
    assert path.stat().st_size == st.st_size
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_provenance_records_size_time_and_checksum(clean, tmp_path):
    from schemas import pose
    from schemas.ingest import ingest

    manifest, file = _manifest(tmp_path)
    ingest(manifest)
    inputs = (pose.PoseEstimation & {"session": "ses-001"}).fetch1("provenance")["inputs"]
    st = file.stat()
    assert [(i["sha256"], i["size"], i["mtime_ns"]) for i in inputs] == [(file_checksum(file), st.st_size,
                                                                          st.st_mtime_ns)]


def test_unchanged_file_is_not_read_again(clean, tmp_path, capsys):
    from schemas.ingest import ingest

    manifest, file = _manifest(tmp_path)
    assert sum(ingest(manifest).values()) > 0
    before = row_counts()
    _garble_keeping_size(file, keep_mtime=True)  # reading it now would fail: the re-run must not read it
    capsys.readouterr()
    assert sum(ingest(manifest).values()) == 0
    assert "unchanged since it was read" in capsys.readouterr().out
    assert row_counts() == before


def test_changed_file_is_read_again(clean, tmp_path):
    from schemas.ingest import ingest

    manifest, file = _manifest(tmp_path)
    ingest(manifest)
    before = row_counts()
    _garble_keeping_size(file, keep_mtime=False)  # same size, new time, other bytes: the checksum differs
    with pytest.raises(InputError):
        ingest(manifest)
    assert row_counts() == before
