"""Bad command-line input refused in one line, without a database: report windows, demo arguments, logins."""

import math
from argparse import Namespace

import pytest

from pipeline.errors import InputError
from schemas.database import _access_denied
from schemas.stats import _minute_choices, bins_for_minutes
from workers.demo import check_demo_args


@pytest.mark.parametrize(("minutes", "bin_s", "n_bins", "count"), [
    (1, 60, 3, 1), (3, 60, 3, 3), (3.0, 60, 3, 3), (0.5, 30, 6, 1), (1.5, 30, 6, 3), (3, 45, 4, 4)])
def test_a_window_of_whole_bins_is_its_bin_count(minutes, bin_s, n_bins, count):
    assert bins_for_minutes(minutes, bin_s=bin_s, n_bins=n_bins, rule_set_name="r") == count


@pytest.mark.parametrize(("minutes", "bin_s", "n_bins", "needle"), [
    (10, 60, 3, "10 min is more than the rule set stores (rule set 'r' stores 3 bins of 60 s: --first-minutes 1..3)"),
    (4, 60, 3, "4 min is more than the rule set stores"),
    (0, 60, 3, "0 is not a positive number of minutes (rule set 'r' stores 3 bins of 60 s: --first-minutes 1..3)"),
    (-1, 60, 3, "-1 is not a positive number of minutes"),
    (math.nan, 60, 3, "nan is not a positive number of minutes"),
    ("abc", 60, 3, "'abc' is not a positive number of minutes"),
    (1.5, 60, 3, "1.5 min is not a whole number of 60-s bins (refused, not rounded;"),
    (1, 45, 4, "1 min is not a whole number of 45-s bins (refused, not rounded; rule set 'r' stores 4 bins of 45 s: "
               "--first-minutes 0.75, 1.5, 2.25 or 3)"),
    (0.25, 30, 20, "--first-minutes multiples of 0.5 up to 10)"),
])
def test_a_window_the_bins_do_not_make_is_refused_with_the_choices(minutes, bin_s, n_bins, needle):
    with pytest.raises(InputError) as caught:
        bins_for_minutes(minutes, bin_s=bin_s, n_bins=n_bins, rule_set_name="r")
    message = str(caught.value)
    assert message.startswith("--first-minutes: ") and "\n" not in message
    assert needle in message


@pytest.mark.parametrize(("step", "n_bins", "text"), [
    (1.0, 3, "1..3"), (1.0, 1, "1"), (0.5, 1, "0.5"), (0.5, 3, "0.5, 1 or 1.5"), (2.0, 10, "multiples of 2 up to 20"),
    (1.0, 0, "none (the rule set stores no time bins)")])
def test_minute_choices(step, n_bins, text):
    assert _minute_choices(step, n_bins) == text


def test_access_denied_is_recognised_for_both_drivers_and_nothing_else():
    import psycopg2
    import pymysql

    assert _access_denied(pymysql.err.OperationalError(
        1045, "Access denied for user 'bob'@'10.0.0.2' (using password: YES)")) == "wrong password or unknown user"
    fatal = 'connection to server on socket "/tmp/x/.s.PGSQL.5432" failed: FATAL:  '
    assert _access_denied(psycopg2.OperationalError(fatal + 'password authentication failed for user "bob"')) \
        == "password authentication failed"
    assert _access_denied(psycopg2.OperationalError(fatal + 'role "bob" does not exist')) == "no such role"
    wrapped = RuntimeError("connect failed")
    wrapped.__cause__ = pymysql.err.OperationalError(1045, "Access denied")
    assert _access_denied(wrapped) is not None
    for other in (pymysql.err.OperationalError(2003, "Can't connect to MySQL server on 'h' ([Errno 111])"),
                  psycopg2.OperationalError(fatal + 'database "x" does not exist'), ValueError("boom")):
        assert _access_denied(other) is None, other


@pytest.mark.parametrize(("sessions", "seed", "needle"), [
    (0, 1, "--sessions-per-group: must be 1 or more"), (-2, 1, "got -2"), (1, -1, "--seed: must be 0 or more")])
def test_demo_arguments_are_refused_before_anything_is_written(tmp_path, capsys, monkeypatch, sessions, seed, needle):
    from workers.cli import main

    monkeypatch.setenv("ETHOJOINT_HOME", str(tmp_path / "home"))  # were it to connect: not in the working tree
    with pytest.raises(InputError, match=needle):
        check_demo_args(Namespace(sessions_per_group=sessions, seed=seed))
    out = tmp_path / "demo"
    # no database is configured here: refused before connecting, writing files or rows
    assert main(["demo", "--sessions-per-group", str(sessions), "--seed", str(seed), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err
    assert not out.exists() and not (tmp_path / "home").exists()
    check_demo_args(Namespace(sessions_per_group=1, seed=0))  # the smallest valid arguments pass
