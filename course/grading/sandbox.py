"""The sandbox every student notebook runs in: bubblewrap (``bwrap``) plus resource limits.

Inside the sandbox a process sees

- read-only: the system libraries (``/usr``), the folders of the Python installation running
  the grader (its prefixes and site-packages, wherever they are: a venv inside the course root
  or under ``/tmp``, a user or pipx install, the system's) and the installed ``course`` package
  (for an editable install, only ``<checkout>/course``);
- a private ``/tmp`` (size-capped tmpfs) and private ``/dev``, ``/proc``;
- writable: the student's own working copy, and nothing else (``/`` is remounted read-only);
- no network (``--unshare-net``), its own PID/IPC/UTS namespaces, no capabilities, a new
  session, and it dies with the grader (``--die-with-parent``).

Not visible: the course root (``source/``, ``release/``, the gradebook), other students' files,
the instructor's home. Only the installation's own folders are bound, never the folders around
them; if an installation folder contains the course root, the root is masked with an empty
tmpfs. Memory (address space), file size and core dumps are capped with ``setrlimit`` by the
process itself before it runs anything; the wall time of each cell and of the whole notebook is
enforced from outside by killing the sandbox.

The sandboxed Python starts isolated (``-I``: no ``PYTHONPATH``, no user site, no current
folder) and a two-line bootstrap adds exactly the grader's installation folders to its import
path (:func:`import_paths`), so every layout imports the same packages as the grader.

``--no-sandbox`` runs the same processes without bwrap (limits still apply, isolation does not).
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import course
from course.errors import CourseError, SandboxUnavailable

GiB = 1024**3
MiB = 1024**2
#: Where the student's working copy appears inside the sandbox (``HOME`` is /tmp/home).
HOME_INSIDE = "/tmp/home"
FILES_INSIDE = "/grader/files"

INSTALL_HINT = (
    "bubblewrap (`bwrap`) is needed to grade student code safely but was not found or does not "
    "work here. Install it (Debian/Ubuntu: `apt-get install bubblewrap`; `.ci/run` does this), "
    "or pass --no-sandbox to run student code WITHOUT isolation (only for code you trust). "
    "`course doctor` checks the sandbox."
)


@dataclass(frozen=True)
class Limits:
    memory: int = 2 * GiB  # address space per sandboxed process tree member
    cell_timeout: float = 60.0  # seconds per cell (the cell is interrupted, the rest runs)
    notebook_timeout: float = 600.0  # seconds per notebook (the sandbox is killed)
    file_size: int = 512 * MiB  # largest file a notebook may write
    tmp_size: int = 512 * MiB  # size of the private /tmp
    messages: int = 160 * MiB  # total bytes a notebook may send back to the grader
    snapshot_bytes: int = 64 * MiB  # answer values carried over to the tests, per notebook
    notebook_bytes: int = 100 * MiB  # largest submitted notebook file read (inside the sandbox)
    intake_bytes: int = 16 * MiB  # largest notebook without outputs the grader reads back
    startup_timeout: float = 180.0  # seconds for the interpreter to start (slow, busy machines)


def parse_size(text: str) -> int:
    """``"2G"``, ``"512M"``, ``"1.5GiB"`` or a number of bytes.

    >>> parse_size("2G"), parse_size("512m"), parse_size(str(2**30))
    (2147483648, 536870912, 1073741824)
    """
    raw = text.strip().lower().removesuffix("ib").removesuffix("b")
    units = {"k": 1024, "m": MiB, "g": GiB, "t": 1024 * GiB}
    factor = 1
    if raw and raw[-1] in units:
        factor = units[raw[-1]]
        raw = raw[:-1]
    try:
        value = float(raw) * factor
    except ValueError as exc:
        raise CourseError(f"Not a size: {text!r} (use e.g. 2G or 512M)") from exc
    if value < 256 * MiB:
        raise CourseError(f"Memory limit {text!r} is too small to start Python (use at least 256M).")
    return int(value)


def _is_within(path: Path, other: Path) -> bool:
    try:
        path.relative_to(other)
        return True
    except ValueError:
        return False


def course_package_dir() -> Path:
    return Path(course.__file__).resolve().parent


def freeze_package(dest: Path) -> tuple[Path, str]:
    """A copy of the course package as it is now, byte-compiled, and its digest.

    A batch runs its students' notebooks and its evaluator on this copy, so an edit to the
    installed package while the batch runs (an editable install in a checkout being worked on)
    cannot give one student's answers and their expected values from two versions of the code."""
    import compileall

    live = course_package_dir()
    try:
        compileall.compile_dir(str(live), quiet=2)  # fresh .pyc files travel with the copy
    except OSError:
        pass
    copy = dest / "course"
    shutil.copytree(live, copy, symlinks=False)
    compileall.compile_dir(str(copy), quiet=2)
    return copy, package_digest(copy)


