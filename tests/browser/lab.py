"""JupyterLab for the browser tests: a scratch course, a local exchange and a Lab server.

Layout of one session (all under pytest's temporary directory)::

    home/               JupyterLab's root: the student's home, where assignments are fetched
    home/course/        the instructor's course root (a copy of source/, release/, config)
    exchange/           nbgrader's exchange (release, submit, collect go through it)
    jupyter/            JUPYTER_CONFIG_DIR, data, runtime, Lab settings and workspaces

Student and instructor are the same OS user, which nbgrader's exchange supports. Nothing
outside the temporary directory is read or written (the user's ~/.jupyter is left alone).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from course.layout import Course

COURSE_ID = "bizcases"

#: Debian's Chromium; ``COURSE_CHROMIUM`` points the tests at another Chromium build.
CHROMIUM_ENV = "COURSE_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Environment variables that would change what the kernel or the checks do.
_SCRUBBED_ENV = ("COURSE_STUDENT_ID", "JUPYTERHUB_USER", "COURSE_VARIANTS", "COURSE_PLOTLY_RENDERER")

#: Lab settings for a quiet, deterministic session (no news or update pop-ups).
_LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

# Generate and release every assignment with nbgrader's own API (what the formgrader's buttons
# and `nbgrader generate_assignment` / `release_assignment` run), in one process: one nbgrader
# start-up instead of two per assignment. Prints one JSON line: {assignment: error or ""}.
_RELEASE_SCRIPT = """
import json, sys
from nbgrader.apps import NbGrader
from nbgrader.apps.api import NbGraderAPI
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory

app = NbGrader()
app.load_config_file()
api = NbGraderAPI(CourseDirectory(config=app.config), Authenticator(config=app.config),
                  config=app.config)
results = {}
for name in sys.argv[1:]:
    error = ""
    for step in (api.generate_assignment, api.release_assignment):
        result = step(name)
        if not result["success"]:
            error = f"{step.__name__} failed:\\n{result.get('log', '')}\\n{result.get('error', '')}"
            break
    results[name] = error
print(json.dumps(results))
"""


def chromium_path() -> Path:
    return Path(os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Session:
    """Paths and environment of one browser-test session."""

    base: Path
    home: Path
    course: Path
    exchange: Path
    env: dict[str, str]

    @property
    def log(self) -> Path:
        return self.base / "jupyterlab.log"


def make_session(root: Path, base: Path) -> Session:
    """A scratch course with its own nbgrader config and a private Jupyter configuration."""
    home = base / "home"
    course = Course.load(root).copy_to(home / "course").root
    exchange = base / "exchange"
    exchange.mkdir(parents=True)
    exchange.chmod(0o777)  # nbgrader wants a world-writable exchange root
    jupyter = base / "jupyter"
    config_dir = jupyter / "config"
    config_dir.mkdir(parents=True)

    additions = f"""
# --- browser tests: scratch course, local exchange, student home ---
c.CourseDirectory.course_id = {COURSE_ID!r}
c.CourseDirectory.root = {str(course)!r}
c.CourseDirectory.db_url = {"sqlite:///" + str(course / "gradebook.db")!r}
c.Exchange.root = {str(exchange)!r}
c.Exchange.cache = {str(base / "exchange-cache")!r}
c.Exchange.assignment_dir = {str(home)!r}
"""
    with (course / "nbgrader_config.py").open("a", encoding="utf-8") as handle:
        handle.write(additions)
    # The student side (assignment list, validate) loads config from the Jupyter config path
    # and from the folder it works in; the same lines there make fetch/submit find the exchange.
    (config_dir / "nbgrader_config.py").write_text("c = get_config()  # noqa: F821\n" + additions)

    settings_dir = jupyter / "lab-settings"
    for rel, value in _LAB_SETTINGS.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))

    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.update(
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(jupyter / "data"),
        JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
        JUPYTERLAB_WORKSPACES_DIR=str(jupyter / "workspaces"),
        IPYTHONDIR=str(jupyter / "ipython"),
        # the kernel imports this checkout's `course` package, whatever else is installed
        PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return Session(base=base, home=home, course=course, exchange=exchange, env=env)


def release(session: Session, assignments: list[str]) -> dict[str, str]:
    """Generate and release the assignments to the exchange; return {assignment: error}."""
    proc = subprocess.run(
        [sys.executable, "-c", _RELEASE_SCRIPT, *assignments],
        cwd=session.course,
        env=session.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"releasing the assignments failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(lines[-1])


class LabServer:
    """``jupyter lab`` on loopback with a token, serving the session's home folder."""

    def __init__(self, session: Session):
        self.session = session
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log = session.log.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter", "lab",
                "--no-browser",
                "--allow-root",
                "--ip=127.0.0.1",
                f"--port={self.port}",
                "--port-retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={session.home}",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--ServerApp.shutdown_no_activity_timeout=0",
            ],
            cwd=session.course,  # the formgrader reads the course's nbgrader_config.py from here
            env=session.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early; log:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        raise RuntimeError(f"jupyter lab did not start within {timeout} s; log:\n{self.log_tail()}")

    def log_tail(self, chars: int = 6000) -> str:
        self._log.flush()
        return self.session.log.read_text(encoding="utf-8", errors="replace")[-chars:]

    def url(self, workspace: str, path: str | None = None) -> str:
        """A Lab URL with a fresh, named workspace (no layout carried over between tests)."""
        tree = f"/tree/{path}" if path else ""
        return f"{self.base_url}/lab/workspaces/{workspace}{tree}?token={self.token}"

    def api(self, method: str, path: str, body: dict | None = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel a test left running (keeps memory and CPU free for the next)."""
        for session in self.api("GET", "/api/sessions") or []:
            self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.api("GET", "/api/kernels") or []:
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()
