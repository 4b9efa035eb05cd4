"""Run notebook cells in a plain Python process with IPython's ``InteractiveShell``.

No Jupyter kernel, no ZeroMQ, no network: the shell executes a cell and records what a kernel
would have sent (stream, display_data, execute_result and error outputs) as nbformat dicts.
Used both by the sandboxed student runner and by the evaluator, each a process of its own
(creating the shell installs IPython's hooks in the process, so never do it in the grader).
"""

from __future__ import annotations

import io
import json
import signal
import sys
import time
from contextlib import contextmanager
from typing import Any

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets import Type
from traitlets.config import Config

from course.sandboxed.protocol import WALL_FACTOR

#: Per cell: text kept from stdout/stderr, and bytes of rich display data.
MAX_STREAM_CHARS = 1_000_000
MAX_DISPLAY_CHARS = 20_000_000


def error_output(ename: str, evalue: str) -> dict:
    """An nbformat error output made by the grader itself (no traceback)."""
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}


class CellTimeout(BaseException):
    """Raised inside a cell that ran longer than its limit (a BaseException: ``except
    Exception`` in student code does not swallow it)."""


class Sink:
    """Outputs of the cell being run, with size caps."""

    def __init__(self) -> None:
        self.outputs: list[dict] = []
        self.stream_chars = 0
        self.display_chars = 0
        self.truncated = False

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        room = MAX_STREAM_CHARS - self.stream_chars
        if room <= 0:
            self.truncated = True
            return
        if len(text) > room:
            text = text[:room] + "\n... output truncated by the grader ...\n"
            self.truncated = True
        self.stream_chars += len(text)
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def _jsonable(self, data: dict) -> dict | None:
        try:
            text = json.dumps(data, default=str)
        except (TypeError, ValueError, RecursionError):
            return None
        if self.display_chars + len(text) > MAX_DISPLAY_CHARS:
            self.truncated = True
            return None
        self.display_chars += len(text)
        return json.loads(text)

    def display(self, data: dict, metadata: dict | None) -> None:
        clean = self._jsonable({"data": dict(data or {}), "metadata": dict(metadata or {})})
        if clean is not None:
            self.outputs.append({"output_type": "display_data", **clean})

    def result(self, data: dict, metadata: dict | None, count: int) -> None:
        clean = self._jsonable({"data": dict(data or {}), "metadata": dict(metadata or {})})
        if clean is not None:
            self.outputs.append({"output_type": "execute_result", "execution_count": count, **clean})

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        tb = [str(line)[:20_000] for line in list(traceback)[:200]]
        self.outputs.append({"output_type": "error", "ename": str(ename)[:200],
                             "evalue": str(evalue)[:20_000], "traceback": tb})

    def clear(self) -> None:
        self.outputs = []


class CaptureStream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` replacement that writes into the current cell's sink."""

    def __init__(self, shell: GraderShell, name: str) -> None:
        self._shell = shell
        self.name = name

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: Any) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._shell.sink.stream(self.name, text)
        return len(text)

    def flush(self) -> None:
        return None


class _Publisher(DisplayPublisher):
    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs) -> None:
        self.shell.sink.display(data, metadata)

    def clear_output(self, wait: bool = False) -> None:
        self.shell.sink.clear()


class _Hook(DisplayHook):
    def write_output_prompt(self) -> None:
        return None

    def write_format_data(self, format_dict, md_dict=None) -> None:
        self.shell.sink.result(format_dict, md_dict, self.prompt_count)  # type: ignore[union-attr]

    def finish_displayhook(self) -> None:
        return None


class GraderShell(InteractiveShell):
    """An ``InteractiveShell`` that records outputs like a Jupyter kernel would."""

    display_pub_class = Type(_Publisher)
    displayhook_class = Type(_Hook)
    sink: Sink = Sink()

    def _showtraceback(self, etype, evalue, stb) -> None:
        self.sink.error(getattr(etype, "__name__", str(etype)), str(evalue), stb)

    @contextmanager
    def _tee(self, channel):  # IPython 9 keeps every byte written to stdout in its history
        yield                 # (unbounded: a print loop exhausts memory); the sink caps output

    def init_virtualenv(self) -> None:  # no virtualenv juggling in a grader process
        return None

    def system(self, cmd):  # like ipykernel: output of !commands goes into the cell
        return self.system_piped(cmd)

    def enable_gui(self, gui=None):
        return None

    def ask_exit(self) -> None:  # `exit()` in a cell: recorded, the grader keeps going
        self.exit_now = True


def make_shell() -> GraderShell:
    """A fresh shell (history off, no colours)."""
    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "NoColor"
    config.InteractiveShell.xmode = "Context"
    if GraderShell.initialized():
        return GraderShell.instance()
    shell = GraderShell.instance(config=config)
    shell.sink = Sink()
    return shell


def warm() -> None:
    """Fill the caches a notebook's first traceback would fill, without creating a shell.

    IPython's traceback asks :func:`inspect.getmodule` for each frame's module, whose first
    call resolves the real path of every loaded module's file (about 0.1 s here); later calls
    only look at modules imported since. The grader's fork server calls this once after its
    imports (``course.grading.process.PRELOAD``), so a blank notebook's first error costs its
    forked runner a few milliseconds instead.
    """
    import inspect

    from IPython.core import ultratb

    inspect.getmodule(compile("", "<warm>", "exec"))
    try:
        raise NotImplementedError("warm-up")
    except NotImplementedError:
        ultratb.AutoFormattedTB(mode="Context").structured_traceback(*sys.exc_info())


def _on_alarm(signum, frame):  # pragma: no cover (exercised through the runner)
    raise CellTimeout("the cell ran longer than the grader allows")


def run_cell(shell: GraderShell, source: str, *, timeout: float | None = None) -> list[dict]:
    """Execute ``source``; return its outputs. ``timeout`` (CPU seconds) interrupts the cell."""
    sink = Sink()
    shell.sink = sink
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = CaptureStream(shell, "stdout"), CaptureStream(shell, "stderr")
    if timeout:
        for signum in (signal.SIGPROF, signal.SIGALRM):
            signal.signal(signum, _on_alarm)
        signal.setitimer(signal.ITIMER_PROF, timeout)
        signal.setitimer(signal.ITIMER_REAL, timeout * WALL_FACTOR)
    try:
        shell.run_cell(source, store_history=True)
    except CellTimeout:  # raised outside the user's code (in IPython's own machinery)
        sink.error("CellTimeoutError", "the cell ran longer than the grader allows", [])
    finally:
        if timeout:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = saved
    for output in sink.outputs:
        if output["output_type"] == "error" and output["ename"] == "CellTimeout":
            output["ename"] = "CellTimeoutError"
    return sink.outputs


def timed_run(shell: GraderShell, source: str, *, timeout: float | None = None) -> tuple[list[dict], float]:
    start = time.perf_counter()
    outputs = run_cell(shell, source, timeout=timeout)
    return outputs, time.perf_counter() - start
