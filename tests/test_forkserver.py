"""The fork server's runners (issue 17): forked from one pre-imported process into each
notebook's own sandbox, they must see exactly what a freshly started runner sees, and grading
must go on the ordinary way when the server is not there."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest

from course.grading import batch, forkserver
from course.grading.pool import start_forkserver
from course.grading.process import PRELOAD, Evaluator, StartFailure, StudentSession
from course.grading.sandbox import Limits, Sandbox
from tests import grading_kit as kit
from tests.support import REQUIRE_SANDBOX_ENV, ROOT, required

A = kit.ASSIGNMENT
pytestmark = pytest.mark.sandbox

#: Everything a sandboxed process can find out about its confinement, printed as JSON.
FACTS = '''
import json, os, re, resource, socket, sys
import numpy as _np
_status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
_mounts = sorted({l.split()[4] + " " + l.split(" - ")[0].split()[5].split(",")[0] for l in open("/proc/self/mountinfo")})
_others = sorted(open(f"/proc/{p}/comm").read().strip() for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid())
print(json.dumps({
    "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), sorted(os.getgroups())],
    "status": {k: _status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")},
    "tty": os.path.exists("/dev/tty") and __import__("subprocess").run(["sh", "-c", "exec 3</dev/tty"]).returncode == 0,
    "root": sorted(os.listdir("/")), "cwd": os.getcwd(), "tmp": sorted(os.listdir("/tmp")),
    "fds": sorted(os.listdir("/proc/self/fd")),
    "mounts": _mounts,
    "cgroup": [re.sub(r"job[0-9]+", "job", l) for l in open("/proc/self/cgroup").read().splitlines()],
    "net": socket.if_nameindex(), "host": socket.gethostname(),
    "limits": {n: resource.getrlimit(getattr(resource, n)) for n in ("RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_CORE", "RLIMIT_NOFILE")},
    "env": dict(os.environ), "path": sys.path, "isolated": sys.flags.isolated,
    "course_root_visible": os.path.exists(COURSE_ROOT),
    "others": _others, "draw": _np.random.random(),
}))
'''


def _facts(course, students: list[str]) -> dict[str, dict]:
    found = {}
    for student in students:
        nb = nbformat.read(course.autograded(student, A) / f"{A}.ipynb", as_version=4)
        texts = [o.get("text", "") for c in nb.cells if c.cell_type == "code" and "COURSE_ROOT" in c.source
                 for o in c.get("outputs", []) if o.get("output_type") == "stream"]
        assert texts, f"{student}: the facts cell printed nothing: {[c.get('outputs') for c in nb.cells][:3]}"
        found[student] = json.loads(texts[0])
    return found


@pytest.fixture(scope="module")
def both_ways(tmp_path_factory):
    """The same class graded with the fork server and without: scores and what each runner saw."""
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_VARIANTS", "off")
    course = kit.make_course(tmp_path_factory.mktemp("forkserver"))
    students = ["s1", "s2", "s3", "s4"]
    facts_cell = f"COURSE_ROOT = {str(course.root)!r}\n" + FACTS
    for student in students:
        kit.submit(course, student, kit.with_cell(kit.reference(course), facts_cell))
    seen, scores, best = {}, {}, 0.0
    for mode in ("off", "on"):
        mp.setenv(forkserver.SWITCH_ENV, mode)
        result = batch.grade(course, A, batch.Options(jobs=2))
        assert all(nb.status == "graded" for o in result.outcomes for nb in o.notebooks), result.outcomes
        assert result.note == "", result.note  # nothing started the slow way behind the fork server's back
        seen[mode] = _facts(course, students)
        scores[mode] = {o.student: ([nb.scores for nb in o.notebooks], o.auto_score) for o in result.outcomes}
        best = result.max_auto  # from the gradebook: the points of every autograded test
    yield seen, scores, best
    mp.undo()


def test_a_forked_runner_sees_what_a_fresh_runner_sees(both_ways):
    """Identity, capabilities, mounts, descriptors, limits, environment, network, cgroup: field by
    field the same. Only the process list differs: the fork server's runner shares its sandbox
    with the placeholder ``sleep`` (which proves it was the forked one)."""
    seen, _, _ = both_ways
    for student in seen["off"]:
        fresh, forked = dict(seen["off"][student]), dict(seen["on"][student])
        assert "sleep" not in fresh.pop("others")
        assert "sleep" in forked.pop("others"), f"{student} was not started by the fork server"
        fresh.pop("draw"), forked.pop("draw")
        assert len(forked.pop("fds")) == len(fresh.pop("fds"))  # the channel's number differs, not their count
        assert forked == fresh, {k: (fresh[k], forked[k]) for k in fresh if forked.get(k) != fresh[k]} | {
            "env": {k: (fresh["env"].get(k), forked["env"].get(k)) for k in {*fresh["env"], *forked["env"]}
                    if fresh["env"].get(k) != forked["env"].get(k)}}
        assert forked["status"]["CapEff"] == forked["status"]["CapBnd"] == "0000000000000000"
        assert forked["status"]["NoNewPrivs"] == "1" and not forked["course_root_visible"]


def test_every_forked_runner_draws_its_own_random_numbers(both_ways):
    """numpy's global generator is reseeded in each child, not inherited from the server."""
    seen, _, _ = both_ways
    draws = [facts["draw"] for facts in seen["on"].values()]
    assert len(set(draws)) == len(draws), draws


