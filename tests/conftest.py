"""Fixtures and hooks only; shared constants and helpers live in :mod:`tests.support`."""

from __future__ import annotations

import pytest

from tests.support import ASSIGNMENTS, COURSE, ROOT, require_sandbox


def pytest_report_header(config):
    return f"course assignments: {', '.join(ASSIGNMENTS) or '(none)'}"


def pytest_configure(config):
    config.addinivalue_line("markers", "sandbox: needs bubblewrap (fails instead of skipping where "
                                       "COURSE_REQUIRE_SANDBOX=1)")


def pytest_runtest_setup(item):
    if item.get_closest_marker("sandbox"):
        require_sandbox()


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def course():
    return COURSE
