"""Where things are in the course (the repository root is the nbgrader course root)."""

from __future__ import annotations

import tomllib
from pathlib import Path


class CourseError(Exception):
    """A problem the user can fix; the CLI prints its message without a traceback."""


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` that holds ``nbgrader_config.py``."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "nbgrader_config.py").is_file() and (candidate / "source").is_dir():
            return candidate
    raise CourseError(
        f"No course root found at or above {here}: expected a folder with nbgrader_config.py "
        "and source/. Run the command from the course repository."
    )


def assignments(root: Path) -> list[str]:
    """Assignment ids: the folders under ``source/``, sorted."""
    src = root / "source"
    return sorted(p.name for p in src.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def select(root: Path, names: list[str] | None) -> list[str]:
    """The named assignments (all when none is named); unknown names are an error."""
    known = assignments(root)
    if not names:
        return known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CourseError(f"Unknown assignment(s): {', '.join(unknown)}. Known: {', '.join(known)}")
    return list(names)


def notebooks(folder: Path) -> list[Path]:
    """The notebooks directly inside an assignment folder, sorted (checkpoints excluded)."""
    return sorted(p for p in folder.glob("*.ipynb") if p.is_file())


def release_file_patterns(root: Path, assignment: str) -> list[str]:
    """Glob patterns of non-notebook files an assignment may release (``pyproject.toml``)."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return []
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    table = data.get("tool", {}).get("course", {}).get("release-files", {})
    return list(table.get(assignment, []))


COURSE_FILES = ("nbgrader_config.py", "pyproject.toml")
COURSE_DIRS = ("source", "release")


def copy_course(root: Path, dest: Path) -> Path:
    """Copy what defines the course (config, source/, release/) into ``dest`` (a scratch root)."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for name in COURSE_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, dest / name)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    for name in COURSE_DIRS:
        if (root / name).is_dir():
            shutil.copytree(root / name, dest / name, ignore=ignore, dirs_exist_ok=True)
    (dest / "autograde").mkdir(exist_ok=True)
    return dest
