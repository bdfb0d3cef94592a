"""The analyst notebook runs top to bottom against the embedded database."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_social_behaviour_notebook_executes(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    env_keep = {k: v for k, v in os.environ.items() if k.startswith(("DJ_", "ETHOJOINT_"))}
    for k in env_keep:
        monkeypatch.delenv(k)
    monkeypatch.setenv("ETHOJOINT_DB", "embedded")
    monkeypatch.setenv("ETHOJOINT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    nb = nbformat.read(REPO / "notebooks" / "social_behaviour.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                      for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "sha256" in outputs and "rule_set" in outputs and "Kruskal" in outputs
    assert (tmp_path / "ethojoint_demo" / "nb_ethogram.png").stat().st_size > 1000


def test_classifiers_notebook_executes(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    for k in [k for k in os.environ if k.startswith(("DJ_", "ETHOJOINT_"))]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("ETHOJOINT_DB", "embedded")
    monkeypatch.setenv("ETHOJOINT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    nb = nbformat.read(REPO / "notebooks" / "classifiers.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                      for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    for needed in ("model_sha256", "file_sha256", "annotator", "classifier_training_set__recording", "Kruskal"):
        assert needed in outputs, needed
