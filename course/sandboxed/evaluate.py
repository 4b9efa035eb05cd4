"""Phase 2, in its own sandbox: run the trusted cells on the student's exported values.

The evaluator is a small fork server (``python -I -m course.sandboxed.evaluate``). It imports
IPython, pandas, plotly and the course package once, runs the trusted cells once on the
default data (so imports and data caches are warm), then for each job (one student's notebook:
an :class:`~.protocol.EvalJob` frame whose payload holds the snapshots) forks a fresh child that

1. sets the student's environment (``COURSE_STUDENT_ID``, ...) and works in the job's own empty
   folder holding the assignment's released files (the server removes it afterwards);
2. runs the locked cells and the test cells (hidden tests included, from the gradebook) in the
   instructor's order; before each one it defines the names that cell uses from the student's
   snapshot, rebuilt as plain data (:func:`course.sandboxed.values.decode_names`);
3. answers with the outputs of every cell (:class:`~.protocol.EvalReply`).

No student code ever runs here: the student controls only the *values* of their answer names.
A test cell the student's notebook never reached fails with ``NotReached``.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import sys
import time
from typing import Any

from course.sandboxed import frames
from course.sandboxed.protocol import CellResult, EvalJob, EvalReply, EvaluatorHello


def _not_reached(reason: str) -> list[dict]:
    return [{"output_type": "error", "ename": "NotReached", "evalue": reason,
             "traceback": [f"NotReached: {reason}"]}]


def _snapshot(payload: bytes, span: Any) -> Any:
    if type(span) is not list or len(span) != 2 or not all(type(x) is int and x >= 0 for x in span):
        return None
    offset, length = span
    try:
        return json.loads(payload[offset:offset + length])
    except (ValueError, RecursionError):
        return None


def evaluate(job: EvalJob, payload: bytes, shell: Any) -> EvalReply:
    """Run the trusted cells of one job in ``shell`` (a fresh forked process); return outputs."""
    from course.sandboxed import shell as shell_mod
    from course.sandboxed import values

    os.environ.update({k: str(v) for k, v in job.get("env", {}).items()})
    os.chdir(job["work_dir"])
    spans = job.get("snapshots", {})
    timeout = job.get("cell_timeout")
    results: dict[str, CellResult] = {}
    for cell in job["cells"]:
        i = str(cell["i"])
        problems: dict[str, str] = {}
        if i not in spans:
            if cell["role"] == "test":
                results[i] = {"outputs": _not_reached(job.get("not_reached", "the notebook did not get this far")),
                              "problems": {}}
                continue
        else:
            allowed = set(cell.get("inject", []))
            found, problems = values.decode_names(_snapshot(payload, spans[i]), allowed)
            for name in allowed:
                if name in found:
                    shell.user_ns[name] = found[name]
                else:
                    shell.user_ns.pop(name, None)
        outputs = shell_mod.run_cell(shell, cell["source"], timeout=timeout)
        results[i] = {"outputs": outputs, "problems": problems}
    return {"cells": results}


def _warm_up(shell: Any, sources: list[str], timeout: float | None) -> None:
    """Run the trusted cells once on the default data, then forget the namespace: the imports
    and data caches they fill are inherited by every forked child, the variables are not."""
    import tempfile

    from course.sandboxed import shell as shell_mod

    if not sources:
        return
    home = os.getcwd()
    work = tempfile.mkdtemp(prefix="warmup-")
    os.chdir(work)
    try:
        for source in sources:
            shell_mod.run_cell(shell, source, timeout=timeout)
    finally:
        os.chdir(home)
        shutil.rmtree(work, ignore_errors=True)
        shell.reset(new_session=True)


def _run_child(job: EvalJob, payload: bytes, shell: Any, write_fd: int) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    try:
        result: EvalReply | dict = evaluate(job, payload, shell)
    except BaseException as exc:  # report, never hang
        result = {"cells": {}, "error": f"{type(exc).__name__}: {exc}"[:2000]}
    frames.write_frame(write_fd, dict(result))


def _prepare(job: EvalJob) -> None:
    """The job's working folder: fresh, with the released data files in it."""
    work = job["work_dir"]
    shutil.rmtree(work, ignore_errors=True)
    files = job.get("files_dir")
    if files and os.path.isdir(files):
        shutil.copytree(files, work)
    else:
        os.makedirs(work)


