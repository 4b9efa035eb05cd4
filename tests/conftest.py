from __future__ import annotations

from pathlib import Path

import pytest

from course.coursedir import assignments

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = assignments(ROOT)


def pytest_report_header(config):
    return f"course assignments: {', '.join(ASSIGNMENTS) or '(none)'}"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
