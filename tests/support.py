"""What the tests share (import this module; ``conftest.py`` only holds fixtures and hooks).

- ``ROOT`` / ``COURSE``: this checkout, as a course; ``ASSIGNMENTS`` (every assignment, the
  generated translations included), ``CASES`` (the English cases) and ``TRANSLATED`` (the
  assignments ``course build`` generates from a case and its catalogue, ``course.i18n``). The
  tests of a notebook as released (clean, sync, leaks, ``course check``, quotations) run on
  ``ASSIGNMENTS``; tests of the data and the grading run on ``CASES`` (a translation has the
  same code and data; ``tests/test_translation.py`` proves it and grades one of them).
- ``needs_sandbox``: a marker for tests that need bubblewrap. Without a usable bwrap they are
  skipped *with the reason*, except where ``COURSE_REQUIRE_SANDBOX=1`` (set by ``.ci/run``):
  then they fail, so CI can never pass without having graded anything in a sandbox.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from course.grading.sandbox import bwrap_problem
from course.i18n.release import is_generated
from course.layout import Course

ROOT = Path(__file__).resolve().parents[1]
COURSE = Course.load(ROOT)
ASSIGNMENTS = COURSE.assignments()
TRANSLATED = [a for a in ASSIGNMENTS if is_generated(a)]
CASES = [a for a in ASSIGNMENTS if a.startswith("case") and a not in TRANSLATED]
REQUIRE_SANDBOX_ENV = "COURSE_REQUIRE_SANDBOX"


def sandbox_problem() -> str | None:
    return bwrap_problem(shutil.which("bwrap"))


def required(env: str) -> bool:
    return os.environ.get(env, "").strip().lower() in {"1", "true", "yes", "on"}


def require_sandbox() -> None:
    """Skip (with the reason) or, where the sandbox is required, fail: bwrap is not usable."""
    problem = sandbox_problem()
    if problem is None:
        return
    message = f"bubblewrap is not usable here ({problem}); .ci/run installs it"
    if required(REQUIRE_SANDBOX_ENV):
        pytest.fail(f"{message}, and {REQUIRE_SANDBOX_ENV}=1 requires it", pytrace=False)
    pytest.skip(message)


def scratch_course(dest: Path) -> Course:
    """A copy of this course (config, source, release) at ``dest``."""
    return COURSE.copy_to(dest)


REQUIRE_BROWSER_ENV = "COURSE_REQUIRE_BROWSER"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium() -> Path:
    """Chromium for a browser test: skipped with the reason, or failed where it is required."""
    path = Path(os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium")
    if path.is_file() and os.access(path, os.X_OK):
        return path
    message = f"no Chromium at {path} (apt-get install chromium; .ci/run does)"
    if required(REQUIRE_BROWSER_ENV):
        pytest.fail(f"{message}, and {REQUIRE_BROWSER_ENV}=1 requires it", pytrace=False)
    pytest.skip(message)