def package_digest(folder: Path | None = None) -> str:
    """The digest :func:`freeze_package` gives a copy of ``folder`` (default: the live package)."""
    import hashlib

    folder = folder or course_package_dir()
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _site_dirs() -> list[str]:
    dirs = [*site.getsitepackages()]
    user = site.getusersitepackages()
    if user and site.ENABLE_USER_SITE:
        dirs.append(user)
    for key in ("purelib", "platlib"):
        dirs.append(sysconfig.get_paths()[key])
    dirs += [p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))]
    return list(dict.fromkeys(d for d in dirs if d))


def import_paths() -> list[str]:
    """Folders the sandboxed Python adds to its import path: the grader's site folders (their
    ``.pth`` files, editable installs' finders included, are processed) and the folder holding
    the ``course`` package (only the package itself is visible there)."""
    paths = [d for d in _site_dirs() if os.path.isdir(d)]
    pkg_parent = str(course_package_dir().parent)
    return [*paths, pkg_parent] if pkg_parent not in paths else paths


def python_paths(course_root: Path) -> list[Path]:
    """Folders of the Python installation to expose read-only (never the course root itself)."""
    root = course_root.resolve()
    candidates = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.exec_prefix),
                  Path(os.path.realpath(sys.executable)).parent.parent,
                  Path(os.path.realpath(sys.executable)).parent, Path(sys.executable).parent}
    candidates |= {Path(p) for p in _site_dirs()}
    keep: list[Path] = []
    for cand in candidates:
        try:
            path = cand.resolve()
        except OSError:
            continue
        if not path.is_dir() or path == Path("/") or _is_within(path, Path("/usr")) or path == root:
            continue
        keep.append(path)
    keep.sort(key=lambda p: len(p.parts))
    outer: list[Path] = []
    for path in keep:
        if not any(_is_within(path, o) for o in outer):
            outer.append(path)
    return outer


BOOTSTRAP = ("import site, sys\n"
             "sys.path[:0] = {first!r}\n"
             "for p in {paths!r}:\n"
             "    p in sys.path or site.addsitedir(p)\n"
             "import runpy; runpy.run_module({module!r}, run_name='__main__', alter_sys=True)")


@dataclass
class Sandbox:
    """Builds the command lines for sandboxed grader processes."""

    course_root: Path
    enabled: bool = True
    limits: Limits = field(default_factory=Limits)
    hidden: list[Path] = field(default_factory=list)  # extra host paths that must stay invisible
    package: Path | None = None  # a frozen copy of the course package to run instead of the live one

    def __post_init__(self) -> None:
        self.course_root = self.course_root.resolve()
        self.bwrap = shutil.which("bwrap") if self.enabled else None
        if self.enabled:
            problem = bwrap_problem(self.bwrap)
            if problem:
                raise SandboxUnavailable(f"{INSTALL_HINT}\n({problem})")

    @property
    def python(self) -> str:
        return sys.executable

    def python_command(self, module: str) -> list[str]:
        """``python -I`` running ``module`` with the grader's installation on its import path
        (and, without the sandbox, the batch's frozen copy of the course package first)."""
        paths = import_paths()
        first = [str(self.package.parent)] if self.package is not None and not self.enabled else []
        return [self.python, "-I", "-c", BOOTSTRAP.format(first=first, paths=paths, module=module)]

    def _base(self) -> list[str]:
        assert self.bwrap is not None
        args = [self.bwrap, "--unshare-all", "--die-with-parent", "--new-session",
                "--unshare-user", "--uid", "1000", "--gid", "1000"]
        if os.geteuid() == 0:
            args += ["--cap-drop", "ALL"]
        args += ["--ro-bind", "/usr", "/usr"]
        for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            path = Path(name)
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), name]
            elif path.is_dir():
                args += ["--ro-bind", name, name]
        for name in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                     "/etc/alternatives", "/etc/fonts", "/etc/mime.types"):
            args += ["--ro-bind-try", name, name]
        # private /tmp, /dev, /proc first: bwrap applies mounts in order, and an installation or
        # a checkout under /tmp (a venv in /tmp, CI clones) must be bound on top of them
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--size", str(64 * MiB), "--tmpfs", "/dev/shm",
                 "--size", str(self.limits.tmp_size), "--tmpfs", "/tmp"]
        bound = python_paths(self.course_root)
        for path in bound:
            args += ["--ro-bind", str(path), str(path)]
        pkg = course_package_dir()
        if not any(_is_within(pkg, b) for b in bound):
            args += ["--ro-bind", str(pkg), str(pkg)]
        for secret in [self.course_root, *self.hidden]:
            if any(_is_within(secret, b) for b in [*bound, Path("/usr")]):
                args += ["--tmpfs", str(secret)]  # mask it: an installation folder holds it ...
                for inner in [*bound, pkg]:  # ... and bring back the installation inside it
                    if inner != secret and _is_within(inner, secret):
                        args += ["--ro-bind", str(inner), str(inner)]
        if self.package is not None:  # the batch's frozen copy, where the live package was
            args += ["--ro-bind", str(self.package), str(pkg)]
        return args

    def student_command(self, workdir: Path, assignment: str, module: str = "course.sandboxed.runner",
                        command: list[str] | None = None) -> tuple[list[str], str]:
        """Command running the phase-1 runner (or ``command``, e.g. the fork server's placeholder)
        with ``workdir`` as the only writable folder."""
        argv = command or self.python_command(module)
        if not self.enabled:
            return argv, str(workdir)
        inside = f"{HOME_INSIDE}/{assignment}"
        args = [*self._base(), "--bind", str(workdir), inside, "--remount-ro", "/", "--chdir", inside, *argv]
        return args, "/"

    def evaluator_command(self, files: Path | None, command: list[str] | None = None) -> tuple[list[str], str]:
        """Command running the evaluator fork server (or ``command``, the fork server's
        placeholder), with no writable host folder at all."""
        argv = command or self.python_command("course.sandboxed.evaluate")
        if not self.enabled:
            return argv, "/"
        args = self._base()
        if files is not None and files.is_dir():
            args += ["--ro-bind", str(files), FILES_INSIDE]
        args += ["--remount-ro", "/", "--chdir", "/tmp", *argv]
        return args, "/"

    def files_inside(self, files: Path | None) -> str | None:
        if files is None or not files.is_dir():
            return None
        return FILES_INSIDE if self.enabled else str(files)

    def env(self, extra: dict[str, str], home: str | None = None) -> dict[str, str]:
        """A clean environment: nothing from the grader's except locale, time zone and ``extra``."""
        home = home or (HOME_INSIDE if self.enabled else None)
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "PYTHONIOENCODING": "utf-8",
            "PYTHONNOUSERSITE": "1",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "NBGRADER_EXECUTION": "autograde",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "USER": "student",
            "LOGNAME": "student",
        }
        if home:
            env.update({"HOME": home, "IPYTHONDIR": f"{home}/.ipython", "MPLCONFIGDIR": f"{home}/.matplotlib",
                        "XDG_CACHE_HOME": f"{home}/.cache", "XDG_CONFIG_HOME": f"{home}/.config"})
        for key in ("TZ", "LC_ALL"):
            if key in os.environ:
                env[key] = os.environ[key]
        env.update(extra)
        return env