def test_scores_are_the_same_with_and_without_the_fork_server(both_ways):
    """Reference answers (plus the facts cell): full marks both ways, and the same marks."""
    _, scores, best = both_ways
    assert scores["on"] == scores["off"]
    assert best > 0
    assert all(total == best for _, total in scores["on"].values()), scores["on"]


def _ready_server(sandbox: Sandbox) -> forkserver.ForkServer:
    """The batch's fork server for ``sandbox``, started and done importing."""
    server = start_forkserver(sandbox)
    assert server is not None and server.wait_ready(120), server and server.problem
    return server


def _reference_work(tmp_path: Path) -> tuple[Path, Path]:
    """A scratch course (its root) and a working folder holding its reference notebook."""
    course = kit.make_course(tmp_path / "c")
    work = tmp_path / "work"
    work.mkdir()
    nbformat.write(kit.reference(course), work / f"{A}.ipynb")
    return course.root, work


def _session(sandbox: Sandbox, work: Path, server) -> StudentSession:
    env = sandbox.env({})
    return StudentSession(sandbox, work, A, f"{A}.ipynb", env, sandbox.limits, None, server)


def test_a_dead_fork_server_means_the_ordinary_start(tmp_path):
    """Kill the server: the next notebook starts a fresh runner and is read as usual."""
    root, work = _reference_work(tmp_path)
    sandbox = Sandbox(root, limits=Limits())
    server = _ready_server(sandbox)
    session = _session(sandbox, work, server)
    assert session.injected
    doc, error = session.intake()
    session.close()
    assert error is None and doc["cells"]
    assert server.proc is not None
    server.proc.kill()
    server.proc.wait()
    deadline = time.monotonic() + 10
    while server.ready and time.monotonic() < deadline:
        time.sleep(0.05)
    session = _session(sandbox, work, server)
    assert not session.injected
    doc2, error = session.intake()
    session.close()
    assert error is None and doc2 == doc
    server.shutdown()


def test_the_server_refuses_a_package_that_changed(tmp_path):
    """A digest that is not the running package's: the server says so and forks nothing."""
    sandbox = Sandbox(ROOT, limits=Limits())
    server = forkserver.ForkServer(sandbox.python_command("course.grading.forkserver"), sandbox.env({}),
                                   PRELOAD, "not-the-digest")
    server.start()
    assert not server.wait_ready(120)
    assert "changed" in server.problem
    with pytest.raises(forkserver.ForkServerUnavailable):
        server.spawn(1, [], {}, "/", [])
    server.shutdown()


