"""Where the grading work runs, beyond one machine: a Dask distributed cluster.

:class:`DaskPool` has the shape of :class:`course.grading.pool.LocalPool`
(``run(students) -> Iterator[StudentOutcome]``) and sends each submission to a Dask scheduler
as one **self-contained task** (:func:`grade_files`): no shared filesystem is assumed.

What travels with a task:

- the :class:`Bundle` of the assignment (sent once per worker, it is the same for the class):
  the instructor's trusted cells from the gradebook (:mod:`.specs`), nbgrader's configuration,
  the released data files as bytes, the limits and the variant switch;
- the submission as bytes (:func:`pack`): copied from the submission folder by the grader's
  file rule (:func:`course.grading.intake.copy_tree`: regular files only, no links followed,
  capped), with the links and special files it held named so the worker can put them back as
  dangling links and report them exactly as the local grader does.

On the worker the task builds a scratch course from those bytes, runs the same pipeline
(:func:`course.grading.pipeline.grade_student`) in the worker's own bubblewrap sandbox (each
worker thread keeps one evaluator per assignment, like a local worker thread) and returns the
:class:`~course.grading.outcomes.StudentOutcome`, autograded notebooks included. Only the
coordinator writes the gradebook (:mod:`.recording`, from the batch or the service).

Faults: a worker that dies in the middle of a task is noticed by the scheduler, which runs the
task again on another worker (Dask's ``allowed-failures``); the coordinator takes one result per
submission, so each is recorded once. A scheduler that goes away raises
:class:`~course.errors.SchedulerUnavailable` with the submissions still waiting; what had come
back before is kept.

``dask[distributed]`` is the ``scale`` extra (``pip install "bizcases-course[scale]"``); this
module imports it only when a pool is used, so the kit works without it.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import pickle
import shutil
import stat
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from course import variants
from course.errors import CourseError, SchedulerUnavailable
from course.grading import intake
from course.grading.cgroups import Cgroups
from course.grading.outcomes import NotebookOutcome, StudentOutcome
from course.grading.pipeline import Job, grade_student
from course.grading.pool import warmup_sources
from course.grading.process import Evaluator
from course.grading.sandbox import Limits, Sandbox, freeze_package, package_digest, probe
from course.grading.specs import NotebookSpec
from course.layout import Course, Settings

#: Evaluators a worker thread keeps warm (one per assignment it graded recently).
KEEP_EVALUATORS = 3


# ---- what a task carries -----------------------------------------------------------------------


@dataclass(frozen=True)
class Bundle:
    """Everything about one assignment that every task of it needs (the trusted side)."""

    assignment: str
    config: Config
    specs: dict[str, NotebookSpec]
    release: dict[str, bytes]  # released non-notebook files, by relative path
    limits: Limits
    sandbox: bool
    variants: bool
    switch: str | None  # COURSE_VARIANTS as the coordinator sees it (the worker's may differ)
    package: str = ""  # digest of the coordinator's course package: a worker must run the same code
    digest: str = ""


def make_bundle(course: Course, assignment: str, specs: dict[str, NotebookSpec], limits: Limits,
                sandbox: bool = True, use_variants: bool = True) -> Bundle:
    release: dict[str, bytes] = {}
    folder = course.release(assignment)
    if folder.is_dir():
        with tempfile.TemporaryDirectory(prefix="course-bundle-") as tmp:
            copied, _ = intake.copy_tree(folder, Path(tmp), [*course.ignore, "*.ipynb"])
            release = {rel: (Path(tmp) / rel).read_bytes() for rel in copied}
    bundle = Bundle(assignment, course.config, specs, release, limits, sandbox, use_variants,
                    os.environ.get(variants.SWITCH_ENV), package_digest())
    digest = hashlib.sha256(pickle.dumps((assignment, sorted(release.items()), specs, limits, sandbox, use_variants,
                                          bundle.switch, bundle.package, repr(course.config)))).hexdigest()[:16]
    return Bundle(**{**bundle.__dict__, "digest": digest})


@dataclass
class Packed:
    """A submission folder as bytes (what :func:`grade_files` receives)."""

    files: dict[str, bytes] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)  # links, pipes, devices found (not followed)
    linked: bool = False  # the submission folder itself is (under) a link: graded 0 as locally

    @property
    def size(self) -> int:
        return sum(map(len, self.files.values()))


def pack(folder: Path, ignore: list[str], linked: bool = False) -> Packed:
    """The submission in ``folder`` by the grader's file rule (:mod:`course.grading.intake`)."""
    if linked or folder.is_symlink():
        return Packed(linked=True)
    packed = Packed()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        for name in [*dirnames, *filenames]:
            mode = (base / name).lstat().st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                packed.links.append((base / name).relative_to(folder).as_posix())
    with tempfile.TemporaryDirectory(prefix="course-pack-") as tmp:
        copied, _ = intake.copy_tree(folder, Path(tmp), ignore)
        packed.files = {rel: (Path(tmp) / rel).read_bytes() for rel in copied}
    return packed


