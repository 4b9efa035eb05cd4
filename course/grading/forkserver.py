"""Phase 1 without paying the imports per notebook: a pre-imported runner, forked into each sandbox.

A fresh sandboxed Python spends most of a case's per-notebook overhead importing IPython,
nbformat, numpy, pandas and plotly before the student's first cell. The fork server imports
them once per batch, on the host, as trusted code that never reads a submission, and then for
each notebook forks a process that *enters* that notebook's own fresh bubblewrap sandbox:

1. the grader starts the sandbox as before (bwrap, same mounts and namespaces, same cgroup), but
   with a placeholder command (``sleep``) instead of the runner, and finds its host PID;
2. the server forks an intermediate process that joins the sandbox's cgroups and then every one
   of its namespaces (IPC, UTS, network, cgroup, PID, mount, then user; a grader that is not
   root first joins the user namespace that owns the others, which bwrap run by a user nests the
   sandbox's own inside), drops every capability (the
   bounding, ambient, effective, permitted and inheritable sets) and sets ``no_new_privs``;
3. it forks once more, so the child is inside the sandbox's PID namespace: that child starts a
   new session, keeps only the notebook's pipes (stdin, terminal, report channel: every other
   descriptor is closed), takes the student's environment, reseeds numpy's global generator
   (Python's ``random`` reseeds itself on fork), checks in ``/proc/self/status`` that it holds
   no capability, and runs :func:`course.sandboxed.runner.main` exactly as a fresh runner does.

What the child then sees is what a freshly started runner sees (a test compares the two field by
field); killing the sandbox kills it, as before, since its PID namespace dies with bwrap. The
server checks that the package it imported is the batch's frozen copy (by digest) and that it is
single-threaded before it forks anything; if it cannot start, refuses, or dies, notebooks start
the ordinary way. ``COURSE_FORKSERVER=off`` turns it off.

The server is a host process: it is the grader's code, run by the grader's user, and never
reads a submission: per job it receives a PID, cgroup paths, the student's environment (their
ID and the variants switch) and three pipe ends, which is all an earlier job can have left in
the memory a child inherits. Linux only; the namespace calls go through ``ctypes`` (Python 3.11 has
no ``os.setns``).
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

SWITCH_ENV = "COURSE_FORKSERVER"
FD_ENV = "COURSE_FORKSERVER_FD"
NAMESPACES = ("ipc", "uts", "net", "cgroup", "pid", "mnt", "user")
#: What the placeholder prints once the sandbox is up (then it sleeps until the sandbox is killed).
STUB = ("/bin/sh", "-c", "echo ready; exec sleep infinity")
MAX_MESSAGE = 1 << 20
FAILED_ENTRY = 125  # exit code of a child that could not enter its sandbox
LATER = object()  # a ForkServer's digest, sent with ForkServer.check() once the batch knows it
GIVE_UP_AFTER = 3  # children that could not enter their sandbox, none having entered one: stop offering

PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT = 1, 38, 24, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
NS_GET_USERNS = 0xB701  # ioctl on a namespace's fd: a new fd for the user namespace that owns it
CAP_VERSION_3 = 0x20080522


def enabled() -> bool:
    return os.environ.get(SWITCH_ENV, "on").lower() not in ("off", "0", "no", "false")


# ---- the server (a host process; trusted code only) -----------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _call(result: int, what: str) -> None:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _prctl(libc, option: int, arg: int = 0) -> None:
    _call(libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)),
          f"prctl({option})")


def _enter(libc, target: int, groups: list[str], last_cap: int) -> None:
    """Join ``target``'s cgroups and namespaces, then give up every privilege."""
    for group in groups:
        with open(os.path.join(group, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    fds = {name: os.open(f"/proc/{target}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC) for name in NAMESPACES}
    here = {name: os.stat(f"/proc/self/ns/{name}").st_ino for name in NAMESPACES}  # before /proc changes
    shared = [n for n in NAMESPACES if n != "cgroup" and here[n] == os.fstat(fds[n]).st_ino]
    if shared:  # bwrap makes all of these: this PID is not (or no longer) a sandbox's placeholder
        for fd in fds.values():
            os.close(fd)
        raise OSError(f"process {target} shares this host's {', '.join(shared)} namespace(s): not a sandbox")
    joins = [(name, fds[name]) for name in NAMESPACES]  # the sandbox's own user namespace last
    user = here["user"]
    try:
        if os.geteuid() == 0:
            os.setgroups([])
        else:  # unprivileged, the others may be joined only from inside the user namespace that
            # owns them: the sandbox's own, or its parent (bwrap run by a user nests one)
            fds["owner"] = fcntl.ioctl(fds["ipc"], NS_GET_USERNS)
            joins.insert(0, ("user", fds["owner"]))
        for name, fd in joins:
            ino = os.fstat(fd).st_ino
            if ino == (user if name == "user" else here[name]):
                continue  # already there (bwrap could not make this one, or it owns the others)
            _call(libc.setns(fd, 0), f"setns({name})")
            if name == "user":
                user = ino
    finally:
        for fd in fds.values():
            os.close(fd)
    for cap in range(last_cap + 1):
        _prctl(libc, PR_CAPBSET_DROP, cap)
    _call(libc.prctl(PR_CAP_AMBIENT, ctypes.c_ulong(PR_CAP_AMBIENT_CLEAR_ALL), ctypes.c_ulong(0),
                     ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl(ambient)")
    header, data = _CapHeader(CAP_VERSION_3, 0), (_CapData * 2)()
    _call(libc.capset(ctypes.byref(header), data), "capset")
    _prctl(libc, PR_SET_NO_NEW_PRIVS, 1)


def _unprivileged() -> bool:
    """Whether this process holds no capability at all and may not gain any."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    caps = [int(fields[k].strip(), 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")]
    return not any(caps) and fields["NoNewPrivs"].strip() == "1"


def _child(job: dict, fds: list[int], libc, last_cap: int) -> None:
    """The intermediate process (never returns): enter, fork the runner, report its exit."""
    try:
        _prctl(libc, PR_SET_PDEATHSIG, signal.SIGKILL)
        _enter(libc, int(job["target"]), list(job.get("groups", [])), last_cap)
        pid = os.fork()
    except BaseException as exc:  # noqa: BLE001 (reported on the notebook's terminal, then gone)
        try:
            os.write(fds[1], f"the fork server could not enter the sandbox: {exc}\n".encode())
        finally:
            os._exit(FAILED_ENTRY)
    if pid:
        os.closerange(0, os.sysconf("SC_OPEN_MAX"))
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)  # killed by signal n: 128 + n, as a shell says
    evaluator = job.get("main") == "evaluator"
    try:  # the runner (or the evaluator), inside the sandbox's PID namespace
        _prctl(libc, PR_SET_PDEATHSIG, signal.SIGKILL)
        os.setsid()
        stdin, terminal, channel = fds
        # the runner: its terminal on 1 and 2, its report channel on 3; the evaluator: its
        # replies on 1 and the third descriptor (the grader's /dev/null) on 2, as started fresh
        wiring = ((stdin, 0), (terminal, 1), (channel, 2)) if evaluator else \
            ((stdin, 0), (terminal, 1), (terminal, 2), (channel, 3))
        for fd, target in wiring:
            os.dup2(fd, target)
        os.closerange(3 if evaluator else 4, os.sysconf("SC_OPEN_MAX"))  # the server's socket, other jobs' fds
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in job["env"].items()})
        os.chdir(job["cwd"])
        os.environ["PWD"] = job["cwd"]  # as bwrap's --chdir sets it
        if not _unprivileged():
            raise RuntimeError("capabilities left after entering the sandbox")
        import numpy

        numpy.random.seed()  # the server's global generator state is not the student's
        from course.sandboxed import evaluate, runner
    except BaseException as exc:  # noqa: BLE001
        os.write(2, f"the fork server could not start the runner: {exc}\n".encode())
        os._exit(FAILED_ENTRY)
    if evaluator:
        evaluate.serve()
    else:
        runner.main()
    os._exit(0)


def _send(sock: socket.socket, message: dict) -> None:
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        pass  # the grader is gone; the next receive ends the loop


def serve(sock: socket.socket) -> None:
    """Preload, check, then fork one child per job until the grader closes the socket.

    The grader sends the modules to preload at once and the frozen package's digest when it
    knows it (a batch may start the server before it has frozen the package), so the imports
    overlap the grader's own start."""
    libc = _libc()
    _prctl(libc, PR_SET_PDEATHSIG, signal.SIGKILL)
    hello = json.loads(sock.recv(MAX_MESSAGE) or b"{}")
    from course.grading.sandbox import package_digest
    from course.sandboxed import runner

    runner.preload(hello.get("preload", []))
    with runner.without_slow_extras():
        import nbformat  # noqa: F401  (the runner's intake)

        from course.sandboxed import shell, values  # noqa: F401
    data = sock.recv(MAX_MESSAGE)
    if not data:
        return  # the grader went away (or chose another server) before it froze the package
    check = json.loads(data)
    problem = ""
    if check.get("digest") and package_digest() != check["digest"]:
        problem = "the course package changed since the batch froze it"
    elif len(os.listdir("/proc/self/task")) != 1 or threading.active_count() != 1:
        problem = "the preloaded modules started threads (a fork would copy them half-done)"
    if problem:
        _send(sock, {"type": "refused", "problem": problem})
        return
    last_cap = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    sys.stdout.flush()
    sys.stderr.flush()
    _send(sock, {"type": "ready"})
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, None)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                try:
                    data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, 3)
                except OSError:
                    data, fds = b"", []
                if not data:
                    return  # the grader is done (children die with this process)
                try:
                    job = json.loads(data)
                    if len(fds) != 3:
                        raise ValueError("a job needs three descriptors")
                except ValueError as exc:
                    for fd in fds:
                        os.close(fd)
                    _send(sock, {"id": None, "status": FAILED_ENTRY, "problem": str(exc)})
                    continue
                pid = os.fork()
                if pid == 0:
                    sock.close()
                    _child(job, fds, libc, last_cap)
                for fd in fds:
                    os.close(fd)
                sel.register(os.pidfd_open(pid), selectors.EVENT_READ, (job.get("id"), pid))
                del job
            else:
                job_id, pid = key.data
                sel.unregister(key.fd)
                os.close(key.fd)
                _, status = os.waitpid(pid, 0)
                _send(sock, {"id": job_id, "status": os.waitstatus_to_exitcode(status)})


# ---- the grader's side ---------------------------------------------------------------------


def _descendants_leaf(pid: int) -> int:
    """The deepest first descendant of ``pid`` (bwrap -> its PID-1 -> the placeholder)."""
    while True:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return pid
        if not children:
            return pid
        pid = int(children[-1])


class ForkServerUnavailable(Exception):
    pass


class ForkServer:
    """One fork server per batch; :func:`launch` starts one notebook's runner in its sandbox.

    Thread-safe. The first notebooks wait while it imports (:meth:`wait_ready`); if it failed,
    refused or died, :attr:`ready` is false and callers start runners the ordinary way."""

    def __init__(self, argv: list[str], env: dict[str, str], preload: list[str],
                 digest: str | None | object = LATER) -> None:
        self.argv, self.env, self.preload = argv, env, preload
        self.digest: str | None = None
        self._checked = threading.Event()
        self._closing = False
        self._launched = threading.Event()  # the keeper has started the process (or failed to)
        self._started = False
        if digest is not LATER:
            self.check(digest)  # type: ignore[arg-type]
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.problem = ""
        self._ready = threading.Event()
        self._gone = threading.Event()
        self._lock = threading.Lock()
        self._statuses: dict[int, int] = {}
        self._done: dict[int, threading.Event] = {}
        self._next = 0
        self.entered = self.failed = 0  # children that entered their sandbox / could not
        self.entry_problem = ""  # what the first one that could not said
        self._given_up = False

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and not self._gone.is_set() and not self._given_up

    def note_entry(self, entered: bool, said: str = "") -> None:
        """What a caller saw of one child: it entered its sandbox (its first frame came), or it
        could not (``said``: what it printed). After :data:`GIVE_UP_AFTER` failures and no
        success the server is no longer offered: each notebook would pay a failed try first."""
        with self._lock:
            if entered:
                self.entered += 1
                return
            self.failed += 1
            self.entry_problem = self.entry_problem or said.strip()[-300:]  # the first that says why
            if not self.entered and self.failed >= GIVE_UP_AFTER:
                self._given_up = True

    def report(self) -> str:
        """One line for the batch's summary when the server did not start every notebook it was
        asked to ('' when it did): grading was slower, the scores are the same."""
        if self.failed:
            given_up = f"; given up after {self.failed} tries" if self._given_up else ""
            return (f"the fork server could not start {self.failed} process(es) in their sandbox, so they "
                    f"started fresh ({self.entry_problem or 'it did not say why'}{given_up})")
        if not self.entered and (self.problem or not self._ready.is_set() or self._gone.is_set()):
            return f"the fork server was not used ({self.problem or 'it did not start'}): runners started fresh"
        return ""

    def wait_ready(self, timeout: float) -> bool:
        """Wait while the server is still importing (a runner started meanwhile would import the
        same modules on the same cores); ``False`` at once if it failed or refused."""
        self._ready.wait(timeout)  # also set when the server is gone
        return self.ready

    def check(self, digest: str | None) -> None:
        """The digest of the package the batch froze: the server compares its own imports with
        it before it says ready (``None``: no frozen copy to compare with)."""
        self.digest = digest
        self._checked.set()

    def start(self) -> None:
        """Start the server from its own thread (the server dies with the thread that started it)."""
        self._started = True
        threading.Thread(target=self._keep, name="forkserver", daemon=True).start()

    def _keep(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(self.argv, env={**self.env, FD_ENV: str(theirs.fileno())}, cwd="/",
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, pass_fds=(theirs.fileno(),),
                                         start_new_session=True)
            theirs.close()
            self.sock = ours
            self._launched.set()
            ours.send(json.dumps({"preload": self.preload}).encode())
            self._checked.wait()
            if self._closing:
                return
            ours.send(json.dumps({"digest": self.digest}).encode())
            while True:
                data = ours.recv(MAX_MESSAGE)
                if not data:
                    break
                message = json.loads(data)
                if message.get("type") == "ready":
                    self._ready.set()
                elif message.get("type") == "refused":
                    self.problem = str(message.get("problem"))[:300]
                    break
                elif type(message.get("id")) is int:
                    self._statuses[message["id"]] = int(message.get("status", FAILED_ENTRY))
                    event = self._done.get(message["id"])
                    if event:
                        event.set()
        except (OSError, ValueError) as exc:
            self.problem = self.problem or f"{type(exc).__name__}: {exc}"
        finally:
            self._launched.set()
            self._gone.set()
            self._ready.set()  # wakes wait_ready; `ready` stays false
            for event in list(self._done.values()):
                event.set()

    def spawn(self, target: int, groups: list[str], env: dict[str, str], cwd: str, fds: list[int],
              main: str = "runner") -> int:
        """Ask for a runner (``main="evaluator"``: the phase-2 evaluator) inside the sandbox whose
        placeholder is ``target``; its job id."""
        with self._lock:
            if not self.ready or self.sock is None:
                raise ForkServerUnavailable(self.problem or "the fork server is not ready")
            self._next += 1
            job_id = self._next
            self._done[job_id] = threading.Event()
            message = {"id": job_id, "target": target, "groups": groups, "env": env, "cwd": cwd, "main": main}
            try:
                socket.send_fds(self.sock, [json.dumps(message).encode()], fds)
            except OSError as exc:
                self._done.pop(job_id, None)
                raise ForkServerUnavailable(f"the fork server is gone: {exc}") from None
        return job_id

    def status(self, job_id: int) -> int | None:
        if job_id in self._statuses:
            return self._statuses[job_id]
        return -signal.SIGKILL if self._gone.is_set() else None

    def wait(self, job_id: int, timeout: float | None) -> int | None:
        event = self._done.get(job_id)
        if event is not None:
            event.wait(timeout)
        return self.status(job_id)

    def forget(self, job_id: int) -> None:
        self._done.pop(job_id, None)
        self._statuses.pop(job_id, None)

    def shutdown(self) -> None:
        self._closing = True
        self._checked.set()
        if self._started:
            self._launched.wait(10)  # a server shut down as it starts is still stopped and reaped
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.sock is not None:
            self.sock.close()


def for_sandbox(sandbox) -> ForkServer:
    """The fork server for runners in ``sandbox`` (a :class:`course.grading.sandbox.Sandbox`),
    not started yet."""
    from course.grading.process import PRELOAD

    return ForkServer(sandbox.python_command("course.grading.forkserver"), sandbox.env({}), PRELOAD)


def prestart() -> ForkServer | None:
    """A fork server started before the batch has read its course, waiting for the package
    digest (:meth:`ForkServer.check`): ``course grade`` starts it first, so its imports run on
    the second core while the command imports nbgrader (about a second here). ``None`` where
    it would not be used: no bubblewrap, or ``COURSE_FORKSERVER=off``."""
    from course.errors import SandboxUnavailable
    from course.grading.sandbox import Sandbox

    if not enabled():
        return None
    try:
        server = for_sandbox(Sandbox(Path("/"), enabled=True))
    except SandboxUnavailable:
        return None
    server.start()
    return server


class Injected:
    """A runner started by the fork server, with the interface :class:`subprocess.Popen` gives
    the session (``stdin``, ``stdout``, ``poll``, ``wait``, ``kill``, ``returncode``)."""

    def __init__(self, server: ForkServer, stub: subprocess.Popen, job_id: int, stdin_fd: int, out_fd: int) -> None:
        self.server, self.stub, self.job_id = server, stub, job_id
        self.stdin = os.fdopen(stdin_fd, "wb")
        self.stdout = os.fdopen(out_fd, "rb")
        self.returncode: int | None = None

    def _finish(self, status: int) -> int:
        self.returncode = status
        self.kill()  # whatever the notebook left running dies with its sandbox
        self.stub.wait()
        self.server.forget(self.job_id)
        return status

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        status = self.server.status(self.job_id)
        return None if status is None else self._finish(status)

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is not None:
            return self.returncode
        status = self.server.wait(self.job_id, timeout)
        if status is None:
            raise subprocess.TimeoutExpired("runner", timeout or 0)
        return self._finish(status)

    def kill(self) -> None:
        try:
            self.stub.kill()  # bwrap: the sandbox's PID namespace, the runner in it, dies with it
        except ProcessLookupError:
            pass


def launch(server: ForkServer, argv: list[str], env: dict[str, str], cwd: str, groups: list[str],
           channel_fd: int, timeout: float, main: str = "runner") -> Injected:
    """Start the sandbox ``argv`` (ending in :data:`STUB`) and the server's runner (or, with
    ``main="evaluator"``, the evaluator) inside it."""
    stub = subprocess.Popen(argv, cwd="/", env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    assert stub.stdout is not None
    try:
        said = b""
        sel = selectors.DefaultSelector()
        sel.register(stub.stdout, selectors.EVENT_READ)
        end = time.monotonic() + timeout
        while b"ready\n" not in said and time.monotonic() < end:
            if sel.select(timeout=max(0.0, end - time.monotonic())):
                chunk = os.read(stub.stdout.fileno(), 4096)
                if not chunk:
                    break
                said += chunk
        sel.close()
        if b"ready\n" not in said:
            raise ForkServerUnavailable(f"the sandbox did not start: {said.decode(errors='replace')[-300:]}")
        target = _descendants_leaf(stub.pid)  # the server's child checks it is a sandbox's
        stdin_r, stdin_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            job_id = server.spawn(target, groups, env, cwd, [stdin_r, out_w, channel_fd], main)
        except BaseException:
            for fd in (stdin_w, out_r):
                os.close(fd)
            raise
        finally:
            os.close(stdin_r)
            os.close(out_w)
    except BaseException:
        stub.kill()
        stub.wait()
        stub.stdout.close()
        raise
    stub.stdout.close()
    return Injected(server, stub, job_id, stdin_w, out_r)


if __name__ == "__main__":
    serve(socket.socket(fileno=int(os.environ.pop(FD_ENV))))
    sys.exit(0)