def start_hint(said: str) -> str:
    """What to do about a sandbox that did not start, from what it printed."""
    text = said.lower()
    if "execvp" in text or "no such file" in text:
        return ("the Python running the grader is not visible inside the sandbox; run `course doctor`, and "
                "report the layout (where Python and the course package are installed) if it persists")
    if "modulenotfounderror" in text or "no module named" in text:
        return ("the sandboxed Python cannot import the kit's packages; install the kit into the environment "
                "that runs `course` (e.g. `.venv/bin/pip install -e .`) and run `course doctor`")
    if "permission denied" in text or "operation not permitted" in text or "namespace" in text:
        return ("bubblewrap may not create namespaces here (containers often forbid it); run `course doctor`, "
                "or grade with --no-sandbox only for code you trust")
    if "memoryerror" in text or "cannot allocate" in text:
        return "the memory limit is too small to start Python; raise --memory"
    return "run `course doctor` on this machine for the sandbox's own diagnosis"


@functools.lru_cache(maxsize=4)
def bwrap_problem(bwrap: str | None) -> str | None:
    """Why bwrap cannot be used here (``None`` when it works)."""
    if not bwrap:
        return "bwrap not found on PATH"
    probe = [bwrap, "--unshare-all", "--die-with-parent", "--unshare-user", "--uid", "1000", "--gid", "1000",
             "--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/lib", "/lib64"):
        path = Path(name)
        if path.is_symlink():
            probe += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            probe += ["--ro-bind", name, name]
    probe += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "true"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if proc.returncode != 0:
        return f"bwrap cannot create a sandbox here: {proc.stderr.strip()[:300]}"
    return None


def probe(sandbox: Sandbox, timeout: float = 120.0) -> str | None:
    """Why the sandboxed Python cannot start here (``None`` when it can): runs a tiny module in
    the same sandbox a student gets, and returns what it printed, with what to do about it."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="course-probe-") as tmp:
        argv, cwd = sandbox.student_command(Path(tmp), "probe", module="course.sandboxed.probe")
        env = sandbox.env({}, home=None if sandbox.enabled else tmp)
        try:
            proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return f"the sandboxed Python did not start within {timeout:g} s (a very busy machine?)"
        except OSError as exc:
            return f"the sandbox could not be started: {exc}\nwhat to do: {start_hint(str(exc))}"
    if proc.returncode == 0 and "sandbox ok" in proc.stdout:
        return None
    said = (proc.stdout + proc.stderr).strip()[-600:] or f"exit code {proc.returncode}, nothing printed"
    return f"the sandboxed Python did not start: {said}\nwhat to do: {start_hint(said)}"
