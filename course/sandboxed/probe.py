"""The smallest sandboxed job: prove that the grader's Python starts and imports what it needs."""

from course.sandboxed.runner import without_slow_extras

with without_slow_extras():
    import nbformat  # noqa: F401  (the runner's first import)

print("sandbox ok")
