"""Every solution notebook passes all its tests; every student version fails only at the stubs."""

from __future__ import annotations

import pytest

from course.authoring import check as execute
from course.layout import notebooks
from tests.support import ASSIGNMENTS, ROOT


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_notebook_passes(name):
    for path in notebooks(ROOT / "source" / name):
        result = execute.check_notebook(path, release=False)
        assert [str(p) for p in result.problems] == []


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_notebook_fails_only_at_stubs(name):
    for path in notebooks(ROOT / "release" / name):
        result = execute.check_notebook(path, release=True, source=ROOT / "source" / name / path.name)
        assert [str(p) for p in result.problems] == []
        failing_tests = [
            c for c in result.executed.cells
            if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.outputs)
        ]
        assert failing_tests, "an untouched student version should fail its checks"