def test_the_server_never_starts_a_runner_outside_a_sandbox():
    """Asked to enter a host process (a PID that is not a sandbox's placeholder, e.g. reused),
    the child refuses before any runner starts; the notebook then starts afresh."""
    import os
    import subprocess

    sandbox = Sandbox(ROOT, limits=Limits())
    server = forkserver.ForkServer(sandbox.python_command("course.grading.forkserver"), sandbox.env({}), PRELOAD, None)
    server.start()
    assert server.wait_ready(120), server.problem
    host = subprocess.Popen(["sleep", "60"])
    pipes = [os.pipe() for _ in range(3)]
    try:
        job = server.spawn(host.pid, [], {}, "/", [pipes[0][0], pipes[1][1], pipes[2][1]])
        for fd in (pipes[0][0], pipes[1][1], pipes[2][1]):
            os.close(fd)
        assert server.wait(job, 60) == forkserver.FAILED_ENTRY
        said = os.read(pipes[1][0], 4096)
        assert b"not a sandbox" in said, said
        assert os.read(pipes[2][0], 4096) == b""  # no runner ever wrote a report
    finally:
        host.kill()
        host.wait()
        server.shutdown()


def test_a_forked_evaluator_sees_what_a_fresh_evaluator_sees():
    """The phase-2 evaluator forked from the same server into its own sandbox: field by field
    what a freshly started evaluator sees, apart from the placeholder ``sleep``."""
    sandbox = Sandbox(ROOT, limits=Limits())
    server = _ready_server(sandbox)
    job = {"cells": [{"i": 0, "role": "locked", "source": f"COURSE_ROOT = {str(ROOT)!r}\n" + FACTS}],
           "deadline": 120, "cell_timeout": 60}
    seen = {}
    try:
        for name, source in (("fresh", None), ("forked", server)):
            evaluator = Evaluator(sandbox, None, sandbox.limits, [], source)
            try:
                evaluator.start()
                assert isinstance(evaluator.proc, forkserver.Injected) == (source is not None)
                reply = evaluator.evaluate(dict(job), b"")
            finally:
                evaluator.shutdown()
            outputs = reply["cells"]["0"]["outputs"]
            assert outputs and outputs[0]["output_type"] == "stream", reply
            seen[name] = json.loads(outputs[0]["text"])
    finally:
        server.shutdown()
    fresh, forked = seen["fresh"], seen["forked"]
    assert "sleep" not in fresh.pop("others") and "sleep" in forked.pop("others")
    fresh.pop("draw"), forked.pop("draw")
    assert len(forked.pop("fds")) == len(fresh.pop("fds"))
    assert forked == fresh, {k: (fresh[k], forked[k]) for k in fresh if forked.get(k) != fresh[k]}
    assert forked["status"]["CapEff"] == "0000000000000000"


def test_a_prestarted_server_waits_for_the_batch_and_is_used_only_if_it_fits(tmp_path):
    """``course grade`` starts its server before it knows the batch: the server says ready only
    once it has the frozen package's digest (and refuses a wrong one); a batch adopts it only
    when it is the server the batch would start, and shuts it down otherwise."""
    sandbox = Sandbox(ROOT, limits=Limits())
    early = forkserver.prestart()
    assert early is not None
    try:
        assert start_forkserver(sandbox, early) is early  # same command, environment, preloads
        assert early.wait_ready(120), early.problem
    finally:
        early.shutdown()

    wrong = forkserver.prestart()
    assert wrong is not None
    wrong.check("not-the-digest")
    assert not wrong.wait_ready(120) and "changed" in wrong.problem
    wrong.shutdown()

    other = forkserver.ForkServer(sandbox.python_command("course.grading.forkserver"), sandbox.env({}), ["numpy"])
    other.start()
    server = start_forkserver(sandbox, other)
    try:
        assert server is not None and server is not other
        assert other.proc is not None and other.proc.poll() is not None  # shut down, not left running
        assert server.wait_ready(120), server.problem
    finally:
        server.shutdown()

    unsandboxed = forkserver.prestart()
    assert unsandboxed is not None
    assert start_forkserver(Sandbox(ROOT, enabled=False), unsandboxed) is None
    assert unsandboxed.proc is not None and unsandboxed.proc.poll() is not None


