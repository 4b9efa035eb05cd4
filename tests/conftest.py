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


def pytest_collection_modifyitems(config, items):
    """One xdist group per test module, and one for the whole hub package (its PostgreSQL, hub
    and OS accounts exist once per run): a group runs whole on one worker, so module- and
    package-scoped fixtures are never built twice nor raced for."""
    for item in items:
        path = item.path.resolve()
        try:
            rel = path.relative_to(ROOT)
        except ValueError:
            rel = path
        group = "tests/hub" if rel.parts[:2] == ("tests", "hub") else rel.as_posix()
        item.add_marker(pytest.mark.xdist_group(group))
