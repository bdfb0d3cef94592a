"""House rules of the three-part make, checked on the source of every table (no database needed).

``make_compute`` reads no table (DataJoint hashes what ``make_fetch`` returned and checks it again before the
insert; a read in compute would escape that check), and every auto-populated table that does real work has
the three parts (a one-step ``make`` runs inside the insert transaction).
"""

import ast
from pathlib import Path

import pytest

SCHEMAS = sorted((Path(__file__).resolve().parents[2] / "schemas").glob("*.py"))
READS = {"fetch", "fetch1", "to_dicts", "to_arrays", "to_pandas", "keys", "cursor", "load_pose", "model_location",
         "model_source", "fetch_version", "fetch_pose", "camera_rows"}


def _classes():
    for path in SCHEMAS:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                yield path.name, node


def _methods(cls: ast.ClassDef) -> dict:
    return {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}


def _reads(func: ast.FunctionDef) -> list[str]:
    found = []
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in READS:
                found.append(f"line {node.lineno}: {name}()")
        if _table_expression(node):
            found.append(f"line {node.lineno}: a table expression")
    return found


def _table_expression(node) -> bool:
    """``Table & key``, ``A - B``, ``A * B`` with a table (an attribute named in CamelCase) on one side."""
    return (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.Sub, ast.Mult))
            and any(isinstance(side, ast.Attribute) and side.attr[:1].isupper() for side in (node.left, node.right)))


COMPUTE = [(f, c.name, _methods(c)["make_compute"]) for f, c in _classes() if "make_compute" in _methods(c)]


def test_every_make_compute_was_found():
    assert {t for _, t, _ in COMPUTE} == {
        "RecordingInfo", "PoseEstimation", "ModelTraining", "ModelEvaluation", "FrameExtraction", "LabeledVideo",
        "FilteredPose", "IdentityCheck", "IdentityCorrection", "CameraCalibration", "Triangulation", "SocialBouts",
        "Agreement", "PoseFeatures", "ClassifierTraining", "ClassifierEvaluation", "BehaviorPrediction",
        "KeypointDistance", "TrainingMembership", "MotionEnergy", "MotionSVD"}


@pytest.mark.parametrize(("module", "table", "func"), COMPUTE, ids=[f"{m}:{t}" for m, t, _ in COMPUTE])
def test_make_compute_reads_no_table(module, table, func):
    assert _reads(func) == [], f"{module} {table}.make_compute reads the database"


def test_no_table_has_a_one_step_make():
    one_step = [f"{f}:{c.name}" for f, c in _classes() if "make" in _methods(c) and "make_compute" not in _methods(c)]
    assert one_step == []


def test_the_check_finds_a_read():
    src = "def make_compute(self, key):\n    return (pose.PoseEstimation & key).fetch1()\n"
    assert len(_reads(ast.parse(src).body[0])) == 2