def test_an_evaluator_the_server_cannot_start_is_started_fresh():
    """Where the server's child cannot enter the evaluator's sandbox (on a hub whose grader is
    not root, bubblewrap nests user namespaces the child may not join), the forked evaluator
    dies before it is ready: the job runs in a fresh evaluator at once, and later ones too."""

    class NoSandboxForTheStub(Sandbox):
        def evaluator_command(self, files, command=None):  # the placeholder runs on the host
            return (list(command), "/") if command else super().evaluator_command(files)

    sandbox = NoSandboxForTheStub(ROOT, limits=Limits())
    server = _ready_server(sandbox)
    evaluator = Evaluator(sandbox, None, sandbox.limits, [], server)
    job = {"cells": [{"i": 0, "role": "locked", "source": "print(6 * 7)"}], "deadline": 120, "cell_timeout": 60}
    try:
        replies = [evaluator.evaluate(dict(job), b""), evaluator.evaluate(dict(job), b"")]
        assert not isinstance(evaluator.proc, forkserver.Injected) and evaluator.forkserver is None
    finally:
        evaluator.shutdown()
        server.shutdown()
    for reply in replies:
        assert "error" not in reply, reply
        assert reply["cells"]["0"]["outputs"][0]["text"] == "42\n"
    assert server.failed == 1 and "could not start 1 process" in server.report(), server.report()


def test_a_server_whose_children_cannot_enter_is_given_up_and_reported(tmp_path):
    """Every forked runner fails to enter its sandbox (here its placeholder is a host process,
    which the child refuses): each notebook still gets a fresh runner and the same result, and
    after a few such tries the server is no longer offered, so later notebooks do not pay a
    failed try first. The batch's note says why."""

    class HostPlaceholder(Sandbox):
        def student_command(self, workdir, assignment, module="course.sandboxed.runner", command=None):
            return (list(command), "/") if command else super().student_command(workdir, assignment, module)

    root, work = _reference_work(tmp_path)
    sandbox = HostPlaceholder(root, limits=Limits())
    server = _ready_server(sandbox)
    injected, docs = [], []
    try:
        for _ in range(forkserver.GIVE_UP_AFTER + 1):
            session = _session(sandbox, work, server)
            injected.append(session.injected)
            doc, error = session.intake()
            session.close()
            assert error is None and doc["cells"]
            docs.append(doc)
    finally:
        server.shutdown()
    assert injected == [True] * forkserver.GIVE_UP_AFTER + [False]
    assert all(doc == docs[0] for doc in docs)
    assert not server.ready and server.entered == 0 and server.failed == forkserver.GIVE_UP_AFTER
    note = server.report()
    assert "not a sandbox" in note and f"given up after {forkserver.GIVE_UP_AFTER}" in note, note


#: Run as an account that is not root, with the system's Python and only this module: join the
#: placeholder's sandbox as the server's child does, then report from inside its PID namespace.
ENTER_AS_USER = '''
import ctypes, importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("forkserver", sys.argv[1])
fs = importlib.util.module_from_spec(spec); spec.loader.exec_module(fs)
libc = ctypes.CDLL(None, use_errno=True)
read, write = os.pipe()
if os.fork() == 0:
    try:
        fs._enter(libc, int(sys.argv[2]), [], int(open("/proc/sys/kernel/cap_last_cap").read()))
        if os.fork() == 0:
            status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
            os.write(write, json.dumps({"ns": {n: os.stat(f"/proc/self/ns/{n}").st_ino for n in fs.NAMESPACES},
                                        "pid": os.getpid(), "uid": os.getuid(), "host": os.uname().nodename,
                                        "caps": status["CapEff"].strip(), "nnp": status["NoNewPrivs"].strip()}).encode())
            os._exit(0)
        os._exit(os.waitstatus_to_exitcode(os.wait()[1]))
    except OSError as exc:
        os.write(write, json.dumps({"error": str(exc)}).encode())
        os._exit(1)
os.close(write)
print(os.read(read, 65536).decode())
'''


