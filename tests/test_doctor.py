"""``course doctor``: passes on this machine; names the failing row and its fix otherwise."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from course import doctor
from course.cli import app
from tests.support import scratch_course

runner = CliRunner()


def rows(output: str) -> str:
    return " ".join(output.split())


@pytest.mark.sandbox
def test_doctor_passes_here_with_a_real_grade(tmp_path):
    course = scratch_course(tmp_path / "c")
    result = runner.invoke(app, ["doctor", "--root", str(course.root)])
    assert result.exit_code == 0, result.output
    checks = {c.name: c for c in doctor.run(course.root)}
    assert all(c.status != "fail" for c in checks.values())
    assert "scored 1/1" in checks["end-to-end grade in the sandbox"].detail


def test_doctor_fails_without_bwrap_and_says_how_to_install_it(tmp_path, monkeypatch):
    course = scratch_course(tmp_path / "c")
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "bwrap" else real(name, *a, **k))
    result = runner.invoke(app, ["doctor", "--root", str(course.root)])
    assert result.exit_code == 1
    checks = {c.name: c for c in doctor.run(course.root)}
    sandbox = checks["sandbox (bubblewrap)"]
    assert sandbox.status == "fail" and "not found" in sandbox.detail and "apt-get install bubblewrap" in sandbox.fix
    assert checks["end-to-end grade in the sandbox"].status == "fail"  # not tried
    assert "grading would fail here" in rows(result.output)


def test_doctor_fails_when_the_gradebook_cannot_be_written(tmp_path):
    course = scratch_course(tmp_path / "c")
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text() + f"\nc.CourseDirectory.db_url = 'sqlite:///{tmp_path}/missing/dir/gradebook.db'\n")
    checks = {c.name: c for c in doctor.run(course.root)}
    book = checks["gradebook"]
    assert book.status == "fail" and "not writable" in book.detail and "db_url" in book.fix


def test_doctor_fails_outside_a_course(tmp_path):
    checks = {c.name: c for c in doctor.run(tmp_path)}
    root = checks["course root and nbgrader config"]
    assert root.status == "fail" and "No course root" in root.detail and "--root" in root.fix
    result = runner.invoke(app, ["doctor", "--root", str(tmp_path)])
    assert result.exit_code == 1 and "grading would fail here" in rows(result.output)
