"""The `course` command: clear errors for bad input, and `course key` reproducing a student's key."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from course import ipynb as notebooks
from course.cli import app
from tests.support import ASSIGNMENTS, ROOT, scratch_course

runner = CliRunner()


def test_unknown_assignment_is_a_clear_error():
    result = runner.invoke(app, ["build", "no_such_case", "--root", str(ROOT)])
    assert result.exit_code == 1
    assert "Unknown assignment" in result.output and "no_such_case" in result.output


def test_no_course_root_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["check", "--root", str(tmp_path)])
    assert result.exit_code == 1 and "No course root" in result.output


def test_malformed_source_notebook_names_the_file(tmp_path):
    scratch = scratch_course(tmp_path / "course").root
    name = ASSIGNMENTS[0]
    bad = next((scratch / "source" / name).glob("*.ipynb"))
    bad.write_text("{ not json", encoding="utf-8")
    result = runner.invoke(app, ["build", name, "--root", str(scratch)])
    assert result.exit_code == 1
    assert bad.name in result.output and "not a valid notebook" in result.output


def test_key_prints_answers_and_saves_the_run(tmp_path):
    name = "case02_logistics" if "case02_logistics" in ASSIGNMENTS else ASSIGNMENTS[0]
    result = runner.invoke(app, ["key", name, "alice01", "--root", str(ROOT), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "alice01" in result.output
    saved = notebooks.read(tmp_path / "alice01" / name / f"{name}.ipynb")
    outputs = [o for c in saved.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs and not [o for o in outputs if o.get("output_type") == "error"]
    assert "alice01" in json.dumps([o.get("text", "") for o in outputs])  # the setup cell says whose data
