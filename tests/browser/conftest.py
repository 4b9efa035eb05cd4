"""Fixtures for the browser tests: one JupyterLab server and one Chromium per module, a fresh
browser context (and Lab workspace) per test.

Without Chromium the tests are skipped with a message saying so (``-ra`` lists it); they are
never skipped silently.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser import lab as labmod
from tests.browser import pages
from tests.support import ASSIGNMENTS, ROOT, TRANSLATED
from tests.support import CASES as ENGLISH_CASES

#: The cases the suite runs on: every English case and one translation (a translated notebook
#: has the same code and cells, ``tests/test_translation.py`` proves it; the browser adds what
#: only a browser shows: Chinese text, charts and checks drawn in JupyterLab). All six
#: translations double the suite's time for little more; ``COURSE_BROWSER_CASES`` runs others.
#: ``COURSE_BROWSER_CASES=case02_logistics,case03_pharma_hr`` narrows the run while developing.
CASES_ENV = "COURSE_BROWSER_CASES"
CASES = (ENGLISH_CASES + TRANSLATED[:1]) if ENGLISH_CASES else ASSIGNMENTS
if os.environ.get(CASES_ENV, "").strip():
    CASES = [a.strip() for a in os.environ[CASES_ENV].split(",") if a.strip()]

#: Set to 1 where Chromium must be present (CI that could install it): a missing Chromium then
#: fails the browser tests instead of skipping them.
REQUIRE_ENV = "COURSE_REQUIRE_BROWSER"
#: Set to 1 to (re)write the README screenshots under docs/ from this run.
SCREENSHOTS_ENV = "COURSE_UPDATE_SCREENSHOTS"
SCREENSHOT_SIZE = {"width": 1200, "height": 800}


@dataclass
class Lab:
    session: labmod.Session
    server: labmod.LabServer
    release_errors: dict[str, str]

    def require_released(self, assignment: str) -> None:
        error = self.release_errors.get(assignment)
        if error is None:
            pytest.fail(f"{assignment} was not released")
        if error:
            pytest.fail(f"nbgrader could not release {assignment}:\n{error}")


@pytest.fixture(scope="module")
def chromium() -> Path:
    path = labmod.chromium_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        message = (
            f"browser tests skipped: no Chromium at {path}. Install Debian's chromium "
            f"(`apt-get install chromium`, which .ci/run does) or set {labmod.CHROMIUM_ENV} "
            "to a Chromium executable."
        )
        if os.environ.get(REQUIRE_ENV, "").strip() in {"1", "true", "yes"}:
            pytest.fail(message.replace("skipped", f"required ({REQUIRE_ENV}=1)"), pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def lab(chromium, tmp_path_factory) -> Iterator[Lab]:
    session = labmod.make_session(ROOT, tmp_path_factory.mktemp("browser"))
    errors = labmod.release(session, CASES)
    server = labmod.LabServer(session)
    try:
        server.wait_ready()
        yield Lab(session, server, errors)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(chromium) -> Iterator[Browser]:
    expect.set_options(timeout=pages.STEP_MS)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(chromium), args=labmod.CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def new_page(request, lab: Lab, browser: Browser, tmp_path_factory) -> Iterator[Callable[..., Page]]:
    """``new_page(path=None)``: JupyterLab in a fresh browser context and workspace."""
    context = browser.new_context(viewport=SCREENSHOT_SIZE)
    context.set_default_timeout(pages.STEP_MS)
    page_errors: list[str] = []
    opened: list[Page] = []
    workspace = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")

    def open_page(path: str | None = None) -> Page:
        page = context.new_page()
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        pages.open_lab(page, lab.server.url(f"{workspace}-{len(opened)}", path))
        opened.append(page)
        return page

    yield open_page
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed and opened:
        shot = tmp_path_factory.getbasetemp() / "browser-failures"
        shot.mkdir(exist_ok=True)
        target = shot / f"{workspace}.png"
        opened[-1].screenshot(path=str(target))
        print(f"\nscreenshot of the failure: {target}\nJupyterLab log: {lab.session.log}")
        if page_errors:
            print("JavaScript errors on the page:\n  " + "\n  ".join(page_errors))
    context.close()
    lab.server.shutdown_kernels()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def save_screenshot(page: Page, name: str, height: int | None = None) -> Path | None:
    """Write docs/<name> (a small, palette-optimised PNG of the window, or of its top
    ``height`` pixels) when COURSE_UPDATE_SCREENSHOTS=1."""
    if os.environ.get(SCREENSHOTS_ENV, "").strip() not in {"1", "true", "yes"}:
        return None
    from PIL import Image

    target = ROOT / "docs" / name
    raw = target.with_suffix(".raw.png")
    clip = {"x": 0, "y": 0, "width": SCREENSHOT_SIZE["width"], "height": height} if height else None
    page.screenshot(path=str(raw), clip=clip)
    with Image.open(raw) as image:
        small = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        small.save(target, optimize=True)
    raw.unlink()
    return target
