"""The README's manifest and rule-set examples are valid documents (they would otherwise rot)."""

import re

import yaml

from pipeline.behavior.ruledoc import load_document
from pipeline.roles import check_role
from tests.conftest import REPO


def _yaml_blocks() -> list:
    text = (REPO / "README.md").read_text()
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)]


def test_readme_rule_file_loads():
    docs = [b for b in _yaml_blocks() if isinstance(b, dict) and "behaviors" in b]
    assert [d["name"] for d in docs] == ["my-lab-sniffing"]
    doc = load_document(docs[0])
    assert doc.name == "my-lab-sniffing" and len(doc.content_hash()) > 0


def test_readme_skeleton_roles_are_valid():
    blocks = [b for b in _yaml_blocks() if isinstance(b, dict) and b.get("skeletons")]
    with_roles = [sk for b in blocks for sk in b["skeletons"] if sk.get("roles")]
    assert with_roles, "the README shows a skeleton with roles"
    for sk in with_roles:
        for role, spec in sk["roles"].items():
            check_role(role, spec, sk["keypoints"], source="README")
