"""Phase 1, inside a fresh sandbox: read one submitted notebook, then run the cells it is given.

Started by the grader as ``python -I -m course.sandboxed.runner`` in the student's working copy
(``course.grading.sandbox``), with the channel to report on as file descriptor 3. In order:

1. read :class:`~.protocol.RunnerHello` from stdin and set the process limits;
2. **intake**: read the submitted notebook (a regular file, size-capped, links refused), parse it
   and send its cells back as plain JSON (:class:`~.protocol.Intake`), without outputs. The
   grader never parses a student's notebook file itself: it only reads this bounded reply;
3. import IPython and the course's modules, read the :class:`~.protocol.RunJob` (the restored
   notebook's code cells, in the instructor's order), and run them one by one:
   ``start``, then before a locked or test cell the values of the names it reads
   (:mod:`.values`, data only), then the cell's outputs; ``done`` at the end.

Test cells run here in their *release* form (no hidden tests): the verdict comes from the
evaluator, which never runs student code. Anything the student's code does to this process
(patching IPython, exiting, killing it, writing forged frames on the channel) can only lose the
student's own remaining cells: the grader accepts each report once, in order, and keeps every
clock outside this process.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from contextlib import contextmanager

from course.sandboxed import frames
from course.sandboxed.files import read_regular
from course.sandboxed.protocol import Intake, RunJob, RunnerHello

CHANNEL_FD = 3
#: Cell metadata kept at intake (the rest is editor state the grader does not use).
KEPT_METADATA = ("nbgrader", "tags", "deletable", "editable")


def limit(memory: int | None, file_size: int | None = None, processes: int | None = None) -> None:
    for res, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_FSIZE, file_size),
                       (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, processes)):
        if value is not None:
            try:
                resource.setrlimit(res, (value, value))
            except (ValueError, OSError):
                pass


#: Optional extras that only slow start-up down (completion, IRI format checks in jsonschema);
#: kept out while the grader preloads, importable again afterwards.
SLOW_EXTRAS = ("jedi", "rfc3987_syntax")


@contextmanager
def without_slow_extras():
    """Keep :data:`SLOW_EXTRAS` out while the grader imports (jsonschema compiles an RFC 3987
    grammar on import, 1.5 s here, only to check "iri" strings nothing in grading uses)."""
    blocked = [name for name in SLOW_EXTRAS if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def preload(modules: list[str]) -> None:
    """Import IPython and ``modules`` before any student code runs (start-up made cheaper).

    An entry ``"module:function"`` imports the module and calls ``function()`` with no
    arguments: a warm-up that fills the module's caches without changing any setting a
    notebook could see (:func:`course.plots.warm`).
    """
    import importlib

    with without_slow_extras():
        import IPython.core.interactiveshell  # noqa: F401

        for entry in modules:
            name, _, function = entry.partition(":")
            try:
                module = importlib.import_module(name)
                if function:
                    getattr(module, function)()
            except Exception:  # a preload is only an optimisation
                pass


def warm() -> None:
    """Load nbformat's schema and validator once, before the grader's fork server forks
    runners (the first notebook read in a process pays 0.05 s for it here)."""
    with without_slow_extras():
        import nbformat

    nbformat.reads('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', as_version=4)


def intake(hello: RunnerHello) -> tuple[Intake, bytes]:
    """The submitted notebook's cells as plain JSON (no outputs), or why it cannot be read."""
    with without_slow_extras():
        import nbformat

    try:
        raw = read_regular(hello["notebook"], hello["max_file"])
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        cells = []
        for cell in nb.cells:
            meta = cell.get("metadata", {})
            kept = {k: meta[k] for k in KEPT_METADATA if isinstance(meta, dict) and k in meta}
            entry = {"cell_type": cell.cell_type, "source": cell.source, "metadata": kept}
            if "id" in cell:
                entry["id"] = cell["id"]
            if cell.cell_type != "code" and isinstance(cell.get("attachments"), dict):
                entry["attachments"] = cell["attachments"]
            cells.append(entry)
        metadata = nb.get("metadata", {})
        doc = {"nbformat": 4, "nbformat_minor": nb.get("nbformat_minor", 5),
               "metadata": {k: metadata[k] for k in ("kernelspec", "language_info") if k in metadata},
               "cells": cells}
        payload = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if len(payload) > hello["max_intake"]:
            raise ValueError(f"its cells hold {len(payload) / 2**20:.0f} MiB without outputs, more than the "
                             f"{hello['max_intake'] // 2**20} MiB the grader reads")
        return {"type": "intake", "ok": True, "error": ""}, payload
    except Exception as exc:  # any reason at all: reported, graded 0
        message = str(exc) if isinstance(exc, ValueError) and str(exc) else f"{type(exc).__name__}: {exc}"
        return {"type": "intake", "ok": False, "error": message[:500] or type(exc).__name__}, b""


def run(job: RunJob, channel: int) -> None:
    from course.sandboxed import shell as shell_mod
    from course.sandboxed import values

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
        try:
            send(channel, {"type": "cell", "i": i, "outputs": outputs, "count": shell.execution_count - 1,
                           "seconds": round(time.perf_counter() - start, 3),
                           "truncated": bool(getattr(shell.sink, "truncated", False))})
        except MemoryError:
            send(channel, {"type": "cell", "i": i, "outputs": [shell_mod.error_output(
                "MemoryError", "the cell's output did not fit in the notebook's memory")],
                "count": shell.execution_count - 1, "seconds": round(time.perf_counter() - start, 3),
                "truncated": True})
    send(channel, {"type": "done"})


def main() -> None:
    got = frames.read_frame(0)
    if got is None:
        os._exit(2)
    hello: RunnerHello = got[0]  # type: ignore[assignment]
    limit(hello.get("memory"), hello.get("file_size"), hello.get("processes"))
    channel = int(hello.get("channel", CHANNEL_FD))
    reply, payload = intake(hello)
    frames.write_frame(channel, dict(reply), payload)
    if not reply["ok"]:
        os._exit(0)
    preload(hello.get("preload", []))
    got = frames.read_frame(0)
    if got is None:  # the grader decided not to run it
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    run(got[0], channel)  # type: ignore[arg-type]
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
