"""Ids and prefixes that reach SQL names or output paths are restricted to safe characters."""

import pytest

from pipeline.errors import InputError
from pipeline.manifest import safe_id


@pytest.mark.parametrize("bad", ["../../x", "a/b", "..", "a..b", "", "x" * 33, "-s1", "s 1", "s`1"])
def test_unsafe_ids_are_refused(bad):
    with pytest.raises(InputError, match="m.yaml: sessions.*session id"):
        safe_id(bad, "m.yaml: sessions[0]", "session id")


def test_safe_ids_pass():
    assert [safe_id(v, "m", "id") for v in ("s01", "M-3.b_2", "A")] == ["s01", "M-3.b_2", "A"]


@pytest.mark.parametrize("bad", ["lab`_", "lab'; drop", "Lab_", "lab-1_", ""])
def test_prefix_is_checked_before_sql(bad):
    from schemas import check_prefix

    with pytest.raises(InputError, match="a-z, 0-9 and _ only"):
        check_prefix(bad)
    check_prefix("lab1_")


def test_cli_refuses_a_bad_prefix(capsys):
    from workers.cli import main

    assert main(["--prefix", "x`y_", "db", "status"]) == 2
    assert "a-z, 0-9 and _ only" in capsys.readouterr().err
