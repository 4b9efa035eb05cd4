"""Phase 2, in its own sandbox: run the trusted cells on the student's exported values.

The evaluator is a small fork server (``python -I -m course.grading.evaluate``). It imports
IPython, pandas, plotly and the course package once, then for each job (one student's notebook,
a frame on stdin) forks a fresh child that

1. sets the student's environment (``COURSE_STUDENT_ID``, ...) and an empty working folder
   holding the assignment's released files;
2. runs the locked cells and the test cells (hidden tests included, from the gradebook) in
   notebook order; before each one it defines the names that cell uses from the student's
   snapshot, rebuilt as plain data (:func:`course.grading.values.decode_names`);
3. answers with the outputs of every cell.

No student code ever runs here: the student controls only the *values* of their answer names.
A test cell the student's notebook never reached fails with ``NotReached``.
"""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time

from course.grading import frames


def _limit(memory: int | None) -> None:
    for res, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CORE, 0)):
        if value:
            try:
                resource.setrlimit(res, (value, value))
            except (ValueError, OSError):
                pass


def _not_reached(reason: str) -> list[dict]:
    return [{"output_type": "error", "ename": "NotReached", "evalue": reason,
             "traceback": [f"NotReached: {reason}"]}]


def evaluate(job: dict, shell) -> dict:
    """Run the trusted cells of one job in ``shell`` (a fresh forked process); return outputs."""
    from course.grading import shell as shell_mod
    from course.grading import values

    os.environ.update({k: str(v) for k, v in job.get("env", {}).items()})
    for key in job.get("unset_env", []):
        os.environ.pop(key, None)
    work = tempfile.mkdtemp(prefix="eval-")
    files = job.get("files_dir")
    if files and os.path.isdir(files):
        shutil.copytree(files, work, dirs_exist_ok=True)
    os.chdir(work)
    snapshots = job.get("snapshots", {})
    timeout = job.get("cell_timeout")
    results: dict[str, dict] = {}
    for cell in job["cells"]:
        i = str(cell["i"])
        problems: dict[str, str] = {}
        raw = snapshots.get(i)
        if raw is None:
            if cell["role"] == "test":
                results[i] = {"outputs": _not_reached(job.get("not_reached", "the notebook did not get this far")),
                              "problems": {}}
                continue
        else:
            allowed = set(cell.get("inject", []))
            try:
                snapshot = json.loads(raw)
            except (ValueError, RecursionError):
                snapshot = None
            found, problems = values.decode_names(snapshot, allowed)
            for name in allowed:
                if name in found:
                    shell.user_ns[name] = found[name]
                else:
                    shell.user_ns.pop(name, None)
        outputs = shell_mod.run_cell(shell, cell["source"], timeout=timeout)
        results[i] = {"outputs": outputs, "problems": problems}
    return {"cells": results}


def _warm_up(shell, sources: list[str], timeout: float | None) -> None:
    """Run the trusted cells once on the default data, then forget the namespace: the imports
    and data caches they fill are inherited by every forked child, the variables are not."""
    from course.grading import shell as shell_mod

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


def _run_child(job: dict, shell, write_fd: int) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    try:
        result = evaluate(job, shell)
    except BaseException as exc:  # report, never hang
        result = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    frames.write_frame(write_fd, result)


def serve() -> None:
    """The fork server loop: one frame in, one frame out, per job."""
    got = frames.read_frame(0)
    if got is None:
        return
    hello, _ = got
    _limit(hello.get("memory"))
    from course.grading.runner import preload

    preload(hello.get("preload", []))
    from course.grading import shell as shell_mod

    shell = shell_mod.make_shell()
    _warm_up(shell, hello.get("warmup", []), hello.get("cell_timeout"))
    out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # stray prints from imports never corrupt the protocol
    frames.write_frame(out, {"type": "ready"})
    while True:
        got = frames.read_frame(0)
        if got is None:
            return
        job, _ = got
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: evaluate one notebook, then vanish
            os.close(read_fd)
            os.close(out)
            try:
                _run_child(job, shell, write_fd)
            finally:
                os._exit(0)
        os.close(write_fd)
        reply = _collect(read_fd, pid, float(job.get("deadline", 600)))
        os.close(read_fd)
        frames.write_frame(out, reply)


def _collect(fd: int, pid: int, seconds: float) -> dict:
    reader = frames.FrameReader(limit=frames.MAX_HEADER * 2)
    end = time.monotonic() + seconds
    reply = None
    while reply is None:
        left = end - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        try:
            reader.feed(chunk)
        except frames.FrameError as exc:
            reply = {"error": str(exc)}
            break
        if reader.frames:
            reply = reader.frames[0][0]
    if reply is None:
        timed_out = time.monotonic() >= end
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        reply = {"error": "the tests ran out of time" if timed_out else "the evaluator stopped unexpectedly"}
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    return reply


if __name__ == "__main__":
    serve()
    sys.exit(0)
