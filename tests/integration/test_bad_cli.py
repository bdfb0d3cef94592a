"""Bad ``ethojoint`` input on a small scored database: one line on stderr, exit 2, no row changed; and
windows without a scorable second are "no data", never 0 bouts — on every backend."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.integration.conftest import empty_pipeline, row_counts

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
LATE_S = 65.0  # the first session's second animal is tracked only from here on: no scorable first minute
# (from 60 s, features that look a few frames back would make 2 frames of the first minute scorable)
KNOWN = "nose2nose, nose2anogenital, nose2neck, nose2left_ear, nose2right_ear"  # what 'default' scores
CASES = {
    "group-by-unknown": (["report", "--group-by", "nonexistent"],
                         ["--group-by: unknown attribute 'nonexistent'; group by one or more of: ",
                          "sex", "age_group"]),
    "first-minutes-negative": (["report", "--first-minutes", "-1"],
                               ["--first-minutes: -1 is not a positive number of minutes"]),
    "first-minutes-zero": (["report", "--first-minutes", "0"], ["--first-minutes: 0 is not a positive number"]),
    "first-minutes-past-bins": (["report", "--first-minutes", "10"],
                                ["10 min is more than the rule set stores",
                                 "(rule set 'default' stores 3 bins of 60 s: --first-minutes 1..3)"]),
    "first-minutes-part-bin": (["report", "--first-minutes", "1.5"],
                               ["1.5 min is not a whole number of 60-s bins (refused, not rounded;"]),
    "behavior-unknown": (["report", "--behavior", "sniffing"],
                         [f"--behavior: unknown behaviour 'sniffing' for rule set 'default'; it scores: {KNOWN}"]),
    "demo-no-sessions": (["demo", "--sessions-per-group", "0"], ["--sessions-per-group: must be 1 or more"]),
}


@pytest.fixture(scope="module")
def scored(db, tmp_path_factory):
    """Four synthetic sessions (seed 7, 90 s), scored; in the first the second animal is missing for 65 s.

    Returns that session's id and its (sex, age group).
    """
    from pipeline.synthetic import simulate_cohort
    from schemas import behavior
    from schemas.ingest import ingest
    from workers.demo import build_manifest

    empty_pipeline()
    cohort = simulate_cohort(seed=7, sessions_per_group=1, duration_s=90)
    late = cohort.sessions[0]
    late.simulation.pose.positions[:int(LATE_S * late.simulation.fps), 1] = np.nan
    ingest(build_manifest(cohort, tmp_path_factory.mktemp("bad_cli")))
    behavior.SocialBouts.populate()
    assert len(behavior.SocialBouts()) == 4
    return late.session_id, late.group


@pytest.mark.parametrize(("argv", "fragments"), CASES.values(), ids=CASES.keys())
def test_bad_input_is_one_line_exit_2_and_changes_nothing(scored, tmp_path, capsys, monkeypatch, argv, fragments):
    from workers.cli import main

    monkeypatch.setenv("ETHOJOINT_TLS", "off")  # no "NOT encrypted" warning line from a server without TLS
    before = row_counts()
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    for fragment in fragments:
        assert fragment in lines[0]
    assert captured.out == ""
    assert not out.exists()
    assert row_counts() == before


def test_a_window_without_a_scorable_second_is_no_data_not_zero(scored, tmp_path, capsys):
    from schemas import stats
    from workers.cli import main

    late, (sex, age) = scored
    out = tmp_path / "report"
    assert main(["report", "--group-by", "sex,age_group", "--first-minutes", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"NO DATA (left out of n, not counted as 0 bouts) for 2 animal(s) in this window: {late}/" in text
    for name, rows in (("per_animal", 2 * 5), ("per_pair", 2 * 4 + 1), ("per_session", 5)):
        table = pd.read_csv(out / f"{name}.csv")
        mine, others = table[table["session"] == late], table[table["session"] != late]
        assert len(mine) == rows and len(others) == 3 * rows, name
        assert mine["no_data"].all() and not others["no_data"].any(), name
        for measure in stats.MEASURES:
            assert mine[measure].isna().all(), (name, measure)  # not 0 bouts, 0 s
        assert others["bout_count"].notna().all() and others["total_duration_s"].notna().all(), name
    counts = pd.read_csv(out / "group_table.csv").query("measure == 'bout_count'")
    n = {(r.sex, r.age_group): r.n for r in counts.itertuples()}
    assert n.pop((sex, age)) == 0 and set(n.values()) == {2}
    whole = stats.per_session()  # over the whole recording both animals are tracked for 25 s: data
    assert whole.loc[whole["session"] == late, "bout_count"].notna().all() and not whole["no_data"].any()
    assert (whole.loc[whole["session"] == late, "scorable_s"] > 0).all()


_PROBE = "import sys; from workers.cli import main; sys.exit(main(sys.argv[1:]))"


def test_a_refused_login_is_one_line(db, tmp_path):
    """MySQL: a wrong password; the embedded PostgreSQL: a role other than postgres with a wrong password."""
    import datajoint as dj

    host, port = dj.config["database.host"], dj.config["database.port"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJ_", "ETHOJOINT_TLS"))}
    env.update(PYTHONPATH=str(REPO), ETHOJOINT_DB="server", DJ_BACKEND=db["backend"], DJ_HOST=str(host),
               DJ_PORT=str(port))
    if db["backend"] == "mysql":
        user = os.environ["DJ_USER"]
        env.update(DJ_USER=user, DJ_PASS=os.environ.get("DJ_PASS", "") + "-wrong")
        why = "(wrong password or unknown user)"
    else:
        user = "ethojoint_no_such_role"
        env.update(DJ_USER=user, DJ_PASS="whatever")
        why = "(password authentication failed)"
    before = row_counts()
    result = subprocess.run([sys.executable, "-c", _PROBE, "db", "status"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip().splitlines() == [
        f"error: database ({db['backend']}): access denied for user {user!r} at host {host}:{port} {why}; "
        "check DJ_USER / DJ_PASS or dj_local_conf.json"]
    assert result.stdout == ""
    assert row_counts() == before


@pytest.mark.parametrize("server", ["mysql", "postgresql"])
def test_an_unreachable_server_is_one_line(server, tmp_path):
    """Nothing listens on the port: one line naming host and port, exit 2 (was a 40-line traceback)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and nothing listens once the socket is closed
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJ_", "ETHOJOINT_"))}
    env.update(PYTHONPATH=str(REPO), ETHOJOINT_DB="server", DJ_BACKEND=server, DJ_HOST="127.0.0.1",
               DJ_PORT=str(port), DJ_USER="nobody", DJ_PASS="x", ETHOJOINT_TLS="off")
    result = subprocess.run([sys.executable, "-c", _PROBE, "db", "status"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: database ({server}): cannot reach the server at 127.0.0.1:{port} (")
    assert "refused" in line and line.endswith("is it running? check DJ_HOST / DJ_PORT or dj_local_conf.json")