def unpack(packed: Packed, dest: Path) -> None:
    """Write a packed submission into ``dest``; links come back dangling (never followed)."""
    dest.mkdir(parents=True, exist_ok=True)
    for rel, data in packed.files.items():
        target = dest / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for rel in packed.links:
        target = dest / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute() or os.path.lexists(target):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(dest / ".course-nothing-here", target)


# ---- the task (runs on a worker, or in a local thread of the grading service) -------------------


class _ShippedJob(Job):
    """A :class:`Job` whose variant switch is the coordinator's, not the worker's environment."""

    switch: str | None = None

    def env(self, student: str) -> dict[str, str]:
        extra = {variants.STUDENT_ENV: student}
        if not self.variants:
            extra[variants.SWITCH_ENV] = "off"
        elif self.switch is not None:
            extra[variants.SWITCH_ENV] = self.switch
        return extra


_thread = threading.local()
_process_lock = threading.Lock()
_process: dict[str, Any] = {}


def _frozen() -> tuple[Path, str]:
    """A frozen copy of the course package as installed now, and its digest (as a batch makes one:
    a notebook and its tests never run on two versions of the code). Made again when the
    installed package has changed; earlier copies stay for the evaluators that still use them."""
    live = package_digest()
    with _process_lock:
        found = _process.get("package")
        if found is None or found[1] != live:
            folder = Path(tempfile.mkdtemp(prefix="course-package-"))
            atexit.register(shutil.rmtree, folder, True)
            found = _process["package"] = freeze_package(folder)
        return found


def _process_state(bundle: Bundle) -> tuple[Path, Cgroups | None, str | None, Path]:
    """Per worker process: a scratch folder, the cgroups, whether the sandbox starts here, and the
    frozen course package this task runs on."""
    package, digest = _frozen()
    if bundle.package and digest != bundle.package:
        return Path(), None, (f"this worker's course package (digest {digest}) is not the coordinator's "
                              f"({bundle.package}): install the same version of the kit on every worker"), package
    with _process_lock:
        if "base" not in _process:
            _process["base"] = Path(tempfile.mkdtemp(prefix="course-worker-"))
            _process["cgroups"] = Cgroups() if bundle.sandbox else None
            _process["probe"] = {}

            def _cleanup() -> None:
                if _process.get("cgroups"):
                    _process["cgroups"].cleanup()
                shutil.rmtree(_process["base"], ignore_errors=True)

            atexit.register(_cleanup)
        probes: dict = _process["probe"]
        if bundle.sandbox not in probes:
            probes[bundle.sandbox] = probe(Sandbox(_process["base"], enabled=bundle.sandbox, limits=bundle.limits,
                                                   package=package))
        return _process["base"], _process["cgroups"] if bundle.sandbox else None, probes[bundle.sandbox], package


def _bundle_dir(base: Path, bundle: Bundle) -> tuple[Path, Path | None]:
    """The assignment's scratch folder on this worker and its private copy of the data files."""
    folder = base / f"bundle-{bundle.digest}"
    files = folder / "files"
    with _process_lock:
        if not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)
            files.mkdir(parents=True)
            unpack(Packed(files=bundle.release), files)
            (folder / ".complete").touch()
    return folder, (files if bundle.release else None)


def _evaluator(bundle: Bundle, folder: Path, files: Path | None, package: Path) -> Evaluator:
    """This thread's warm evaluator for the assignment (``--die-with-parent``: one per thread)."""
    cache: dict[str, Evaluator] = getattr(_thread, "evaluators", None) or {}
    _thread.evaluators = cache
    found = cache.pop(bundle.digest, None)
    if found is None:
        sandbox = Sandbox(folder, enabled=bundle.sandbox, limits=bundle.limits, package=package)
        job = Job(None, bundle.assignment, bundle.specs, sandbox, bundle.limits)  # type: ignore[arg-type]
        found = Evaluator(sandbox, files, bundle.limits, warmup_sources(job))
        try:
            found.start()
        except OSError:
            found.close()
    cache[bundle.digest] = found  # most recently used last
    while len(cache) > KEEP_EVALUATORS:
        cache.pop(next(iter(cache))).shutdown()
    return found


def scratch_course(root: Path, config: Config) -> Course:
    """A course at ``root`` with the coordinator's nbgrader configuration (nothing executed)."""
    coursedir = CourseDirectory(config=config, root=str(root))
    return Course(root, config, coursedir, Settings())


def failed(bundle: Bundle, student: str, cause: str) -> StudentOutcome:
    """An outcome saying the grader could not grade this submission (nothing is recorded)."""
    return StudentOutcome(student, [NotebookOutcome(name, "failed", {}, [
        f"{name}: NOT GRADED, grader failure (scores left unchanged): {cause}"]) for name in bundle.specs])


