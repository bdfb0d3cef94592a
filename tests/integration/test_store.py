"""Uploads before the insert: checksummed arrays, cleanup after a failed insert, ``ethojoint store gc``."""

import numpy as np
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def one_pose(clean, tmp_path):
    from pipeline.synthetic import simulate_cohort
    from pipeline.synthetic.cohort import GROUPS
    from schemas import pose
    from schemas.ingest import ingest
    from workers.demo import build_manifest

    ingest(build_manifest(simulate_cohort(seed=5, groups=GROUPS[:1], sessions_per_group=1, duration_s=20),
                          tmp_path))
    return pose.PoseEstimation.fetch1("KEY")


def _gc(capsys, *args) -> list[str]:
    from workers.cli import main

    assert main(["store", "gc", *args]) == 0
    return [line.split()[1] for line in capsys.readouterr().out.splitlines()
            if line.startswith(("unreferenced ", "deleted "))]


def test_arrays_carry_their_checksum_and_are_checked(one_pose):
    from datajoint.errors import DataJointError

    from schemas import pose, store

    row = store.small((pose.PoseEstimation & one_pose).fetch1())
    meta = row["positions"]
    assert len(meta["sha256"]) == 64 and meta["shape"][0] == 600
    positions = store.load_array(meta, dtype=np.float64)
    assert np.array_equal(positions, np.asarray((pose.PoseEstimation & one_pose).fetch1("positions"), float),
                          equal_nan=True)
    with pytest.raises(DataJointError, match="does not match its recorded sha256"):
        store.load_array(dict(meta, sha256="0" * 64))


def test_a_failed_insert_leaves_no_upload_behind(one_pose, capsys):
    from datajoint.errors import IntegrityError

    from schemas import quality, store

    table = quality.FilteredPose()
    key = dict(one_pose, filter_set="0" * 36)  # no such filter set: the insert fails on its foreign key
    before = set(_gc(capsys, "--dry-run", "--min-age-hours", "0"))  # e.g. objects of rows deleted earlier
    metas = [store.upload(table, key, f, np.zeros((3, 2), np.float32)) for f in ("positions", "confidence")]
    assert set(_gc(capsys, "--dry-run", "--min-age-hours", "0")) - before == {m["path"] for m in metas}
    with pytest.raises(IntegrityError), store.removed_on_error(*metas):
        table.insert1(dict(key, **dict(zip(("positions", "confidence"), metas)), step_stats={}, provenance={}),
                      allow_direct_insert=True)
    assert set(_gc(capsys, "--dry-run", "--min-age-hours", "0")) == before


def test_store_gc_lists_then_deletes_only_old_enough_orphans(one_pose, capsys):
    from schemas import pose, quality, store

    _gc(capsys, "--min-age-hours", "0")  # objects of rows deleted by earlier tests
    meta = store.upload(quality.FilteredPose(), dict(one_pose, filter_set="1" * 36), "positions",
                        np.ones((4, 2), np.float32))  # a worker killed between its upload and its insert
    assert _gc(capsys, "--dry-run", "--min-age-hours", "0") == [meta["path"]]
    assert _gc(capsys, "--min-age-hours", "24") == []  # too recent: could be a job still running
    assert _gc(capsys, "--min-age-hours", "0") == [meta["path"]]
    assert _gc(capsys, "--dry-run", "--min-age-hours", "0") == []
    row = store.small((pose.PoseEstimation & one_pose).fetch1())
    assert store.load_array(row["confidence"]).shape[0] == 600  # referenced objects are untouched
