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
