"""Ruff over the package, the tests and the source notebooks (ruff reads .ipynb natively)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support import ROOT


def test_ruff_is_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it is in the [test] extra)")
    proc = subprocess.run(
        [ruff, "check", "course", "tests", "source", "benchmarks"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean():
    """The typed boundaries (course/sandboxed/protocol.py and the modules using it) type-check."""
    mypy = shutil.which("mypy")
    if mypy is None:
        pytest.skip("mypy is not installed (it is in the [test] extra)")
    proc = subprocess.run([mypy, "course"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