def serve() -> None:
    """The fork server: jobs arrive on stdin (each with an ``id``), run in parallel children,
    and their replies go out on stdout in the order they finish, tagged with the same ``id``."""
    from course.sandboxed.runner import limit, preload

    got = frames.read_frame(0)
    if got is None:
        return
    hello: EvaluatorHello = got[0]  # type: ignore[assignment]
    limit(hello.get("memory"))
    preload(hello.get("preload", []))
    from course.sandboxed import shell as shell_mod

    shell = shell_mod.make_shell()
    _warm_up(shell, hello.get("warmup", []), hello.get("cell_timeout"))
    out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # stray prints from imports never corrupt the protocol
    frames.write_frame(out, {"type": "ready"})
    running: dict[int, _Child] = {}  # read end of the child's pipe -> the child
    stdin_open = True
    while stdin_open or running:
        now = time.monotonic()
        waits = [c.deadline - now for c in running.values()]
        fds = [*running, *([0] if stdin_open else [])]
        ready, _, _ = select.select(fds, [], [], max(0.0, min(waits)) if waits else None)
        for fd in ready:
            if fd == 0:
                got = frames.read_frame(0)
                if got is None:
                    stdin_open = False
                    continue
                header, payload = got
                child = _start(header, payload, shell, out)  # type: ignore[arg-type]
                if child is not None:
                    running[child.fd] = child
            else:
                child = running[fd]
                if child.feed():
                    _finish(running.pop(fd), out)
        now = time.monotonic()
        for fd in [fd for fd, c in running.items() if c.deadline <= now]:
            child = running.pop(fd)
            child.reply = {"cells": {}, "error": "the tests ran out of time"}
            _finish(child, out)


class _Child:
    """One job's forked child, as the server sees it."""

    def __init__(self, job_id: int, pid: int, fd: int, deadline: float, work_dir: str) -> None:
        self.id, self.pid, self.fd, self.deadline, self.work_dir = job_id, pid, fd, deadline, work_dir
        self.reader = frames.FrameReader(limit=frames.MAX_HEADER * 2)
        self.reply: dict | None = None

    def feed(self) -> bool:
        """Read what the child sent; ``True`` once it is done (a reply, or the pipe closed)."""
        try:
            chunk = os.read(self.fd, 1 << 20)
        except OSError:
            chunk = b""
        if not chunk:
            if self.reply is None:
                self.reply = {"cells": {}, "error": "the evaluator stopped unexpectedly"}
            return True
        try:
            self.reader.feed(chunk)
        except frames.FrameError as exc:
            self.reply = {"cells": {}, "error": str(exc)}
            return True
        if self.reader.frames:
            self.reply = self.reader.frames[0][0]
            return True
        return False


def _start(job: EvalJob, payload: bytes, shell: Any, out: int) -> _Child | None:
    job_id = job.get("id")
    try:
        _prepare(job)
    except OSError as exc:
        frames.write_frame(out, {"id": job_id, "cells": {}, "error": f"could not prepare the job's folder: {exc}"})
        return None
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: evaluate one notebook, then vanish
        os.close(read_fd)
        os.close(out)
        try:
            _run_child(job, payload, shell, write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    return _Child(job_id, pid, read_fd, time.monotonic() + float(job.get("deadline", 600)), job["work_dir"])  # type: ignore[arg-type]


def _finish(child: _Child, out: int) -> None:
    try:
        os.kill(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(child.pid, 0)
    except ChildProcessError:
        pass
    os.close(child.fd)
    shutil.rmtree(child.work_dir, ignore_errors=True)
    reply = dict(child.reply or {})
    reply["id"] = child.id
    frames.write_frame(out, reply)


if __name__ == "__main__":
    serve()
    sys.exit(0)
