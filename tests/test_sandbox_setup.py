"""Without a usable sandbox, grading refuses with a clear message (these tests need no bwrap:
they describe exactly the machine that lacks it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from course.cli import app
from course.errors import SandboxUnavailable
from course.grading.sandbox import Sandbox, probe, python_paths, start_hint
from tests import grading_kit as kit
from tests.support import ROOT

A = kit.ASSIGNMENT


def test_missing_bwrap_is_refused_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="--no-sandbox"):
        Sandbox(tmp_path)
    assert Sandbox(tmp_path, enabled=False).student_command(tmp_path, A)[0][0].endswith(("python", "python3"))


def test_cli_grade_refuses_without_bwrap(monkeypatch, tmp_path):
    course = kit.make_course(tmp_path / "c")
    kit.submit(course, "ref", kit.reference(course))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = CliRunner().invoke(app, ["grade", A, "--root", str(course.root)])
    assert result.exit_code == 1
    assert "bubblewrap" in result.output and "--no-sandbox" in result.output
    assert not course.autograded("ref", A).exists()


def _built(root: Path) -> Sandbox:
    sandbox = Sandbox(root, enabled=False)
    sandbox.enabled, sandbox.bwrap = True, "/usr/bin/bwrap"  # build command lines without running them
    return sandbox


def test_sandbox_never_binds_the_course_root(tmp_path):
    argv, _ = _built(ROOT).student_command(tmp_path, A)
    binds = [Path(argv[i + 1]) for i, a in enumerate(argv) if a in ("--bind", "--ro-bind", "--ro-bind-try")]
    assert ROOT not in binds and ROOT / "source" not in binds
    assert not any(p != Path("/usr") and (p == ROOT or ROOT.is_relative_to(p)) for p in binds)
    assert "--unshare-all" in argv and "--die-with-parent" in argv


def test_an_installation_inside_the_course_root_is_bound_but_not_the_root(tmp_path, monkeypatch):
    """Issue 9: `python3 -m venv .venv` inside the checkout."""
    venv = tmp_path / "course" / ".venv"
    (venv / "lib").mkdir(parents=True)
    monkeypatch.setattr("sys.prefix", str(venv))
    paths = python_paths(tmp_path / "course")
    assert venv in paths and tmp_path / "course" not in paths


def test_binds_come_after_the_private_tmp(tmp_path):
    """Issue 9: a venv or a checkout under /tmp is bound on top of the sandbox's private /tmp."""
    argv, _ = _built(ROOT).student_command(tmp_path, A)
    tmpfs_tmp = next(i for i, a in enumerate(argv) if a == "--tmpfs" and argv[i + 1] == "/tmp")
    first_install = next(i for i, a in enumerate(argv) if a == "--ro-bind" and argv[i + 1] not in ("/usr", "/bin", "/lib", "/lib64", "/sbin"))
    assert tmpfs_tmp < first_install


@pytest.mark.parametrize("said, words", [
    ("bwrap: execvp /x/.venv/bin/python3: No such file or directory", "not visible inside the sandbox"),
    ("ModuleNotFoundError: No module named 'nbformat'", "cannot import"),
    ("bwrap: setting up uid map: Permission denied", "namespaces"),
])
def test_a_sandbox_that_cannot_start_says_what_to_do(said, words):
    assert words in start_hint(said)


def test_probe_reports_why_python_did_not_start(tmp_path, monkeypatch):
    sandbox = Sandbox(tmp_path, enabled=False)
    monkeypatch.setattr(type(sandbox), "python", property(lambda self: "/nonexistent/python3"))
    problem = probe(sandbox)
    assert problem is not None and "/nonexistent/python3" in problem and "not visible inside the sandbox" in problem


@pytest.mark.sandbox
def test_probe_reports_what_bwrap_printed(tmp_path, monkeypatch):
    """Issue 9: the batch stops once, naming bwrap's own error and what to do."""
    sandbox = Sandbox(tmp_path)
    assert probe(sandbox) is None
    monkeypatch.setattr(type(sandbox), "python", property(lambda self: "/nonexistent/python3"))
    problem = probe(sandbox)
    assert problem is not None and "execvp" in problem and "what to do" in problem
