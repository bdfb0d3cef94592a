"""SLEAP analysis files are read with h5py exactly as movement's ``from_sleap_file`` reads them (issue 13 §5:
importing movement cost 0.9 s of every one-file ingest), and without importing movement."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import InputError
from pipeline.io import _pose_from_dataset, read_pose
from pipeline.io._movement import movement_load_poses
from tests.conftest import SHARED_DATA

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(str(p.relative_to(SHARED_DATA)) for p in SHARED_DATA.rglob("*.analysis.h5"))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A two-mouse file with track names, point scores and missing points (the generator's SLEAP export)."""
    from pipeline.synthetic import simulate_session, write_session_files

    sim = simulate_session(seed=5, duration_s=10)
    return write_session_files(sim, tmp_path_factory.mktemp("sleap"), formats=("sleap_h5",))["sleap_h5"]


@pytest.mark.parametrize("name", [*FILES, "synthetic"])
def test_same_pose_as_movement(name, synthetic, shared_data):
    path = synthetic if name == "synthetic" else shared_data / name
    ours = read_pose(path, fps=30.0)
    ds = movement_load_poses().from_sleap_file(path, fps=30.0)
    individuals = list(ours.individuals) if ours.individuals[0].startswith("untracked_") else None
    theirs = _pose_from_dataset(ds, path, individuals=individuals, edges=ours.edges, source_software="SLEAP")
    assert (ours.individuals, ours.keypoints, ours.fps) == (theirs.individuals, theirs.keypoints, theirs.fps)
    np.testing.assert_array_equal(ours.positions, theirs.positions)  # NaN where NaN, else bit for bit
    np.testing.assert_array_equal(ours.confidence, theirs.confidence)
    assert np.isnan(ours.positions).any() == np.isnan(theirs.positions).any()
    if name == "synthetic":
        assert ours.n_individuals == 2 and np.isnan(ours.positions).any() and np.isfinite(ours.confidence).any()


def test_mismatched_names_are_one_error(tmp_path, synthetic):
    import h5py

    path = tmp_path / "bad.analysis.h5"
    path.write_bytes(synthetic.read_bytes())
    with h5py.File(path, "a") as f:
        del f["node_names"]
        f.create_dataset("node_names", data=np.array([b"nose", b"tail"]))
    with pytest.raises(InputError, match="node names"):
        read_pose(path, fps=30.0)


def test_reading_does_not_import_movement(synthetic):
    code = (f"import sys, json\nfrom pipeline.io import read_pose\nread_pose({str(synthetic)!r}, fps=30.0)\n"
            "print(json.dumps([m for m in ('movement', 'xarray') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
