"""The grader's side of the two sandboxed processes: start, feed, watch the clock, kill.

:func:`run_student` runs phase 1 (the student's notebook) and enforces the per-cell and
per-notebook wall-time limits from outside; :class:`Evaluator` keeps one phase-2 fork server
per worker thread. Everything read back from a sandbox is size-capped and parsed defensively.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from course.grading import frames
from course.grading.cgroups import Cgroups
from course.grading.sandbox import Limits, Sandbox

#: Modules imported before the student's first cell / by the evaluator before any job.
PRELOAD = ["nbformat", "numpy", "pandas", "plotly.graph_objects", "plotly.io", "course.checks",
           "course.notebook", "course.plots", "course.variants"]
OUTPUT_BUDGET = 64 * 2**20  # cell outputs kept per notebook (the autograded copy stays readable)
GRACE = 10.0  # seconds beyond a cell's own limit before the sandbox is killed
DIAGNOSTIC_BYTES = 64 * 1024


@dataclass
class StudentRun:
    outputs: dict[int, list] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    snapshots: dict[int, bytes] = field(default_factory=dict)
    reached: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    completed: bool = False
    started: bool = False  # the runner came up (before any student code): else a grader failure
    seconds: float = 0.0
    stopped_at: int | None = None  # the cell running when the notebook stopped early
    truncated: list[int] = field(default_factory=list)  # cells whose output was cut
    terminal_bytes: int = 0  # written straight to file descriptors 1/2 (discarded)


def _kill(proc: subprocess.Popen, sandboxed: bool) -> None:
    try:
        if sandboxed:
            proc.kill()  # bwrap: its PID namespace dies with it
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


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


def _valid_outputs(raw: object) -> list[dict]:
    """Keep only well-formed nbformat outputs (the student's process could send anything)."""
    import nbformat

    if type(raw) is not list:
        return []
    good = (_valid_output(item) for item in raw[:1000])
    return [nbformat.from_dict(o) for o in good if o is not None]


def run_student(sandbox: Sandbox, workdir: Path, assignment: str, cells: list[dict], env: dict,
                limits: Limits, cgroups: Cgroups | None = None) -> StudentRun:
    """Phase 1: run ``cells`` in a fresh sandbox over ``workdir``."""
    groups = cgroups.create(limits.memory + limits.tmp_size + 256 * 2**20) if cgroups else []
    try:
        return _run_student(sandbox, workdir, assignment, cells, env, limits, cgroups, groups)
    finally:
        if cgroups:
            cgroups.remove(groups)


def _run_student(sandbox: Sandbox, workdir: Path, assignment: str, cells: list[dict], env: dict,
                 limits: Limits, cgroups: Cgroups | None, groups: list[Path]) -> StudentRun:
    result = StudentRun()
    argv, cwd = sandbox.student_command(workdir, assignment)
    if cgroups and groups:
        argv = cgroups.launcher(groups, argv)
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, pass_fds=(write_fd,), start_new_session=True)
    os.close(write_fd)
    job = {"cells": cells, "cell_timeout": limits.cell_timeout, "memory": limits.memory,
           "file_size": limits.file_size, "preload": PRELOAD, "channel": write_fd}
    try:
        proc.stdin.write(frames.pack(job))
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    reader = frames.FrameReader(limit=limits.messages)
    diagnostics = bytearray()
    sel = selectors.DefaultSelector()
    sel.register(read_fd, selectors.EVENT_READ, "channel")
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    deadline_total = start + limits.notebook_timeout
    deadline_cell = start + limits.startup_timeout
    current: int | None = None
    kept_bytes = 0
    open_streams = 2
    try:
        while open_streams:
            now = time.monotonic()
            deadline = min(deadline_total, deadline_cell)
            if now >= deadline:
                if now >= deadline_total:
                    result.problems.append(f"the notebook ran longer than {limits.notebook_timeout:g} s; stopped")
                elif current is None:
                    result.problems.append("the grader's Python did not start in time")
                else:
                    result.problems.append(f"a cell ignored the {limits.cell_timeout:g} s limit; notebook stopped")
                _kill(proc, sandbox.enabled)
                break
            for key, _ in sel.select(timeout=min(1.0, deadline - now)):
                if key.data == "stdout":
                    chunk = os.read(key.fd, 1 << 16)
                    result.terminal_bytes += len(chunk)
                    if not chunk:
                        sel.unregister(key.fd)
                        open_streams -= 1
                    elif len(diagnostics) < DIAGNOSTIC_BYTES:
                        diagnostics += chunk[: DIAGNOSTIC_BYTES - len(diagnostics)]
                    continue
                chunk = os.read(read_fd, 1 << 20)
                if not chunk:
                    sel.unregister(read_fd)
                    open_streams -= 1
                    continue
                try:
                    reader.feed(chunk)
                except frames.FrameError as exc:
                    result.problems.append(f"the notebook flooded the grader ({exc}); stopped")
                    _kill(proc, sandbox.enabled)
                    open_streams = 0
                    break
                for header, payload in reader.frames:
                    kind, i = header.get("type"), header.get("i")
                    if kind == "start" and type(i) is int:
                        current = i
                        deadline_cell = time.monotonic() + limits.cell_timeout + GRACE
                    elif kind == "ready":
                        result.started = True
                        deadline_cell = deadline_total
                    elif kind == "snap" and type(i) is int:
                        result.snapshots[i] = payload
                        result.reached.add(i)
                    elif kind == "cell" and type(i) is int:
                        kept_bytes += len(payload) + len(str(header.get("outputs", "")))
                        if kept_bytes <= OUTPUT_BUDGET:
                            result.outputs[i] = _valid_outputs(header.get("outputs"))
                        elif i not in result.truncated:
                            result.outputs[i] = []
                            result.truncated.append(i)
                        if type(header.get("count")) is int:
                            result.counts[i] = header["count"]
                        if header.get("truncated") is True:
                            result.truncated.append(i)
                        current = None
                        deadline_cell = deadline_total
                    elif kind == "done":
                        result.completed = True
                reader.frames.clear()
    finally:
        sel.close()
        os.close(read_fd)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill(proc, sandbox.enabled)
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
    result.seconds = time.monotonic() - start
    if not result.completed:
        result.stopped_at = current
        if not result.problems:
            where = f" in cell {current}" if current is not None else " before running any cell"
            result.problems.append(f"the notebook's process ended early{where} (exit code {proc.returncode})")
        text = diagnostics.decode("utf-8", "replace").strip()
        if text and not result.started:
            result.problems.append("grader process said: " + text[-500:])
    return result


