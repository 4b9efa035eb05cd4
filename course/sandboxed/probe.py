"""The smallest sandboxed job: prove that the grader's Python starts and imports what it needs."""

import nbformat  # noqa: F401  (the runner's first import)

import course.sandboxed.runner  # noqa: F401

print("sandbox ok")
