"""The one course model: where everything is, read from nbgrader's own configuration.

The repository root is the nbgrader course root. :class:`Course` loads ``nbgrader_config.py``
there (exactly as stock ``nbgrader`` commands do) and answers every "where is…" question of the
kit: the source, release, submitted, autograded and feedback folders, the gradebook URL
(SQLite by default, PostgreSQL on a hub), the ignore patterns and the region markers. Settings
that are the kit's own live in ``[tool.course]`` of ``pyproject.toml`` (:class:`Settings`).

>>> course = Course.load(Path(__file__).resolve().parents[1])
>>> course.source("case02_logistics").name, course.folder("autograded").name
('case02_logistics', 'autograde')
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from course.errors import CourseError

if TYPE_CHECKING:  # nbgrader is imported where a course is loaded, not with this module, so
    # ``course grade`` can start its fork server before paying for nbgrader's imports
    from nbgrader.coursedir import CourseDirectory

    from course.cells import Markers

Step = Literal["source", "release", "submitted", "autograded", "feedback"]
CONFIG_FILE = "nbgrader_config.py"


def tools_on_path() -> None:
    """Put this installation's script folders (the interpreter's ``bin``; for a user install,
    the user's) first on ``PATH`` where they are missing.

    nbgrader runs ``alembic`` (and the kit runs ``nbgrader``/``jupyter``) by name; a venv's
    ``course`` run by its path, without activating the venv, would otherwise not find them.
    """
    import site
    import sysconfig

    wanted = [str(Path(sys.executable).parent), sysconfig.get_path("scripts")]
    if site.ENABLE_USER_SITE:  # `pip install --user`: the scripts are in ~/.local/bin
        wanted.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    missing = [w for w in dict.fromkeys(wanted) if w and w not in parts and os.path.isdir(w)]
    if missing:
        os.environ["PATH"] = os.pathsep.join([*missing, *parts])


@dataclass(frozen=True)
class Settings:
    """The kit's own settings, ``[tool.course]`` of the course root's ``pyproject.toml``."""

    release_files: dict[str, list[str]] = field(default_factory=dict)
    raw: dict = field(default_factory=dict)

    @classmethod
    def read(cls, root: Path) -> Settings:
        path = root / "pyproject.toml"
        if not path.is_file():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("course", {})
        except tomllib.TOMLDecodeError as exc:
            raise CourseError(f"{path}: not valid TOML ({exc})") from exc
        files = {str(k): [str(p) for p in v] for k, v in data.get("release-files", {}).items()}
        return cls(release_files=files, raw=data)


@dataclass(frozen=True, eq=False)
class Course:
    root: Path
    config: Config
    coursedir: CourseDirectory
    settings: Settings

    # ---- loading -----------------------------------------------------------------------

    @classmethod
    def load(cls, root: Path) -> Course:
        """The course at ``root`` (which must hold ``nbgrader_config.py``)."""
        tools_on_path()
        root = root.resolve()
        config = Config()
        if (root / CONFIG_FILE).is_file():
            try:
                config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
            except Exception as exc:  # a syntax error in the instructor's config
                raise CourseError(f"{root / CONFIG_FILE} could not be loaded: {type(exc).__name__}: {exc}") from exc
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=config, root=str(root))
        return cls(root, config, coursedir, Settings.read(root))

    @classmethod
    def find(cls, start: Path | None = None) -> Course:
        """The course whose root is at or above ``start`` (default: the current folder)."""
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if (candidate / CONFIG_FILE).is_file():
                course = cls.load(candidate)
                if course.folder("source").is_dir():
                    return course
        raise CourseError(
            f"No course root found at or above {here}: expected a folder with {CONFIG_FILE} "
            "and its source folder. Run the command from the course repository, or pass --root."
        )

    # ---- folders -----------------------------------------------------------------------

    @property
    def course_id(self) -> str:
        return str(self.coursedir.course_id or "")

    def folder(self, step: Step) -> Path:
        return self.root / str(getattr(self.coursedir, f"{step}_directory"))

    def source(self, assignment: str) -> Path:
        return self.folder("source") / assignment

    def release(self, assignment: str) -> Path:
        return self.folder("release") / assignment

    def submitted(self, student: str, assignment: str) -> Path:
        return self.folder("submitted") / student / assignment

    def autograded(self, student: str, assignment: str) -> Path:
        return self.folder("autograded") / student / assignment

    def feedback(self, student: str, assignment: str) -> Path:
        return self.folder("feedback") / student / assignment

    @property
    def ignore(self) -> list[str]:
        return list(self.coursedir.ignore)

    @cached_property
    def markers(self) -> Markers:
        from course.cells import Markers

        return Markers.from_config(self.config)

    # ---- the gradebook -----------------------------------------------------------------

    @property
    def db_url(self) -> str:
        """nbgrader's ``db_url``, with a relative SQLite path made absolute against the root."""
        url = str(self.coursedir.db_url)
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url[len(prefix):].startswith("/"):
            return prefix + str((self.root / url[len(prefix):]).resolve())
        return url

    @property
    def db_path(self) -> Path | None:
        """The SQLite file of the gradebook, or ``None`` for a database server."""
        url = self.db_url
        return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None

    # ---- assignments and students --------------------------------------------------------

    def assignments(self) -> list[str]:
        """Assignment ids: the folders under the source folder, sorted."""
        src = self.folder("source")
        if not src.is_dir():
            return []
        return sorted(p.name for p in src.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))

    def select(self, names: list[str] | None) -> list[str]:
        """The named assignments (all when none is named); unknown names are an error."""
        known = self.assignments()
        if not names:
            return known
        unknown = [n for n in names if n not in known]
        if unknown:
            raise CourseError(f"Unknown assignment(s): {', '.join(unknown)}. Known: {', '.join(known)}")
        return list(names)

    def students(self, assignment: str) -> list[str]:
        """Students with a submission folder for ``assignment`` (nbgrader's layout)."""
        base = self.folder("submitted")
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / assignment).is_dir())

    def release_file_patterns(self, assignment: str) -> list[str]:
        """Glob patterns of non-notebook files an assignment may release (``[tool.course.release-files]``)."""
        return list(self.settings.release_files.get(assignment, []))

    # ---- stock nbgrader ------------------------------------------------------------------

    def run_nbgrader(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run a stock nbgrader command in the course root; raise with its log on failure."""
        tools_on_path()
        proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=self.root, capture_output=True,
                              text=True, check=False, env=env)
        if proc.returncode != 0:
            log = (proc.stdout + proc.stderr).strip()
            raise CourseError(f"`nbgrader {' '.join(args)}` failed:\n{log[-4000:]}")
        return proc

    # ---- scratch copies ------------------------------------------------------------------

    def copy_to(self, dest: Path) -> Course:
        """Copy what defines the course (config, source and release folders) into ``dest``."""
        dest.mkdir(parents=True, exist_ok=True)
        for name in (CONFIG_FILE, "pyproject.toml"):
            if (self.root / name).is_file():
                shutil.copy2(self.root / name, dest / name)
        ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        for step in ("source", "release"):
            here = self.folder(step)
            if here.is_dir():
                shutil.copytree(here, dest / here.relative_to(self.root), ignore=ignore, dirs_exist_ok=True)
        copy = Course.load(dest)
        copy.folder("autograded").mkdir(parents=True, exist_ok=True)
        return copy


def notebooks(folder: Path) -> list[Path]:
    """The notebooks directly inside an assignment folder, sorted (checkpoints excluded)."""
    return sorted(p for p in folder.glob("*.ipynb") if p.is_file())
