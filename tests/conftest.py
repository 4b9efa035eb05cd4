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


def pytest_xdist_make_scheduler(config, log):
    """Two workers (``-n 2`` in pyproject.toml), each given whole groups: one test module, or the
    whole hub package (its PostgreSQL, hub and OS accounts exist once per run). Module- and
    package-scoped fixtures are then never built twice nor raced for."""
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/hub" if path.startswith("tests/hub/") else path

    return ByModule(config, log)
