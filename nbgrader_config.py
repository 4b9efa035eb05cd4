"""nbgrader configuration: the repository root is the course root.

Stock commands (``nbgrader generate_assignment``, ``autograde``, ``generate_feedback``,
``validate``, ``formgrader``) run here unchanged.
"""

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "bizcases"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograde"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# Never release editor debris or caches.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    ".DS_Store",
]

c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Locked and test cells are restored from the release if a student edits them (nbgrader's
# default); this also restores test cells a student deleted (off by default in nbgrader).
c.OverwriteCells.add_missing_cells = True

# Collect copies regular files only and never follows a link a student left in the exchange
# (course/exchange.py).
c.ExchangeFactory.collect = "course.exchange.SafeCollect"
# Release refuses an assignment whose release folder lost a notebook.
c.ExchangeFactory.release_assignment = "course.exchange.CheckedRelease"

# Generous per-cell limit for stock autograde; `course grade` sets its own limits.
c.Execute.timeout = 120
