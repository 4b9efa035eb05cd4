"""Phase 1, inside the sandbox: run one student's notebook and report cell by cell.

Started by :mod:`course.grading.sandbox` as ``python -I -m course.grading.runner`` in the
student's working copy. It reads the job (cells to run, in order) as one frame on stdin and
writes frames to the channel fd named in the job:

- ``{"type": "start", "i": i}`` before cell ``i``;
- ``{"type": "snap", "i": i}`` + payload: before a locked or test cell, the values of the names
  that cell uses, encoded as data by :mod:`course.grading.values`;
- ``{"type": "cell", "i": i, "outputs": [...], "count": n}`` after it;
- ``{"type": "done"}`` at the end.

Test cells run here in their *release* form (no hidden tests): the verdict comes from the
evaluator, which never runs student code. Anything the student's code does to this process
(patching IPython, exiting, killing it) can only lose the student's own remaining cells.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

CHANNEL_FD = 3


def _limit(memory: int, file_size: int) -> None:
    for res, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_FSIZE, file_size),
                       (resource.RLIMIT_CORE, 0)):
        if value is not None:
            try:
                resource.setrlimit(res, (value, value))
            except (ValueError, OSError):
                pass


#: Optional extras that only slow start-up down (completion, IRI format checks in jsonschema);
#: kept out while the grader preloads, importable again afterwards.
SLOW_EXTRAS = ("jedi", "rfc3987_syntax")


def preload(modules: list[str]) -> None:
    """Import IPython and ``modules`` before any student code runs (start-up made cheaper)."""
    blocked = [name for name in SLOW_EXTRAS if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import IPython.core.interactiveshell  # noqa: F401

        for module in modules:
            try:
                __import__(module)
            except Exception:  # a preload is only an optimisation
                pass
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def main() -> None:
    from course.grading import frames

    got = frames.read_frame(0)
    if got is None:
        os._exit(2)
    job, _ = got
    _limit(job.get("memory"), job.get("file_size"))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)

    preload(job.get("preload", []))
    from course.grading import shell as shell_mod
    from course.grading import values

    channel = int(job.get("channel", CHANNEL_FD))
    send = frames.write_frame
    shell = shell_mod.make_shell()
    sys.path.insert(0, "")  # like a Jupyter kernel: the notebook's folder is importable
    timeout = job.get("cell_timeout")
    send(channel, {"type": "ready"})
    for cell in job["cells"]:
        i = cell["i"]
        send(channel, {"type": "start", "i": i})
        names = cell.get("snap")
        if names is not None:
            try:
                snap = values.encode_names(shell.user_ns, names)
                payload = json.dumps(snap, allow_nan=False, separators=(",", ":")).encode()
            except Exception as exc:  # pragma: no cover (defensive: report, carry on)
                payload = json.dumps({"values": {}, "skipped": {n: f"not exported ({type(exc).__name__})" for n in names}}).encode()
            send(channel, {"type": "snap", "i": i}, payload)
        start = time.perf_counter()
        outputs = shell_mod.run_cell(shell, cell["source"], timeout=timeout)
        send(channel, {"type": "cell", "i": i, "outputs": outputs, "count": shell.execution_count - 1,
                       "seconds": round(time.perf_counter() - start, 3),
                       "truncated": bool(getattr(shell.sink, "truncated", False))})
    send(channel, {"type": "done"})
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
