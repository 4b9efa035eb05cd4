"""The messages between the grader and its sandboxed processes, as typed dictionaries.

Each message is one frame (:mod:`course.sandboxed.frames`): a JSON header, which is one of the
``TypedDict`` s below, and an optional raw payload. Everything a sandboxed process *sends* is
untrusted once student code has run in it: the grader validates every field it reads
(``course.grading.process``) and never parses a payload it does not need.

Phase 1, the runner (one sandbox per submitted notebook)::

    grader -> runner   stdin    RunnerHello          which notebook to read, limits
    runner -> grader   channel  Intake (+ payload)   the notebook's cells as plain JSON, or why not
    grader -> runner   stdin    RunJob               the cells to run, in the instructor's order
    runner -> grader   channel  Ready, then per cell Start, Snapshot (+ payload), CellDone; Done

Phase 2, the evaluator (one fork server per worker; never runs student code)::

    grader -> evaluator  EvaluatorHello, then per notebook EvalJob (+ payload: the snapshots)
    evaluator -> grader  EvaluatorReady, then per notebook EvalReply
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

CellRole = Literal["student", "locked", "test"]

#: A cell's limit counts CPU seconds (``ITIMER_PROF`` in the sandboxed process), so whether a
#: cell finishes does not depend on how busy the machine is; a cell that waits instead of
#: computing is stopped after this many times its limit in wall-clock time, and the grader kills
#: the sandbox a little after that (a cell that ignores its timers).
WALL_FACTOR = 3.0

#: Output dictionaries in nbformat's shape (stream, display_data, execute_result, error).
Output = dict[str, Any]


# ---- phase 1 -----------------------------------------------------------------------------


class RunnerHello(TypedDict):
    notebook: str  # file name inside the working folder
    max_intake: int  # bytes: the largest notebook the runner may send back
    max_file: int  # bytes: the largest notebook file it may read
    memory: int  # address-space limit for the process (bytes)
    file_size: int  # largest file the notebook may write (bytes)
    processes: int | None  # processes the sandbox may run at once (None: no cap)
    preload: list[str]  # modules to import before any student code
    channel: int  # the file descriptor to report on


class Intake(TypedDict):
    type: Literal["intake"]
    ok: bool
    error: str  # why the notebook could not be read ("" when ok); payload: the notebook JSON


class StudentCell(TypedDict):
    i: int  # index in the restored notebook
    role: CellRole
    source: str  # test cells arrive in their release form (no hidden tests)
    snap: list[str] | None  # names to export before the cell (trusted cells only)


class RunJob(TypedDict):
    cells: list[StudentCell]
    cell_timeout: float


class Ready(TypedDict):
    type: Literal["ready"]


class Start(TypedDict):
    type: Literal["start"]
    i: int


class Snapshot(TypedDict):
    type: Literal["snap"]
    i: int  # payload: values.encode_names(...) as JSON


class CellDone(TypedDict):
    type: Literal["cell"]
    i: int
    outputs: list[Output]
    count: int
    seconds: float
    truncated: bool


class Done(TypedDict):
    type: Literal["done"]


RunnerMessage = Intake | Ready | Start | Snapshot | CellDone | Done


# ---- phase 2 -----------------------------------------------------------------------------


class EvaluatorHello(TypedDict):
    memory: int
    preload: list[str]
    warmup: list[str]  # trusted cell sources run once on the default data, then forgotten
    cell_timeout: float


class EvaluatorReady(TypedDict):
    type: Literal["ready"]


class TrustedCell(TypedDict):
    i: int
    role: Literal["locked", "test"]
    source: str  # full source: hidden tests included
    inject: list[str]  # names the evaluator may take from the student's snapshot
    report: list[str]  # of those, the ones worth reporting when they could not be carried over


class EvalJob(TypedDict):
    id: NotRequired[int]  # set by the grader's Evaluator; the reply carries it back
    env: dict[str, str]  # COURSE_STUDENT_ID and the like
    cells: list[TrustedCell]
    snapshots: dict[str, list[int]]  # cell index -> [offset, length] in the payload
    cell_timeout: float
    deadline: float  # seconds for the whole job
    files_dir: str | None  # released data files, copied into the job's working folder
    work_dir: NotRequired[str]  # the job's working folder (created and removed by the server)
    not_reached: str  # message for tests the student's notebook never reached


class CellResult(TypedDict):
    outputs: list[Output]
    problems: dict[str, str]  # name -> why it could not be carried over


class EvalReply(TypedDict):
    id: NotRequired[int]
    cells: dict[str, CellResult]
    error: NotRequired[str]
    fatal: NotRequired[bool]
