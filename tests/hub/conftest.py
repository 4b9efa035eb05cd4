"""One real hub for the whole ``tests/hub`` run: PostgreSQL, JupyterHub with its proxy, real OS
accounts (an instructor, two students, one account outside the course, the grader), all on
loopback, all removed afterwards.

The hub tests need root (accounts, setuid spawning), Debian's ``postgresql``, the proxy from
``npm ci --prefix deploy`` and Chromium. Without them they are skipped with a message saying
what is missing; with ``COURSE_REQUIRE_HUB=1`` (CI) they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.browser import lab as labmod
from tests.browser import pages
from tests.hub import services

REQUIRE_ENV = "COURSE_REQUIRE_HUB"
KEEP_ENV = "COURSE_KEEP_HUB"  # 1: leave the run's folder (logs, exchange) in /tmp for a look


def _missing() -> list[str]:
    missing = []
    if os.geteuid() != 0:
        missing.append("root (accounts and setuid spawning)")
    if not sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        missing.append("PostgreSQL (apt-get install postgresql)")
    if not os.access(services.PROXY, os.X_OK):
        missing.append(f"configurable-http-proxy at {services.PROXY} (npm ci --prefix deploy)")
    chromium = labmod.chromium_path()
    if not os.access(chromium, os.X_OK):
        missing.append(f"Chromium at {chromium}")
    for tool in ("useradd", "runuser", "chpasswd", "bwrap"):
        if shutil.which(tool) is None:
            missing.append(tool)
    return missing


@pytest.fixture(scope="package")  # package: torn down after tests/hub, so no hub and no Playwright loop outlive it
def deployment() -> Iterator[services.Deployment]:
    missing = _missing()
    if missing:
        message = "hub tests need " + ", ".join(missing)
        if os.environ.get(REQUIRE_ENV, "").strip() in {"1", "true", "yes"}:
            pytest.fail(f"{message} ({REQUIRE_ENV}=1)", pytrace=False)
        pytest.skip(message)
    dep = services.deploy()
    try:
        dep.hub.start()
        yield dep
    finally:
        keep = os.environ.get(KEEP_ENV, "").strip() in {"1", "true", "yes"}
        if keep:
            print(f"\nhub run kept in {dep.base} (jupyterhub.log, postgres.log, exchange/)")
        services.teardown(dep, keep=keep)


@pytest.fixture(scope="package")
def browser(deployment) -> Iterator[Browser]:
    expect.set_options(timeout=pages.STEP_MS)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(labmod.chromium_path()), args=labmod.CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


class People:
    """One logged-in browser context per account, kept for the session (as people would)."""

    def __init__(self, browser: Browser, dep: services.Deployment, shots: Path):
        self.browser, self.dep, self.shots = browser, dep, shots
        self.contexts: dict[str, BrowserContext] = {}
        self.errors: dict[str, list[str]] = {}

    def login(self, user: str) -> Page:
        """A page of ``user`` after logging in on the hub's login form (their server starts)."""
        if user not in self.contexts:
            context = self.browser.new_context(viewport={"width": 1200, "height": 800})
            context.set_default_timeout(pages.STEP_MS)
            self.contexts[user] = context
            page = context.new_page()
            page.goto(f"{self.dep.hub.url}/hub/login")
            page.fill("#username_input", user)
            page.fill("#password_input", self.dep.passwords[user])
            page.click("#login_submit")
            page.wait_for_url("**/lab**", timeout=pages.STEP_MS)
            page.close()
        page = self.contexts[user].new_page()
        self.errors.setdefault(user, [])
        page.on("pageerror", lambda exc: self.errors[user].append(str(exc)))
        return page

    def lab(self, user: str) -> Page:
        page = self.login(user)
        pages.open_lab(page, f"{self.dep.hub.url}/user/{user}/lab")
        return page

    def formgrader_lab(self, user: str) -> Page:
        page = self.login(user)
        pages.open_lab(page, f"{self.dep.hub.url}/services/{services.COURSE_ID}/lab")
        return page

    def shoot(self, page: Page, name: str) -> Path:
        self.shots.mkdir(parents=True, exist_ok=True)
        target = self.shots / f"{name}.png"
        page.screenshot(path=str(target))
        return target

    def close(self) -> None:
        for context in self.contexts.values():
            context.close()


@pytest.fixture(scope="package")
def people(browser, deployment, tmp_path_factory) -> Iterator[People]:
    crowd = People(browser, deployment, tmp_path_factory.getbasetemp() / "hub-screens")
    try:
        yield crowd
    finally:
        crowd.close()