class Evaluator:
    """One phase-2 fork server in its own sandbox; restarted if it ever dies."""

    def __init__(self, sandbox: Sandbox, files: Path | None, limits: Limits, warmup: list[str] | None = None) -> None:
        self.sandbox = sandbox
        self.files = files
        self.limits = limits
        self.warmup = warmup or []
        self.proc: subprocess.Popen | None = None
        self.ready = False

    def spawn(self) -> None:
        """Start the server without waiting for it (it warms up while the caller works).

        Call from the thread that will use it: ``--die-with-parent`` ties the sandbox's life to
        the starting thread."""
        argv, cwd = self.sandbox.evaluator_command(self.files)
        home = "/tmp" if self.sandbox.enabled else None
        if not self.sandbox.enabled:
            import tempfile

            home = tempfile.mkdtemp(prefix="course-eval-home-")
        env = self.sandbox.env({}, home=home)
        self.ready = False
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        frames.write_frame(self.proc.stdin.fileno(), {"memory": self.limits.memory, "preload": PRELOAD,
                                                      "warmup": self.warmup, "cell_timeout": self.limits.cell_timeout})

    def _start(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self.spawn()
        if not self.ready:
            reply = self._read(self.limits.startup_timeout + self.limits.notebook_timeout)
            if reply is None or reply.get("type") != "ready":
                self.close()
                raise RuntimeError("the evaluator did not start")
            self.ready = True

    def _read(self, seconds: float) -> dict | None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        reader = frames.FrameReader(limit=frames.MAX_HEADER * 2)
        end = time.monotonic() + seconds
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while not reader.frames:
                left = end - time.monotonic()
                if left <= 0 or not sel.select(timeout=left):
                    if time.monotonic() >= end:
                        return None
                    continue
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return None
                reader.feed(chunk)
        return reader.frames[0][0]

    def evaluate(self, job: dict) -> dict:
        """Send one job; the reply, or ``{"error": ...}`` (the server is restarted next time)."""
        deadline = float(job.get("deadline", self.limits.notebook_timeout))
        for attempt in (1, 2):
            try:
                self._start()
                frames.write_frame(self.proc.stdin.fileno(), job)
                reply = self._read(deadline + 30)
            except (OSError, RuntimeError, frames.FrameError) as exc:
                self.close()
                if attempt == 2:
                    return {"error": f"evaluator failed: {exc}", "fatal": True}
                continue
            if reply is None:
                self.close()
                return {"error": "the evaluator stopped responding"}
            return reply
        return {"error": "evaluator failed"}

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                _kill(self.proc, self.sandbox.enabled)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    if stream:
                        stream.close()
                except OSError:
                    pass
            self.proc = None
            self.ready = False
