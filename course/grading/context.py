"""The course as nbgrader sees it: its config, folders and gradebook, resolved against the root."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import MissingEntry
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from course.build import run_nbgrader
from course.coursedir import CourseError
from course.grading.plan import NotebookSpec, load_specs


@dataclass
class Course:
    root: Path
    config: Config
    coursedir: CourseDirectory

    @property
    def db_url(self) -> str:
        url = self.coursedir.db_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url[len(prefix):].startswith("/"):
            return prefix + str((self.root / url[len(prefix):]).resolve())
        return url

    @property
    def db_path(self) -> Path | None:
        url = self.db_url
        return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None

    def folder(self, step: str) -> Path:
        return self.root / getattr(self.coursedir, f"{step}_directory")

    def submitted(self, student: str, assignment: str) -> Path:
        return self.folder("submitted") / student / assignment

    def autograded(self, student: str, assignment: str) -> Path:
        return self.folder("autograded") / student / assignment

    def feedback(self, student: str, assignment: str) -> Path:
        return self.folder("feedback") / student / assignment

    def release(self, assignment: str) -> Path:
        return self.folder("release") / assignment

    def source(self, assignment: str) -> Path:
        return self.folder("source") / assignment

    def students(self, assignment: str) -> list[str]:
        """Students with a submission folder for ``assignment`` (nbgrader's layout)."""
        base = self.folder("submitted")
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / assignment).is_dir())

    @property
    def ignore(self) -> list[str]:
        return list(self.coursedir.ignore)


def load_course(root: Path) -> Course:
    root = root.resolve()
    config = Config()
    if (root / "nbgrader_config.py").is_file():
        config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    coursedir = CourseDirectory(config=config, root=str(root))
    return Course(root=root, config=config, coursedir=coursedir)


def ensure_assignment(course: Course, assignment: str) -> dict[str, NotebookSpec]:
    """The assignment's notebooks from the gradebook, creating them with nbgrader if needed."""
    order = course.release(assignment)
    if not order.is_dir():
        order = course.source(assignment)
    try:
        specs = load_specs(course.db_url, assignment, order)
    except MissingEntry:
        specs = {}
    if specs:
        return specs
    if not course.source(assignment).is_dir():
        raise CourseError(f"{assignment} is neither in the gradebook nor in source/: nothing to grade against.")
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        # the real release/ stays untouched; only the gradebook learns the assignment
        run_nbgrader(course.root, "generate_assignment", assignment, "--force", "--log-level=WARN",
                     f"--CourseDirectory.release_directory={tmp}")
    specs = load_specs(course.db_url, assignment, order)
    if not specs:
        raise CourseError(f"nbgrader generate_assignment {assignment} created no notebook in the gradebook.")
    return specs
