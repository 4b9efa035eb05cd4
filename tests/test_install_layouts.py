"""Issue 9: ``course grade`` works however the kit is installed, and the sandbox still hides the
course in every layout.

Each layout installs this checkout (without its dependencies, which every layout shares through
a ``.pth`` file pointing at the test run's own site-packages: installing pandas, JupyterLab and
nbgrader five times would cost minutes and prove nothing about the kit) and grades a reference
and a blank submission of one case with the layout's own ``course`` command, not activated
unless the layout says so. The reference submission also tries to read the course's
``source/`` and gradebook from inside the sandbox.

Layouts: a venv inside the course root (editable; run by path), a venv under /tmp (a regular
wheel install; activated), a user install (``pip install --user``, the base interpreter), a
pipx-style venv whose ``course`` is a link in a bin folder on PATH, and a checkout under /tmp.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from course import ipynb
from course.authoring import submissions
from course.gradebook import read_score
from course.layout import Course, notebooks
from tests.support import ROOT

pytestmark = pytest.mark.sandbox
CASE = "case03_pharma_hr"
CHECKOUT_FILES = ("pyproject.toml", "nbgrader_config.py", "README.md", "LICENSE")
SPY = """# can this notebook read the instructor's files?
import glob
for pattern in [{source!r}, {gradebook!r}, {venv_escape!r}]:
    for path in glob.glob(pattern) or [pattern]:
        try:
            open(path, 'rb').read(10)
            print('READ', path)
        except OSError as exc:
            print('blocked', type(exc).__name__)"""


def checkout(dest: Path) -> Path:
    """A copy of this checkout's tracked project files (what `git clone` would give)."""
    dest.mkdir(parents=True)
    for name in CHECKOUT_FILES:
        shutil.copy2(ROOT / name, dest / name)
    for folder in ("course", "source", "release"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def share_dependencies(site: Path, bindir: Path) -> None:
    """The shared dependencies on the layout's import path, and their tools where that layout's
    own installer would have put them (nbgrader runs `alembic` by name)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "zz_shared_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    bindir.mkdir(parents=True, exist_ok=True)
    (bindir / "alembic").symlink_to(Path(sysconfig.get_path("scripts")) / "alembic")


def run(argv, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=900, **kw)
    assert proc.returncode == 0, f"{argv[:4]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def venv_site(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def clean_env(**extra) -> dict[str, str]:
    """No trace of the test run's own venv: PATH is the system's, nothing else leaks in."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env["COURSE_VARIANTS"] = "off"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(checkout(out / "src"))])
    return next(out.glob("*.whl"))


def make_venv(path: Path) -> Path:
    run([sys._base_executable, "-m", "venv", "--without-pip", str(path)])
    share_dependencies(venv_site(path), path / "bin")
    return path


def pip_in(python: Path | str, *args: str, env=None) -> None:
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", *args], env=env)


def layout_venv_in_root(base: Path, wheel: Path):
    root = checkout(base / "course")
    venv = make_venv(root / ".venv")
    pip_in(venv / "bin" / "python", "-e", str(root))
    return root, [str(venv / "bin" / "course")], clean_env()


def layout_venv_in_tmp(base: Path, wheel: Path):
    root = checkout(base / "course")
    venv = make_venv(base / "v")
    pip_in(venv / "bin" / "python", str(wheel))
    return root, ["course"], clean_env(PATH=f"{venv}/bin:/usr/local/bin:/usr/bin:/bin", VIRTUAL_ENV=str(venv))


def layout_user_install(base: Path, wheel: Path):
    root = checkout(base / "course")
    userbase = base / "userbase"
    env = clean_env(PYTHONUSERBASE=str(userbase), PIP_BREAK_SYSTEM_PACKAGES="1")
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    share_dependencies(userbase / "lib" / f"python{py}" / "site-packages", userbase / "bin")
    run([sys._base_executable, "-m", "pip", "install", "-q", "--user", "--no-deps", str(wheel)], env=env)
    return root, [str(userbase / "bin" / "course")], env


def layout_pipx(base: Path, wheel: Path):
    root = checkout(base / "course")
    home = base / "home"
    venv = make_venv(home / ".local" / "share" / "pipx" / "venvs" / "bizcases-course")
    pip_in(venv / "bin" / "python", str(wheel))
    bindir = home / ".local" / "bin"
    bindir.mkdir(parents=True)
    (bindir / "course").symlink_to(venv / "bin" / "course")
    return root, ["course"], clean_env(HOME=str(home), PATH=f"{bindir}:/usr/local/bin:/usr/bin:/bin")


LAYOUTS = {"venv_inside_course_root": layout_venv_in_root, "venv_under_tmp": layout_venv_in_tmp,
           "user_install": layout_user_install, "pipx": layout_pipx}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_grading_works_in_every_installation_layout(layout, wheel, tmp_path):
    root, course_cmd, env = LAYOUTS[layout](tmp_path, wheel)
    course = Course.load(root)
    src = notebooks(course.source(CASE))[0]
    run([*course_cmd, "build", CASE, "--root", str(root)], env=env)  # stock nbgrader under the layout's own PATH
    release = ipynb.read(course.release(CASE) / src.name)
    reference = submissions.reference(ipynb.read(src), release)
    spy = SPY.format(source=str(course.source(CASE) / "*.ipynb"), gradebook=str(root / "gradebook.db"),
                     venv_escape=str(root / ".venv" / ".." / "source" / CASE / src.name))
    import nbformat

    reference.cells.insert(1, nbformat.v4.new_code_cell(spy))
    ipynb.write(reference, course.submitted("ref", CASE) / src.name)
    ipynb.write(release, course.submitted("blank", CASE) / src.name)
    proc = run([*course_cmd, "grade", CASE, "--root", str(root), "--jobs", "2"], env=env)
    ref, blank = read_score(course, CASE, "ref"), read_score(course, CASE, "blank")
    assert ref.auto == ref.max_auto > 0, proc.stdout[-3000:]
    assert blank.auto == 0
    graded = ipynb.read(course.autograded("ref", CASE) / src.name)
    out = json.dumps(graded.cells[1].outputs)
    assert "READ" not in out and out.count("blocked") == 3, out
