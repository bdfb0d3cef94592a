"""Fixtures shared by unit and integration tests."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real test files (../shared/data); fails, never skips, when absent."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real test data folder {SHARED_DATA} is missing (see DEVELOPERS.md: ../shared/data)")
    return SHARED_DATA


def pytest_report_header(config):
    import os

    return f"EthoJoint integration backends: {os.environ.get('ETHOJOINT_TEST_BACKENDS', 'postgresql')}"


def pytest_terminal_summary(terminalreporter):
    """Say how many integration tests ran on each backend."""
    import re
    from collections import Counter

    counts = Counter()
    for outcome in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            match = re.search(r"\[(mysql|postgresql)[\]-]", getattr(report, "nodeid", ""))
            if match and getattr(report, "when", "call") in ("call", "setup"):
                counts[(match.group(1), outcome)] += 1
    if counts:
        terminalreporter.write_sep("-", "integration tests per backend")
        for backend in sorted({b for b, _ in counts}):
            terminalreporter.write_line(
                f"{backend}: " + ", ".join(f"{counts[(backend, o)]} {o}" for o in ("passed", "failed", "error")))
