"""Sizing a course hub: memory per student kernel after each case's solution runs, and time from
spawn to the first cell output.

    sudo .venv/bin/python benchmarks/hub_sizing.py                 # every case, one student each
    sudo .venv/bin/python benchmarks/hub_sizing.py --case case02_logistics --repeat 3

It brings up the same one-machine hub as ``tests/hub`` (real accounts, PostgreSQL, the proxy,
``deploy/onemachine/jupyterhub_config.py`` with per-user cgroup limits), and for each case, for a
fresh student server each time:

1. asks the hub to spawn the server (what the hub's "Start My Server" does) and starts a kernel
   through the server's REST API, then sends the case's setup cell; **time to first output** is
   from the spawn request to the first output message of that cell (server start, kernel start,
   imports, the data variant);
2. runs every code cell of the case's *solution* notebook (source version: the answers
   filled in) on that student's own data, then reads the kernel's **resident memory** (VmRSS and
   its proportional share, Pss, from /proc) and the whole user's cgroup usage (server + kernel).

Prints a table and a Markdown table for ``docs/deploy.md``. Everything is removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402
from tornado.httpclient import HTTPRequest  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

from course.hub.spawner import UserCgroups  # noqa: E402
from course.layout import Course  # noqa: E402
from tests.hub import services  # noqa: E402

MiB = 1024 * 1024


def _message(code: str) -> dict:
    return {
        "header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "sizing",
                   "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }


async def _execute(ws, code: str, first_output: list[float] | None = None) -> str | None:
    """Run ``code``; return the error name if it failed. Records the first output's time."""
    msg = _message(code)
    await ws.write_message(json.dumps(msg))
    error = None
    while True:
        raw = await asyncio.wait_for(ws.read_message(), timeout=900)
        if raw is None:
            raise RuntimeError("the kernel's websocket closed")
        reply = json.loads(raw)
        if reply.get("parent_header", {}).get("msg_id") != msg["header"]["msg_id"]:
            continue
        kind = reply["header"]["msg_type"]
        if kind in ("stream", "display_data", "execute_result") and first_output is not None and not first_output:
            first_output.append(time.monotonic())
        if kind == "error":
            error = reply["content"]["ename"]
        if kind == "status" and reply["content"]["execution_state"] == "idle":
            return error


def _kernel_memory(uid: int) -> tuple[int, int]:
    """(VmRSS, Pss) in bytes of the user's ipykernel process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid or b"ipykernel" not in (entry / "cmdline").read_bytes():
                continue
            status = (entry / "status").read_text()
            rss = int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS:")).split()[1]) * 1024
            rollup = (entry / "smaps_rollup").read_text()
            pss = int(next(ln for ln in rollup.splitlines() if ln.startswith("Pss:")).split()[1]) * 1024
            return rss, pss
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    raise RuntimeError(f"no kernel process of uid {uid}")


async def measure(dep: services.Deployment, student: str, case: str) -> dict:
    import pwd
    import urllib.request

    hub = dep.hub
    token = hub.api("POST", f"/users/{student}/tokens", {"note": "sizing", "expires_in": 3600})["token"]
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
    start = time.monotonic()
    hub.api("POST", f"/users/{student}/server")
    while not hub.api("GET", f"/users/{student}")["servers"].get("", {}).get("ready"):
        await asyncio.sleep(0.2)
    spawned = time.monotonic()
    base = f"{hub.url}/user/{student}"
    request = urllib.request.Request(f"{base}/api/kernels", data=b"{}", method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=120) as response:
        kernel = json.loads(response.read())
    ws_url = base.replace("http://", "ws://") + f"/api/kernels/{kernel['id']}/channels"
    ws = await websocket_connect(HTTPRequest(ws_url, headers=headers))
    nb = nbformat.read(ROOT / "source" / case / f"{case}.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    first: list[float] = []
    errors = []
    for index, source in enumerate(code):
        error = await _execute(ws, source, first if index == 0 else None)
        if error:
            errors.append(error)
    done = time.monotonic()
    uid = pwd.getpwnam(student).pw_uid
    rss, pss = _kernel_memory(uid)
    total = UserCgroups().memory_usage(student)
    ws.close()
    hub.api("DELETE", f"/users/{student}/server")
    while hub.api("GET", f"/users/{student}")["servers"]:
        await asyncio.sleep(0.5)
    return {
        "case": case, "student": student, "spawn_s": spawned - start,
        "first_output_s": (first[0] - start) if first else float("nan"), "run_s": done - spawned,
        "kernel_rss_mib": rss / MiB, "kernel_pss_mib": pss / MiB,
        "user_total_mib": (total or 0) / MiB, "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", action="append", help="only these cases (repeatable); default: all")
    parser.add_argument("--repeat", type=int, default=1, help="fresh servers per case (alternating students)")
    args = parser.parse_args()
    cases = args.case or Course.load(ROOT).assignments()
    dep = services.deploy()
    results = []
    try:
        dep.hub.start()
        for case in cases:
            for i in range(args.repeat):
                student = services.STUDENTS[i % len(services.STUDENTS)]
                result = asyncio.run(measure(dep, student, case))
                results.append(result)
                print(json.dumps(result), flush=True)
    finally:
        services.teardown(dep)
    print("\n| case | spawn (s) | first output after spawn request (s) | solution run (s) | kernel RSS (MiB) | kernel PSS (MiB) | user total (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['case']} | {r['spawn_s']:.1f} | {r['first_output_s']:.1f} | {r['run_s']:.1f} | "
              f"{r['kernel_rss_mib']:.0f} | {r['kernel_pss_mib']:.0f} | {r['user_total_mib']:.0f} |")
    failed = [r for r in results if r["errors"]]
    if failed:
        print(f"\nsolution cells failed in: {[(r['case'], r['errors']) for r in failed]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