def grade_files(bundle: Bundle, student: str, packed: Packed) -> StudentOutcome:
    """Grade one packed submission with the pipeline of ``course grade`` (never raises)."""
    base, cgroups, problem, package = _process_state(bundle)
    if problem:
        import socket

        return failed(bundle, student, f"on {socket.gethostname()}: {problem}")
    folder, files = _bundle_dir(base, bundle)
    root = Path(tempfile.mkdtemp(prefix="task-", dir=base))
    try:
        course = scratch_course(root, bundle.config)
        unpack(Packed(files=bundle.release), course.release(bundle.assignment))
        submitted = course.submitted(student, bundle.assignment)
        if packed.linked:  # as locally: a submission folder that is a link is graded 0
            empty = root / "empty"
            empty.mkdir()
            submitted.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(empty, submitted)
        else:
            unpack(packed, submitted)
        sandbox = Sandbox(root, enabled=bundle.sandbox, limits=bundle.limits, hidden=[root], package=package)
        job = _ShippedJob(course, bundle.assignment, bundle.specs, sandbox, bundle.limits, bundle.variants,
                          files, cgroups)
        job.switch = bundle.switch
        return grade_student(job, student, _evaluator(bundle, folder, files, package))
    except Exception as exc:  # a worker-side failure (disk full, ...): the coordinator says so
        return failed(bundle, student, f"{type(exc).__name__}: {str(exc)[:400]}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---- the coordinator's side ----------------------------------------------------------------------


def configured_scheduler(course: Course, given: str | None = None) -> str | None:
    """The scheduler to use: ``given`` (``--scheduler``), else ``[tool.course] scheduler`` of the
    course's ``pyproject.toml``; ``None``: the local pool."""
    value = given if given else course.settings.raw.get("scheduler")
    if value in (None, ""):
        return None
    if not isinstance(value, str) or "://" not in value:
        raise CourseError(f"scheduler {value!r}: an address like tcp://host:8786")
    return value


def connect(address: str, timeout: float = 10.0):
    """A Dask client of the scheduler at ``address`` (``tcp://host:8786``), or a clear error."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise CourseError('grading on a Dask cluster needs dask.distributed: pip install "bizcases-course[scale]"') from exc
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnavailable(f"the Dask scheduler at {address} cannot be reached ({type(exc).__name__}: "
                                   f"{str(exc)[:200]}); start it (`dask scheduler`) or grade without --scheduler") from exc


def scheduler_lost(exc: BaseException) -> bool:
    """Whether ``exc`` means the scheduler (not the task) went away."""
    from concurrent.futures import CancelledError

    names = {type(e).__name__ for e in (exc, exc.__cause__, exc.__context__) if e is not None}
    return isinstance(exc, (CancelledError, OSError, TimeoutError)) or bool(
        names & {"CommClosedError", "FutureCancelledError", "CancelledError", "StreamClosedError"})


class DaskPool:
    """Grade on the Dask cluster whose scheduler is at ``scheduler`` (or through ``client``)."""

    def __init__(self, job: Job, scheduler: str | None = None, client: Any = None, timeout: float = 10.0) -> None:
        if scheduler is None and client is None:
            raise ValueError("DaskPool needs a scheduler address or a client")
        self.job = job
        self.scheduler = scheduler
        self.note = ""  # nothing to say: Dask workers start every runner fresh (no fork server)
        self._client = client
        self.timeout = timeout
        self.bundle = make_bundle(job.course, job.assignment, job.specs, job.limits, job.sandbox.enabled, job.variants)

    def run(self, students: Iterable[str]) -> Iterator[StudentOutcome]:
        """Grade ``students`` on the cluster; yield each outcome as it completes."""
        from distributed import as_completed

        own = self._client is None
        client = self._client or connect(str(self.scheduler), self.timeout)
        course, assignment = self.job.course, self.job.assignment
        try:
            shipped = client.scatter(self.bundle, broadcast=False, hash=False)
            futures = {}
            for student in students:
                folder = course.submitted(student, assignment)
                packed = pack(folder, course.ignore, intake.is_linked(folder, course.folder("submitted")))
                key = f"course-grade-{assignment}-{student}-{uuid.uuid4().hex[:8]}"
                futures[client.submit(grade_files, shipped, student, packed, key=key, pure=False)] = student
            waiting = dict(futures)
            for future in as_completed(list(futures), loop=client.loop):
                student = waiting.pop(future)
                try:
                    outcome = future.result(timeout=self.timeout + self.job.limits.notebook_timeout * 3)
                except Exception as exc:
                    if scheduler_lost(exc) or client.status not in ("running", "connecting"):
                        raise SchedulerUnavailable(
                            f"the Dask scheduler went away ({type(exc).__name__}); "
                            f"{len(waiting) + 1} submission(s) not graded: "
                            f"{', '.join(sorted([student, *waiting.values()])[:10])}") from exc
                    outcome = failed(self.bundle, student, f"on the cluster: {type(exc).__name__}: {str(exc)[:300]}")
                yield outcome
        except OSError as exc:
            raise SchedulerUnavailable(f"the Dask scheduler went away ({type(exc).__name__}: {exc})") from exc
        finally:
            if own:
                try:
                    client.close(timeout=5)
                except Exception:
                    pass