def _descendant(pid: int, comm: str) -> int:
    """The first process named ``comm`` below ``pid`` (breadth first)."""
    import subprocess

    queue = [pid]
    while queue:
        parent = queue.pop(0)
        children = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout.split()
        for child in map(int, children):
            if Path(f"/proc/{child}/comm").read_text().strip() == comm:
                return child
            queue.append(child)
    raise LookupError(f"no {comm} below {pid}")


def test_a_grader_that_is_not_root_enters_the_sandbox_it_started():
    """A hub's grader is an ordinary account: bubblewrap run by it makes the sandbox's user
    namespace inside another one that owns the rest. The server's child must still join every
    namespace (that owner first), end up as the sandbox's user, and hold no capability."""
    import os
    import shutil
    import subprocess
    import tempfile

    if os.geteuid() != 0 or not shutil.which("runuser") or not Path("/usr/bin/python3").exists():
        message = "needs root (to act as another account), runuser and the system's python3"
        if required(REQUIRE_SANDBOX_ENV):  # CI runs as root on Debian: there it must run
            pytest.fail(f"{message}, and {REQUIRE_SANDBOX_ENV}=1 requires it", pytrace=False)
        pytest.skip(message)
    user, bwrap = "nobody", shutil.which("bwrap")
    assert bwrap
    folder = Path(tempfile.mkdtemp(prefix="forkserver-"))  # readable by that account
    folder.chmod(0o755)
    module = folder / "forkserver.py"
    shutil.copy(forkserver.__file__, module)
    module.chmod(0o644)
    placeholder = subprocess.Popen(
        ["runuser", "-u", user, "--", bwrap, "--unshare-all", "--die-with-parent", "--unshare-user",
         "--uid", "1000", "--gid", "1000", "--hostname", "sandbox", "--ro-bind", "/", "/", "--proc", "/proc",
         "--dev", "/dev", *forkserver.STUB], stdout=subprocess.PIPE)
    try:
        assert placeholder.stdout is not None and placeholder.stdout.readline() == b"ready\n"
        target = _descendant(placeholder.pid, "sleep")
        want = {name: os.stat(f"/proc/{target}/ns/{name}").st_ino for name in forkserver.NAMESPACES}
        proc = subprocess.run(["runuser", "-u", user, "--", "/usr/bin/python3", "-c", ENTER_AS_USER, str(module),
                               str(target)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        seen = json.loads(proc.stdout)
        assert "error" not in seen, seen
        assert seen["ns"] == want
        assert seen["uid"] == 1000 and seen["host"] == "sandbox" and seen["pid"] > 1  # in its PID namespace
        assert seen["caps"] == "0000000000000000" and seen["nnp"] == "1"
    finally:
        placeholder.kill()
        placeholder.wait()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_runner_that_dies_after_entering_does_not_count_against_the_server(tmp_path):
    """Only the child's own report of a failed entry counts towards giving the server up: a
    runner that entered and then died without reading its notebook (here: no hello at all, so
    it exits as a crash would) is started fresh, as before, and leaves the server offered."""

    class Garbled(StudentSession):
        def _send(self, header):
            if "notebook" in header:  # the hello: none comes, the runner reads end of file
                self.proc.stdin.close()
            else:
                super()._send(header)

    root, work = _reference_work(tmp_path)
    sandbox = Sandbox(root, limits=Limits())
    server = _ready_server(sandbox)
    try:
        for _ in range(forkserver.GIVE_UP_AFTER):
            session = Garbled(sandbox, work, A, f"{A}.ipynb", sandbox.env({}), sandbox.limits, None, server)
            assert session.injected
            with pytest.raises(StartFailure):
                session.intake()
            session.close()
        assert server.failed == 0 and server.ready and server.report() == ""
    finally:
        server.shutdown()
