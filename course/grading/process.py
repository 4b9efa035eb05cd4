"""The grader's side of the two sandboxed processes: start, feed, watch the clock, kill.

:class:`StudentSession` runs phase 1 for one notebook (intake, then the cells); every clock is
kept here, outside the student's process, and every report is accepted once and in order, so
nothing the student's code sends (forged frames on the channel included) can extend its own
time or replace what was already reported. :class:`Evaluator` keeps one phase-2 fork server
per worker. Everything read back from a sandbox is size-capped and validated.

What the grader holds per student is bounded: cell outputs :data:`OUTPUT_BUDGET`, answer
snapshots ``Limits.snapshot_bytes`` (passed on to the evaluator as raw bytes, never parsed
here), the notebook's cells ``Limits.intake_bytes``, terminal output :data:`DIAGNOSTIC_BYTES`.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course.grading.cgroups import Cgroups
from course.grading.forkserver import (
    FAILED_ENTRY,
    STUB,
    ForkServer,
    ForkServerUnavailable,
    Injected,
    launch,
)
from course.grading.sandbox import HOME_INSIDE, Limits, Sandbox
from course.sandboxed import frames
from course.sandboxed.protocol import (
    WALL_FACTOR,
    EvalJob,
    EvalReply,
    Output,
    RunnerHello,
    StudentCell,
)

#: Modules imported before the student's first cell / by the evaluator before any job.
#: ``module:function`` also calls a warm-up (see :func:`course.sandboxed.runner.preload`).
PRELOAD = ["nbformat", "numpy", "pandas", "plotly.graph_objects", "plotly.io", "plotly.express",
           "course.checks", "course.notebook", "course.variants", "course.plots:warm",
           "course.sandboxed.runner:warm", "course.sandboxed.shell:warm"]
#: The evaluator's: it runs test cells only (they read figures as JSON, never draw one).
EVALUATOR_PRELOAD = [m for m in PRELOAD if m not in ("course.plots:warm", "course.sandboxed.runner:warm")]
OUTPUT_BUDGET = 32 * 2**20  # cell outputs kept per notebook (the autograded copy stays readable)
MAX_HEADER = 24 * 2**20  # one report (a cell's outputs)
GRACE = 10.0  # seconds beyond a cell's own wall-clock allowance before the sandbox is killed
DIAGNOSTIC_BYTES = 64 * 1024
#: Processes one student's sandbox may run at once (its own user namespace counts them, so this
#: caps a fork bomb even where no cgroup is available).
MAX_PROCESSES = 128


@dataclass
class StudentRun:
    outputs: dict[int, list[Output]] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    snapshots: dict[int, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    completed: bool = False
    started: bool = False  # the runner came up (before any student code): else a grader failure
    seconds: float = 0.0
    stopped_at: int | None = None  # the cell running when the notebook stopped early
    truncated: list[int] = field(default_factory=list)  # cells whose output was cut
    terminal_bytes: int = 0  # written straight to file descriptors 1/2 (discarded)
    interfered: bool = False  # the notebook sent reports out of turn


def _valid_output(item: object) -> dict | None:
    if type(item) is not dict:
        return None
    kind = item.get("output_type")
    if kind == "stream":
        if item.get("name") in ("stdout", "stderr") and type(item.get("text")) is str:
            return {"output_type": kind, "name": item["name"], "text": item["text"]}
    elif kind in ("display_data", "execute_result"):
        data, meta = item.get("data"), item.get("metadata", {})
        if type(data) is dict and type(meta) is dict and all(type(k) is str for k in data):
            out = {"output_type": kind, "data": data, "metadata": meta}
            if kind == "execute_result":
                count = item.get("execution_count")
                out["execution_count"] = count if type(count) is int else None
            return out
    elif kind == "error":
        tb = item.get("traceback")
        if type(item.get("ename")) is str and type(item.get("evalue")) is str and type(tb) is list \
                and all(type(line) is str for line in tb):
            return {"output_type": kind, "ename": item["ename"], "evalue": item["evalue"], "traceback": tb}
    return None


def valid_outputs(raw: object) -> list:
    """Only well-formed nbformat outputs (a sandboxed process could send anything)."""
    import nbformat

    if type(raw) is not list:
        return []
    good = (_valid_output(item) for item in raw[:1000])
    return [nbformat.from_dict(o) for o in good if o is not None]


def _kill(proc: subprocess.Popen | Injected, sandboxed: bool) -> None:
    try:
        if sandboxed:
            proc.kill()  # bwrap: its PID namespace dies with it
        else:
            os.killpg(proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
    except (ProcessLookupError, PermissionError):
        pass


def _close_streams(proc: subprocess.Popen | Injected) -> None:
    for stream in (proc.stdin, proc.stdout):
        try:
            if stream:
                stream.close()
        except OSError:
            pass


class _Ended(Exception):
    """The channel closed or the clock ran out."""


class StudentSession:
    """One fresh sandbox for one submitted notebook: :meth:`intake`, then :meth:`run`."""

    def __init__(self, sandbox: Sandbox, workdir: Path, assignment: str, notebook: str, env: dict[str, str],
                 limits: Limits, cgroups: Cgroups | None = None, forkserver: ForkServer | None = None) -> None:
        self.sandbox, self.limits, self.cgroups = sandbox, limits, cgroups
        self.workdir, self.assignment, self.notebook, self.env = workdir, assignment, notebook, env
        self.start = time.monotonic()
        self.forkserver = forkserver if sandbox.enabled else None
        self._open(self.forkserver)

    def _open(self, forkserver: ForkServer | None) -> None:
        """Start the runner: forked from the fork server when it is ready, else a fresh Python."""
        sandbox, limits, cgroups = self.sandbox, self.limits, self.cgroups
        self.groups = cgroups.create(limits.memory + limits.tmp_size + 256 * 2**20) if cgroups else []
        read_fd, write_fd = os.pipe()
        proc: subprocess.Popen | Injected | None = None
        channel = write_fd
        if forkserver is not None and forkserver.wait_ready(min(60.0, limits.startup_timeout)):
            argv, _ = sandbox.student_command(self.workdir, self.assignment, command=list(STUB))
            try:
                proc = launch(forkserver, cgroups.launcher(self.groups, argv) if cgroups else argv, self.env,
                              f"{HOME_INSIDE}/{self.assignment}", [str(g) for g in self.groups], write_fd,
                              limits.startup_timeout)
                channel = 3
            except (ForkServerUnavailable, OSError):
                proc = None  # started the ordinary way below
        if proc is None:
            argv, cwd = sandbox.student_command(self.workdir, self.assignment)
            if cgroups and self.groups:
                argv = cgroups.launcher(self.groups, argv)
            proc = subprocess.Popen(argv, cwd=cwd, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, pass_fds=(write_fd,), start_new_session=True)
        self.proc: subprocess.Popen | Injected = proc
        self.injected = isinstance(proc, Injected)
        os.close(write_fd)
        self.channel = read_fd
        self.reader = frames.FrameReader(limit=limits.messages, max_header=MAX_HEADER,
                                         max_payload=limits.snapshot_bytes + limits.intake_bytes)
        self.sel = selectors.DefaultSelector()
        self.sel.register(read_fd, selectors.EVENT_READ, "channel")
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.sel.register(self.proc.stdout, selectors.EVENT_READ, "stdout")
        self.open_streams = 2
        self.diagnostics = bytearray()
        self.terminal_bytes = 0
        self.closed = False
        hello: RunnerHello = {"notebook": self.notebook, "max_intake": limits.intake_bytes,
                              "max_file": limits.notebook_bytes, "memory": limits.memory,
                              "file_size": limits.file_size, "preload": PRELOAD,
                              "processes": MAX_PROCESSES if sandbox.enabled else None, "channel": channel}
        self._send(dict(hello))

    # ---- plumbing ----------------------------------------------------------------------

    def _send(self, header: dict) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(frames.pack(header))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def _next(self, deadline: float) -> tuple[dict, bytes, int]:
        """The next frame from the channel and its size, or :class:`_Ended` (closed, or past ``deadline``)."""
        while not self.reader.frames:
            now = time.monotonic()
            if now >= deadline or not self.open_streams:
                raise _Ended()
            for key, _ in self.sel.select(timeout=min(1.0, deadline - now)):
                chunk = os.read(key.fd, 1 << 20 if key.data == "channel" else 1 << 16)
                if key.data == "stdout":
                    self.terminal_bytes += len(chunk)
                    if len(self.diagnostics) < DIAGNOSTIC_BYTES:
                        self.diagnostics += chunk[: DIAGNOSTIC_BYTES - len(self.diagnostics)]
                if not chunk:
                    self.sel.unregister(key.fd)
                    self.open_streams -= 1
                elif key.data == "channel":
                    self.reader.feed(chunk)  # raises FrameError on a flood
        header, payload = self.reader.frames.pop(0)
        return header, payload, self.reader.sizes.pop(0)

    def said(self) -> str:
        """What the sandboxed process (or bwrap) printed, for a grader-failure message."""
        return self.diagnostics.decode("utf-8", "replace").strip()[-600:]

    # ---- phase 1 -------------------------------------------------------------------------

    def intake(self) -> tuple[Any, str | None]:
        """The submitted notebook as JSON, or why it could not be read.

        Raises :class:`StartFailure` when the sandbox itself did not come up."""
        deadline = self.start + self.limits.startup_timeout
        try:
            header, payload, _ = self._next(deadline)
        except (_Ended, frames.FrameError) as exc:
            self.close()
            if self.injected and time.monotonic() < deadline:  # the fork server's runner failed to
                assert self.forkserver is not None  # enter its sandbox (nothing of the notebook ran)
                if self.proc.returncode == FAILED_ENTRY:  # (only its intermediate says so, before any runner)
                    self.forkserver.note_entry(False, self.said())
                self.diagnostics.clear()
                self._open(None)  # start afresh
                return self.intake()
            timed_out = isinstance(exc, _Ended) and time.monotonic() >= deadline
            raise StartFailure("timed out" if timed_out else f"exit code {self.proc.returncode}", self.said()) from None
        if self.injected and self.forkserver is not None:
            self.forkserver.note_entry(True)  # its first frame: the forked runner is in its sandbox
        if header.get("type") != "intake" or type(header.get("ok")) is not bool:
            self.close()
            raise StartFailure("it answered out of protocol", self.said())
        if not header["ok"]:
            self.close()
            error = header.get("error")
            return None, error if type(error) is str else "unreadable"
        try:
            return json.loads(payload), None
        except (ValueError, RecursionError) as exc:
            self.close()
            return None, f"unreadable ({type(exc).__name__})"

    def run(self, cells: list[StudentCell]) -> StudentRun:
        """Run ``cells``; each is reported once and in order, against clocks kept here."""
        result = StudentRun()
        limits = self.limits
        self._send({"cells": cells, "cell_timeout": limits.cell_timeout})
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except OSError:
            pass
        order = [c["i"] for c in cells]
        snap_names = {c["i"]: c["snap"] for c in cells if c["snap"] is not None}
        notebook_end = self.start + limits.notebook_timeout
        deadline = min(notebook_end, time.monotonic() + limits.startup_timeout)
        position = -1  # index in `order` of the cell that started last
        current: int | None = None  # that cell, while it runs
        kept_bytes = snap_bytes = 0
        try:
            while True:
                try:
                    header, payload, size = self._next(min(deadline, notebook_end))
                except _Ended:
                    now = time.monotonic()
                    if now >= notebook_end:
                        result.problems.append(f"the notebook ran longer than {limits.notebook_timeout:g} s; stopped")
                    elif now >= deadline and current is not None:
                        result.problems.append(f"a cell ignored the {limits.cell_timeout:g} s limit; notebook stopped")
                    elif now >= deadline:
                        result.problems.append("the grader's Python did not start in time" if not result.started
                                               else "the notebook stopped answering the grader; stopped")
                    break
                kind, i = header.get("type"), header.get("i")
                if kind == "ready" and not result.started and position == -1:
                    result.started = True
                    deadline = notebook_end
                elif kind == "start" and result.started and current is None and position + 1 < len(order) \
                        and i == order[position + 1]:
                    position += 1
                    current = i
                    deadline = min(notebook_end, time.monotonic() + limits.cell_timeout * WALL_FACTOR + GRACE)  # never extended
                elif kind == "snap" and current is not None and i == current and i in snap_names \
                        and i not in result.snapshots:
                    if snap_bytes + len(payload) > limits.snapshot_bytes:
                        payload = json.dumps({"values": {}, "skipped": {
                            n: "too large to carry over to the tests" for n in snap_names[i]}}).encode()
                    snap_bytes += len(payload)
                    result.snapshots[i] = payload
                elif kind == "cell" and current is not None and i == current:
                    kept_bytes += size
                    if kept_bytes <= OUTPUT_BUDGET:
                        result.outputs[i] = valid_outputs(header.get("outputs"))
                    else:
                        result.outputs[i] = []
                        result.truncated.append(i)
                    if type(header.get("count")) is int:
                        result.counts[i] = header["count"]
                    if header.get("truncated") is True and i not in result.truncated:
                        result.truncated.append(i)
                    current = None
                    deadline = min(notebook_end, time.monotonic() + limits.cell_timeout * WALL_FACTOR + GRACE)
                elif kind == "done" and current is None and position == len(order) - 1:
                    result.completed = True
                    break
                else:
                    result.interfered = True
                    result.problems.append("the notebook interfered with the grader's reports (a report out of "
                                           f"turn: {str(kind)[:20]!r}); stopped, later cells not graded")
                    break
        except frames.FrameError as exc:
            result.problems.append(f"the notebook flooded the grader ({exc}); stopped")
        finally:
            self.close()
        result.terminal_bytes = self.terminal_bytes
        result.seconds = time.monotonic() - self.start
        if not result.completed:
            result.stopped_at = current if current is not None else (order[position + 1] if position + 1 < len(order) else None)
            if not result.problems:
                where = f" in cell {current}" if current is not None else " before running any cell"
                result.problems.append(f"the notebook's process ended early{where} (exit code {self.proc.returncode})")
            if not result.started:
                said = self.said()
                if said:
                    result.problems.append("grader process said: " + said[-500:])
        return result

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.proc.poll() is None:
            _kill(self.proc, self.sandbox.enabled)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill(self.proc, self.sandbox.enabled)
            self.proc.wait()
        self.sel.close()
        os.close(self.channel)
        _close_streams(self.proc)
        if self.cgroups:
            self.cgroups.remove(self.groups)


class StartFailure(Exception):
    """The sandboxed runner did not come up: the grader's problem, never the student's."""

    def __init__(self, how: str, said: str) -> None:
        self.how, self.said = how, said
        super().__init__(f"the sandbox did not start ({how})" + (f": {said}" if said else ""))


class Evaluator:
    """One phase-2 fork server in its own sandbox, shared by every worker of a batch.

    The server forks one child per job, so jobs of different workers run at once, each in its
    own process and folder; it warms up (imports, the trusted setup cells on the default data)
    once per batch. :meth:`evaluate` is thread-safe: each job carries an id and a keeper thread
    routes the replies. If the server dies, it is started again and the jobs it held are sent
    once more; a job that fails twice is a grader failure."""

    def __init__(self, sandbox: Sandbox, files: Path | None, limits: Limits, warmup: list[str] | None = None,
                 forkserver: ForkServer | None = None) -> None:
        import threading

        self.sandbox = sandbox
        self.forkserver = forkserver if sandbox.enabled else None  # forks a pre-imported evaluator
        self.files = files
        self.limits = limits
        self.warmup = warmup or []
        self.scratch = None if sandbox.enabled else tempfile.mkdtemp(prefix="course-eval-")
        self.proc: subprocess.Popen | Injected | None = None
        self._lock = threading.Lock()  # writing to the server, starting it
        self._ready = threading.Event()
        self._dead = threading.Event()
        self._pending: dict[int, tuple[threading.Event, list]] = {}
        self._next_id = 0
        self._generation = 0
        self._closing = False
        self._fell_back = False  # the last server was forked and died before it was ready
        self._threading = threading

    def work_dir(self, job_id: int) -> str:
        """The folder one job works in (inside the evaluator's private /tmp when sandboxed)."""
        base = "/tmp" if self.scratch is None else self.scratch
        return os.path.join(base, f"job-{job_id}")

    # ---- the server's life -----------------------------------------------------------------

    def start(self) -> None:
        """Start the server (it warms up while the caller goes on)."""
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        if self.proc is not None and self.proc.poll() is None and not self._dead.is_set():
            return
        self._stop_proc()
        self._ready.clear()
        self._dead.clear()
        self._generation += 1
        started = self._threading.Event()
        failure: list[BaseException] = []
        # the keeper thread starts the server itself: bwrap's --die-with-parent ties the
        # sandbox to the thread that started it, and the keeper lives as long as the server
        keeper = self._threading.Thread(target=self._keep, args=(self._generation, started, failure),
                                        name="evaluator", daemon=True)
        keeper.start()
        started.wait()
        if failure:
            raise failure[0]

    def _launch(self, env: dict[str, str]) -> subprocess.Popen | Injected:
        """The server process: forked from the batch's fork server when it is ready (its imports
        already done), else a fresh sandboxed Python."""
        server = self.forkserver
        if server is not None and server.wait_ready(min(60.0, self.limits.startup_timeout)):
            argv, _ = self.sandbox.evaluator_command(self.files, command=list(STUB))
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                return launch(server, argv, env, "/tmp", [], devnull, self.limits.startup_timeout, main="evaluator")
            except (ForkServerUnavailable, OSError):
                pass  # started the ordinary way
            finally:
                os.close(devnull)
        argv, cwd = self.sandbox.evaluator_command(self.files)
        return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    def _keep(self, generation: int, started, failure: list) -> None:
        env = self.sandbox.env({}, home="/tmp" if self.scratch is None else self.scratch)
        try:
            proc = self._launch(env)
            assert proc.stdin is not None and proc.stdout is not None
            frames.write_frame(proc.stdin.fileno(), {"memory": self.limits.memory, "preload": EVALUATOR_PRELOAD,
                                                     "warmup": self.warmup, "cell_timeout": self.limits.cell_timeout})
        except OSError as exc:
            failure.append(exc)
            started.set()
            return
        self.proc = proc
        started.set()
        reader = frames.FrameReader(limit=1 << 62, max_header=frames.MAX_HEADER)
        fd = proc.stdout.fileno()
        try:
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                reader.feed(chunk)
                for header, _ in reader.frames:
                    if header.get("type") == "ready":
                        if isinstance(proc, Injected) and self.forkserver is not None and not self._ready.is_set():
                            self.forkserver.note_entry(True)
                        self._ready.set()
                    elif type(header.get("id")) is int and header["id"] in self._pending:
                        done, box = self._pending[header["id"]]
                        box.append(header)
                        done.set()
                reader.frames.clear()
                reader.sizes.clear()
        except (OSError, frames.FrameError):
            pass
        finally:
            if generation == self._generation:
                if isinstance(proc, Injected) and not self._ready.is_set() and self.forkserver is not None:
                    self.forkserver.note_entry(False)  # (its stderr is /dev/null: no reason to pass on)
                    self.forkserver = None  # it could not give us a working one: start fresh from now on
                    self._fell_back = True
                self._dead.set()
                self._ready.set()  # wakes a caller waiting for the start (it checks _dead)
                for done, _box in list(self._pending.values()):
                    done.set()  # an empty box: the server is gone

    def _stop_proc(self) -> None:
        if self.proc is not None:
            _kill(self.proc, self.sandbox.enabled)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            _close_streams(self.proc)
        self.proc = None

    # ---- jobs ------------------------------------------------------------------------------

    def _send(self, job: dict, payload: bytes) -> tuple[int, Any, list]:
        with self._lock:
            for _attempt in (1, 2):  # a forked evaluator that died before it was ready: once more, fresh
                self._fell_back = False
                self._start_locked()
                if self._ready.wait(self.limits.startup_timeout + self.limits.notebook_timeout) and not self._dead.is_set():
                    break
                self._stop_proc()
                if not self._fell_back:
                    raise RuntimeError("the evaluator did not start")
            else:
                raise RuntimeError("the evaluator did not start")
            self._next_id += 1
            job_id = self._next_id
            done = self._threading.Event()
            box: list[dict] = []
            self._pending[job_id] = (done, box)
            job = {**job, "id": job_id, "work_dir": self.work_dir(job_id)}
            assert self.proc is not None and self.proc.stdin is not None
            try:
                frames.write_frame(self.proc.stdin.fileno(), job, payload)
            except OSError:
                self._pending.pop(job_id, None)
                self._dead.set()
                raise
        return job_id, done, box

    def evaluate(self, job: EvalJob, payload: bytes) -> EvalReply:
        """Run one job; its reply, or ``{"error": ..., "fatal": True}``.

        A job the evaluator could not finish (its child crashed or ran out of time, the server
        died or stopped answering) is sent once more; failing twice is fatal: the notebook is
        then not graded at all (a grader failure), never scored 0 for the grader's trouble."""
        error = ""
        for _attempt in (1, 2):
            try:
                job_id, done, box = self._send(dict(job), payload)
            except (OSError, RuntimeError) as exc:
                error = f"evaluator failed: {exc}"
                continue
            finished = done.wait(job["deadline"] + 30)
            self._pending.pop(job_id, None)
            if box and "error" not in box[0]:
                reply = box[0]
                reply.pop("id", None)
                return reply
            if box:
                error = str(box[0]["error"])
            elif not finished:
                error = "the evaluator stopped responding"
                with self._lock:
                    self._stop_proc()  # a fresh server for the second try
            else:
                error = "the evaluator stopped while running the tests"
        return {"cells": {}, "error": f"the tests could not be run (twice): {error}", "fatal": True}

    def shutdown(self) -> None:
        self._closing = True
        with self._lock:
            self._stop_proc()
        if self.scratch:
            import shutil

            shutil.rmtree(self.scratch, ignore_errors=True)

    close = shutdown
